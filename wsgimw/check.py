"""Run a WSGI middleware, a pipeline or an app through wsgimw's fault matrix.

`check_middleware` runs every row of `wsgimw.testing.FAULTS` (and a
streaming row) through the layers with a `Lint` above, between and below
each one, and returns one `Verdict` per row: whether the contract held and,
when it did not, which layer broke it, which PEP 3333 rule, what happened
and what should have. `check_app` does the same for a finished app with a
few requests. ``python -m wsgimw check MODULE:ATTR`` (see `main`) prints
them as a table; the pytest plugin (`wsgimw.pytest_plugin`) turns them into
failure messages.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import logging
import os
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

from ._response import close_iterable
from .compose import Pipeline, _describe
from .testing import (
    FAULTS,
    Fault,
    Lint,
    LintError,
    Result,
    call_app,
    check_fault,
    make_environ,
)
from .types import Environ, ExcInfo, Headers, Middleware, StartResponse, Write, WSGIApp

__all__ = [
    "ROWS",
    "RULES",
    "Verdict",
    "check_app",
    "check_middleware",
    "check_row",
    "load_target",
    "main",
]

#: Each rule a check can find broken: what PEP 3333 (or wsgimw's reading of
#: it) says, and what should have happened instead.
RULES: dict[str, tuple[str, str]] = {
    "close-once": (
        "PEP 3333: if the iterable has a close() method, the server calls it "
        "once when the request ends, however it ends; a middleware that wraps "
        "the body must pass that call on",
        "the app's iterable closed exactly once, also when the server stops "
        "before the first chunk or the app raises",
    ),
    "exc-info": (
        "PEP 3333: start_response may be called again only with exc_info, "
        "and a middleware passes exc_info on unchanged",
        "a second start_response call carrying the app's exc_info",
    ),
    "status": (
        "PEP 3333: the status is a str such as '200 OK'",
        "a 'NNN Reason' str status",
    ),
    "latin-1": (
        "PEP 3333: status, headers and environ strings are native str that "
        "encode as latin-1",
        "latin-1 str values",
    ),
    "headers": (
        "PEP 3333: response headers are a list of (name, value) str tuples "
        "with no control characters",
        "a list of (str, str) tuples with valid names and values",
    ),
    "hop-by-hop": (
        "PEP 3333: an application or middleware must not send hop-by-hop "
        "headers (Connection, Transfer-Encoding, ...)",
        "no hop-by-hop header",
    ),
    "content-length": (
        "HTTP: Content-Length is the number of body bytes sent; a layer that "
        "changes the body fixes or removes it",
        "a Content-Length equal to the bytes sent, or none",
    ),
    "bytes": (
        "PEP 3333: body chunks and write() data are bytes",
        "bytes chunks",
    ),
    "start-before-body": (
        "PEP 3333: start_response is called before the first body byte",
        "start_response, then the body",
    ),
    "no-body": (
        "HTTP: a response to HEAD, and any 1xx, 204 or 304, has no body",
        "an empty body",
    ),
    "environ": (
        "PEP 3333: the environ is a dict of native str with the CGI and wsgi.* keys",
        "a complete environ",
    ),
    "iterable": (
        "PEP 3333: the application returns an iterable of bytes",
        "an iterable of bytes, not str or bytes itself",
    ),
    "error-reaches-server": (
        "PEP 3333: an error the application raises reaches the server "
        "unchanged (only an error handler may turn it into a 5xx before "
        "anything is sent)",
        "the app's own exception at the server, or a 5xx response from an "
        "error handler",
    ),
    "error-status": (
        "an error handler answers an error raised before any body byte with "
        "a 5xx, and keeps a finished response when only close() raised",
        "a 5xx response, or the finished 200",
    ),
    "same-response": (
        "PEP 3333: write() apps, generator apps and apps that start lazily "
        "are answered as the same body returned as an iterable",
        "the same status and body as the plain iterable app",
    ),
    "streaming": (
        "PEP 3333: middleware must not block: for each chunk the app yields, "
        "it yields at least one chunk (b'' allowed), so a stream stays a "
        "stream",
        "the server gets a chunk for each chunk the app yields, before the "
        "app is asked for the next one",
    ),
    "crash": (
        "a middleware survives every row of the fault matrix",
        "no exception of the layer's own",
    ),
}

#: What each row of the matrix does, in words.
_ROW_TEXT: dict[str, str] = {
    "iterable": "the app returns a closeable iterable",
    "list": "the app returns a list",
    "generator": "the app is a generator function",
    "lazy-start": "the app calls start_response at its first next()",
    "write": "the app sends its body through write()",
    "write-then-iterate": "the app writes one chunk, then yields the rest",
    "empty-body": "the app returns an empty body",
    "head": "a HEAD request",
    "no-content": "the app answers 204 No Content",
    "raise-before-start": "the app raises before start_response",
    "raise-after-start": "the app raises after start_response, before returning",
    "raise-at-first-chunk": "the app raises at its first chunk",
    "raise-mid-stream": "the app raises after two chunks were sent",
    "raise-in-close": "the app's close() raises",
    "lazy-raise-at-first-chunk": "a lazy app raises at its first chunk",
    "exc-info-before-body": "the app replaces its response via exc_info before any body",
    "exc-info-after-body": "the app calls start_response with exc_info after the body began",
    "exc-info-other-type-after-body": "as above, with an error page of another type",
    "server-closes-before-next": "the server closes the body before the first next()",
    "server-closes-mid-stream": "the server closes the body after one chunk",
    "streaming": "a stream of 8 chunks with no Content-Length, read one by one",
}

#: Every row `check_middleware` runs: the fault matrix and the streaming row.
ROWS: tuple[str, ...] = (*(fault.name for fault in FAULTS), "streaming")
_FAULTS = {fault.name: fault for fault in FAULTS}

#: What `check_app` sends a finished app: (row, method, chunks to read).
_APP_ROWS: tuple[tuple[str, str, int | None], ...] = (
    ("get", "GET", None),
    ("head", "HEAD", None),
    ("server-closes-before-next", "GET", 0),
    ("server-closes-mid-stream", "GET", 1),
)
_APP_TEXT = {
    "get": "a GET request, read to the end",
    "head": "a HEAD request",
    "server-closes-before-next": "the server closes the body before the first next()",
    "server-closes-mid-stream": "the server closes the body after one chunk",
}

_BROKEN_BY = re.compile(
    r"\A\[[^]]*\] (.*) \(broken by (.*), seen by Lint\(.*\)\)\Z", re.S
)
_STREAM_CHUNKS = 8


@dataclass(frozen=True)
class Verdict:
    """The outcome of one row: ``ok``, or the layer, rule and what happened.

    ``handled`` is True when the stack turned the app's error into a 5xx
    response, as an error handler should.
    """

    row: str
    ok: bool
    description: str
    layer: str = ""
    rule: str = ""
    happened: str = ""
    expected: str = ""
    handled: bool = False

    @property
    def pep(self) -> str:
        """What the broken rule says, or ``""`` when the row held."""
        return RULES[self.rule][0] if self.rule in RULES else ""

    def explain(self) -> str:
        """A failure message: the row, the layer, the rule, what happened and
        what should have."""
        if self.ok:
            return f"{self.row}: ok"
        return "\n".join(
            [
                f"wsgimw fault matrix, row {self.row!r}: {self.description}",
                f"  layer:    {self.layer}",
                f"  rule:     {self.rule}: {self.pep}",
                f"  happened: {self.happened}",
                f"  expected: {self.expected}",
            ]
        )


class _Linted:
    """Layers folded as `compose` does, with a `Lint` above, between and
    below every one, so a broken rule names its layer."""

    def __init__(self, layers: Sequence[Middleware]) -> None:
        self.layers = tuple(layers)
        self.names = [_describe(layer) for layer in self.layers]
        self.lints: list[Lint] = []

    def __repr__(self) -> str:
        return (
            self.names[0]
            if len(self.names) == 1
            else f"compose({', '.join(self.names)})"
        )

    def __call__(self, app: WSGIApp) -> WSGIApp:
        below = _describe(app)
        for layer, name in zip(
            reversed(self.layers), reversed(self.names), strict=True
        ):
            lint = Lint(above=name, below=below)
            self.lints.append(lint)
            app = layer(lint(app))
            below = name
        outer = Lint(above="the server", below=below)
        self.lints.append(outer)
        return outer(app)

    def first_violation(self) -> LintError | None:
        """The first rule broken inside the stack, in the order they broke,
        or a response some layer never closed."""
        broken = [error for lint in self.lints for error in lint.violations]
        if broken:
            return broken[0]
        for lint in self.lints:
            try:
                lint.verify()
            except LintError as error:
                return error
        return None


def _layers_of(target: Middleware | Sequence[Middleware]) -> tuple[Middleware, ...]:
    if isinstance(target, Pipeline):
        return target.layers
    if isinstance(target, (list, tuple)):
        return Pipeline(*target).layers
    return Pipeline(target).layers  # type: ignore[arg-type]


def _from_lint(row: str, error: LintError) -> Verdict:
    match = _BROKEN_BY.match(str(error))
    happened, layer = (match[1], match[2]) if match else (str(error), "?")
    return Verdict(
        row,
        False,
        _describe_row(row),
        layer=layer,
        rule=error.rule,
        happened=happened,
        expected=RULES.get(error.rule, ("", ""))[1],
    )


def _describe_row(row: str) -> str:
    return _ROW_TEXT.get(row) or _APP_TEXT.get(row, row)


def _rule_of(message: str) -> str:
    for pattern, rule in (
        ("unexpected", "crash"),
        ("closed", "close-once"),
        ("replaced", "exc-info"),
        ("not turned into a 5xx", "error-status"),
        ("became", "error-status"),
        ("differs from", "same-response"),
        ("holds the stream back", "streaming"),
    ):
        if pattern in message:
            return rule
    return "error-reaches-server"


def _attempt(
    layers: Sequence[Middleware],
    row: str,
    handles_errors: bool,
    environ_options: dict[str, object],
) -> tuple[Verdict, Result | None]:
    linted = _Linted(layers)
    description = _describe_row(row)
    try:
        if row == "streaming":
            result = _stream(linted, environ_options)
        else:
            result = check_fault(
                linted,
                _FAULTS[row],
                handles_errors=handles_errors,
                validate=False,
                **environ_options,  # type: ignore[arg-type]
            )
    except Exception as error:  # the row failed: find out where and why
        inner = linted.first_violation()
        if inner is not None:
            return _from_lint(row, inner), None
        if isinstance(error, AssertionError):
            # The first line: pytest may append its own explanation.
            message = str(error).partition("\n")[0].removeprefix(f"{row}: ")
            rule = _rule_of(message)
            verdict = Verdict(
                row,
                False,
                description,
                layer=repr(linted),
                rule=rule,
                happened=message,
                expected=RULES[rule][1],
            )
            return verdict, None
        return (
            Verdict(
                row,
                False,
                description,
                layer=repr(linted),
                rule="crash",
                happened=f"{type(error).__name__}: {error}",
                expected=RULES["crash"][1],
            ),
            None,
        )
    inner = linted.first_violation()
    if inner is not None:
        return _from_lint(row, inner), None
    return Verdict(row, True, description), result


def check_row(
    middleware: Middleware | Sequence[Middleware],
    row: str | Fault,
    *,
    handles_errors: bool | None = None,
    **environ_options: object,
) -> tuple[Verdict, Result | None]:
    """Run one row (a name in `ROWS` or a `Fault`) through ``middleware``
    (one layer, a `Pipeline` or a list of layers, outermost first).

    ``handles_errors=None`` accepts either right answer to an app that
    raises: its exception at the server, or a 5xx from an error handler.
    Returns the `Verdict` and, when the row held, the `Result` the server
    saw.
    """
    name = row.name if isinstance(row, Fault) else row
    if name not in ROWS:
        raise ValueError(f"unknown row {name!r}; choose one of {', '.join(ROWS)}")
    layers = _layers_of(middleware)
    verdict, result = _attempt(layers, name, bool(handles_errors), environ_options)
    if (
        handles_errors is None
        and not verdict.ok
        and verdict.rule == "error-reaches-server"
        and "swallowed" in verdict.happened
    ):
        handled, result = _attempt(layers, name, True, environ_options)
        verdict = (
            Verdict(name, True, verdict.description, handled=True)
            if handled.ok
            else handled
        )
    if not verdict.ok and len(layers) > 1 and verdict.layer == repr(_Linted(layers)):
        # Not caught between two layers: find the first that fails alone.
        for layer in layers:
            alone, _ = check_row(
                layer, name, handles_errors=handles_errors, **environ_options
            )
            if not alone.ok:
                verdict = Verdict(
                    name,
                    False,
                    verdict.description,
                    layer=alone.layer,
                    rule=verdict.rule,
                    happened=verdict.happened,
                    expected=verdict.expected,
                )
                break
    return verdict, result


def check_middleware(
    middleware: Middleware | Sequence[Middleware],
    *,
    handles_errors: bool | None = None,
    **environ_options: object,
) -> list[Verdict]:
    """Every row of `ROWS` through ``middleware``; see `check_row`."""
    return [
        check_row(middleware, row, handles_errors=handles_errors, **environ_options)[0]
        for row in ROWS
    ]


# -- the streaming row ---------------------------------------------------------


class _Stream:
    """A streaming app that counts how many chunks it was asked for."""

    def __init__(self) -> None:
        self.pulled = 0

    def __repr__(self) -> str:
        return "a streaming app"

    def __call__(
        self, environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
        return _StreamBody(self)


class _StreamBody:
    def __init__(self, app: _Stream) -> None:
        self._app = app

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self._app.pulled >= _STREAM_CHUNKS:
            raise StopIteration
        self._app.pulled += 1
        return b"line %d of a stream, worth compressing as text\n" % self._app.pulled

    def close(self) -> None:
        pass  # the Lint below every layer counts the calls


def _stream(linted: _Linted, environ_options: dict[str, object]) -> Result:
    app = _Stream()
    wrapped = linted(app)
    result = Result()

    def start_response(
        status: str, headers: Headers, exc_info: ExcInfo | None = None
    ) -> Write:
        result.status, result.headers = status, list(headers)
        return result.chunks.append

    iterable = wrapped(make_environ("/", **environ_options), start_response)  # type: ignore[arg-type]
    try:
        iterator = iter(iterable)
        for read in range(1, _STREAM_CHUNKS + 2):
            try:
                result.chunks.append(next(iterator))
            except StopIteration:
                break
            if app.pulled > read:
                raise AssertionError(
                    f"streaming: the app was asked for {app.pulled} chunks "
                    f"before the server had {read}: a layer holds the stream back"
                )
    finally:
        close_iterable(iterable)
    return result  # the Lints around every layer check the close


# -- finished apps -------------------------------------------------------------


def check_app(
    app: WSGIApp,
    *,
    name: str | None = None,
    allow_exc_info_none: bool = False,
    **environ_options: object,
) -> list[Verdict]:
    """Call a finished app through a `Lint` with a few requests (GET, HEAD,
    a server that closes early) and return a `Verdict` per request.
    ``name`` is how failures name the app."""
    verdicts = []
    name = name or _describe(app)
    for row, method, read in _APP_ROWS:
        lint = Lint(below=name, allow_exc_info_none=allow_exc_info_none)
        try:
            result = call_app(
                lint(app), "/", method=method, read=read, catch=True, **environ_options
            )
            lint.verify()
        except LintError as error:
            verdicts.append(_from_lint(row, error))
            continue
        if result.error is not None:  # a LintError was raised by verify()
            failure = result.error
            verdicts.append(
                Verdict(
                    row,
                    False,
                    _describe_row(row),
                    layer=name,
                    rule="crash",
                    happened=f"{type(failure).__name__}: {failure}",
                    expected="a response",
                )
            )
            continue
        verdicts.append(Verdict(row, True, _describe_row(row)))
    return verdicts


# -- the command line ----------------------------------------------------------


def load_target(spec: str, *, ini: bool = False) -> object:
    """Import ``MODULE:ATTR`` (ATTR may be dotted), or load a PasteDeploy
    ``.ini`` file (``path.ini`` or ``path.ini#name``) with ``ini=True``."""
    if ini:
        path, _, name = spec.partition("#")
        from paste.deploy import loadapp, loadfilter

        uri = f"config:{Path(path).resolve()}"
        try:
            return loadapp(uri, name=name or "main")
        except LookupError:
            return loadfilter(uri, name=name or "main")
    module_name, colon, attribute = spec.partition(":")
    if not colon or not module_name or not attribute:
        raise ValueError(
            f"{spec!r} is not MODULE:ATTR; write it as package.module:name, "
            "for example myproject.wsgi:application"
        )
    sys.path.insert(0, os.getcwd()) if os.getcwd() not in sys.path else None
    target: object = importlib.import_module(module_name)
    for part in attribute.split("."):
        target = getattr(target, part)
    return target


def kind_of(target: object) -> str:
    """``"middleware"`` (takes an app) or ``"app"`` (takes environ and
    start_response), from the signature; a `Pipeline` or a list of layers is
    middleware."""
    if isinstance(target, (Pipeline, list, tuple)):
        return "middleware"
    if not callable(target):
        raise TypeError(f"{target!r} is neither a WSGI app nor a middleware")
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return "middleware"
    positional = [
        parameter
        for parameter in signature.parameters.values()
        if parameter.kind
        in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD)
        and parameter.default is parameter.empty
    ]
    return "app" if len(positional) >= 2 else "middleware"


_COLOURS = {"ok": "32", "handled": "32", "BROKEN": "31"}


def _table(verdicts: Sequence[Verdict], colour: bool) -> list[str]:
    rows = [("fault", "verdict", "layer", "rule")]
    for verdict in verdicts:
        word = "BROKEN" if not verdict.ok else "handled" if verdict.handled else "ok"
        rows.append((verdict.row, word, verdict.layer, verdict.rule))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = []
    for number, row in enumerate(rows):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        cells.append(row[3])
        if colour and number:
            word = row[1]
            cells[1] = cells[1].replace(word, f"\x1b[{_COLOURS[word]}m{word}\x1b[0m")
        lines.append("  ".join(cells).rstrip())
    return lines


def _header(text: str) -> tuple[str, str]:
    name, colon, value = text.partition(":")
    if not colon or not name.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not 'Name: value'")
    return name.strip(), value.strip()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wsgimw check",
        description=(
            "Run a WSGI middleware, pipeline or app through wsgimw's fault "
            "matrix with a Lint above, between and below every layer."
        ),
    )
    parser.add_argument("target", help="MODULE:ATTR, or an .ini file with --ini")
    parser.add_argument(
        "--ini",
        action="store_true",
        help="TARGET is a PasteDeploy file (path.ini or path.ini#name)",
    )
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument(
        "--app",
        dest="kind",
        action="store_const",
        const="app",
        help="TARGET is a WSGI app",
    )
    kind.add_argument(
        "--middleware",
        dest="kind",
        action="store_const",
        const="middleware",
        help="TARGET takes an app",
    )
    parser.add_argument(
        "-H",
        "--header",
        dest="headers",
        action="append",
        type=_header,
        default=[],
        metavar="'NAME: VALUE'",
        help="a request header for every row, e.g. -H 'Accept-Encoding: gzip'",
    )
    parser.add_argument("--json", action="store_true", help="print JSON, for CI")
    parser.add_argument(
        "--colour",
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the verdicts (auto: on a terminal, unless NO_COLOR is set)",
    )
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """``wsgimw check``: print a verdict per row; 0 when every row held, 1
    when one broke, 2 for a target that cannot be loaded."""
    out = out or sys.stdout
    parser = _parser()
    options = parser.parse_args(argv)
    try:
        target = load_target(options.target, ini=options.ini)
        kind = options.kind or ("app" if options.ini else kind_of(target))
    except Exception as error:
        print(
            f"wsgimw check: cannot load {options.target}: {type(error).__name__}: {error}",
            file=sys.stderr,
        )
        return 2
    headers = dict(options.headers)
    root = logging.getLogger()
    if not root.handlers:
        # The rows make layers log errors on purpose: keep them off stderr.
        root.addHandler(logging.NullHandler())
    if kind == "app":
        verdicts = check_app(target, name=options.target, headers=headers)  # type: ignore[arg-type]
    else:
        verdicts = check_middleware(target, headers=headers)  # type: ignore[arg-type]
    broken = [verdict for verdict in verdicts if not verdict.ok]
    if options.json:
        document = {
            "target": options.target,
            "kind": kind,
            "ok": not broken,
            "rows": [asdict(verdict) | {"pep": verdict.pep} for verdict in verdicts],
        }
        print(json.dumps(document, indent=2), file=out)
        return 1 if broken else 0
    colour = options.colour == "always" or (
        options.colour == "auto" and out.isatty() and not os.environ.get("NO_COLOR")
    )
    print(f"wsgimw check {options.target} ({kind})", file=out)
    for line in _table(verdicts, colour):
        print(line, file=out)
    for verdict in broken:
        print("", file=out)
        print(verdict.explain(), file=out)
    print("", file=out)
    summary = (
        f"{len(broken)} of {len(verdicts)} rows broken"
        if broken
        else f"all {len(verdicts)} rows hold"
    )
    print(summary, file=out)
    return 1 if broken else 0
