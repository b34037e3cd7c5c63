"""Checks for the options every middleware takes, in one place.

Options are checked when an instance is made (architecture §1, §4.6): a value of
the wrong kind fails there, with a message that says what to pass, never at
the first request.
"""

from __future__ import annotations

import logging

__all__ = ["flag", "logger_option"]


def flag(option: str, value: object) -> bool:
    """A True/False option. Only a real bool: ``debug="false"`` read from an
    environment variable is a string, and a string must not switch on a
    debug page."""
    if type(value) is not bool:
        raise TypeError(f"{option} must be True or False, got {value!r}")
    return value


def logger_option(
    option: str, value: object, default: str
) -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """A logger option: a `logging.Logger` (or adapter), or None for ``default``."""
    if value is None:
        return logging.getLogger(default)
    if not isinstance(value, (logging.Logger, logging.LoggerAdapter)):
        hint = (
            f"logging.getLogger({value!r})"
            if isinstance(value, str)
            else "a logging.Logger"
        )
        raise TypeError(
            f"{option} must be a logging.Logger, e.g. {hint}; got {value!r}"
        )
    return value
