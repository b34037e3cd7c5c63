"""``python -m wsgimw check MODULE:ATTR``: see `wsgimw.check`."""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]

_USAGE = """usage: wsgimw check [-h] [--ini] [--app | --middleware] [-H 'NAME: VALUE'] [--json] target

commands:
  check   run a WSGI middleware, pipeline or app through wsgimw's fault matrix
          (wsgimw check -h for its options)
"""


def main(argv: Sequence[str] | None = None) -> int:
    """The ``wsgimw`` command: one subcommand, ``check``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        sys.stdout.write(_USAGE)
        return 0 if args else 2
    if args[0] != "check":
        sys.stderr.write(f"wsgimw: unknown command {args[0]!r}\n{_USAGE}")
        return 2
    from .check import main as check

    return check(args[1:])


if __name__ == "__main__":  # pragma: no cover - run as python -m wsgimw
    sys.exit(main())
