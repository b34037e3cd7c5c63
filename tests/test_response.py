"""The response core: Exchange, Body, ClosingIterator, Buffer and helpers."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterable, Iterator

import pytest

from wsgimw import AccessLog, Compress, ErrorHandler
from wsgimw._response import (
    Body,
    BodyFilter,
    Buffer,
    ClosingIterator,
    Exchange,
    Observed,
    close_iterable,
    header_value,
    plain_response,
    remove_header,
    run_all,
)
from wsgimw.testing import (
    FAULTS,
    AppFault,
    Fault,
    Lint,
    ScriptedApp,
    call_app,
    check_fault,
    make_environ,
)
from wsgimw.types import (
    Environ,
    ExcInfo,
    Headers,
    Middleware,
    StartResponse,
    Write,
    WSGIApp,
)


class Upper:
    """A filter that upper-cases each chunk and appends a tail."""

    def __init__(self, tail: bytes = b"") -> None:
        self.tail = tail
        self.finished = 0

    def feed(self, chunk: bytes) -> bytes:
        return chunk.upper()

    def finish(self) -> bytes:
        self.finished += 1
        return self.tail


class Recording(Exchange):
    """An exchange whose choices come from the test."""

    __slots__ = ("choose", "closed")

    def __init__(
        self,
        environ: Environ,
        start_response: StartResponse,
        choose: BodyFilter | None = None,
    ) -> None:
        super().__init__(environ, start_response)
        self.choose = choose
        self.closed = 0

    def on_start(
        self, status: str, headers: Headers
    ) -> tuple[str, Headers, BodyFilter | None]:
        return status, [*headers, ("X-Seen", "1")], self.choose

    def on_close(self) -> None:
        self.closed += 1


class ObservingRecording(Recording):
    __slots__ = ()
    observes_close = True


def wrap(
    app: WSGIApp,
    make_filter: Callable[[], BodyFilter] | None = None,
    *,
    observes_close: bool = False,
) -> tuple[WSGIApp, list[Recording]]:
    """A middleware built on Exchange that records its exchanges."""
    exchanges: list[Recording] = []

    def wrapped(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        kind = ObservingRecording if observes_close else Recording
        exchange = kind(environ, start_response, make_filter() if make_filter else None)
        exchanges.append(exchange)
        return exchange.respond(app)

    return wrapped, exchanges


def two_arg_server() -> tuple[StartResponse, list[tuple[str, Headers]]]:
    """A server whose start_response takes exactly two arguments."""
    calls: list[tuple[str, Headers]] = []

    def start_response(status: str, headers: Headers) -> Write:
        calls.append((status, headers))
        return lambda data: None

    return start_response, calls  # type: ignore[return-value]


# -- helpers -------------------------------------------------------------------


def test_plain_response_headers_replace_defaults_and_bodiless_statuses() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        status = environ["PATH_INFO"][1:].replace("_", " ")
        return plain_response(
            environ, start_response, status, "text", [("Content-Type", "text/x")]
        )

    lint = Lint()
    replaced = call_app(lint(app), "/401_Unauthorized")
    assert replaced.headers == [("Content-Length", "4"), ("Content-Type", "text/x")]
    assert call_app(lint(app), "/204_No_Content").body == b""
    assert call_app(lint(app), "/304_Not_Modified").body == b""
    lint.verify()


def test_close_iterable_calls_close_when_present() -> None:
    app = ScriptedApp()
    iterable = app(make_environ(), lambda s, h, e=None: lambda d: None)
    close_iterable(iterable)
    assert app.closes == 1
    close_iterable([b"no close method"])  # no error


def test_run_all_runs_every_cleanup_and_raises_the_first_error() -> None:
    ran: list[str] = []

    def fail(name: str) -> None:
        ran.append(name)
        raise ValueError(name)

    with pytest.raises(ValueError, match="first"):
        run_all(
            lambda: fail("first"), lambda: ran.append("middle"), lambda: fail("last")
        )
    assert ran == ["first", "middle", "last"]


def test_run_all_lets_base_exceptions_through() -> None:
    def interrupt() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_all(interrupt)


def test_header_helpers_are_case_insensitive() -> None:
    headers = [("Content-Type", "text/plain"), ("content-length", "3"), ("X", "y")]
    assert header_value(headers, "CONTENT-LENGTH") == "3"
    assert header_value(headers, "Missing") is None
    assert remove_header(headers, "Content-Length") == [
        ("Content-Type", "text/plain"),
        ("X", "y"),
    ]
    assert len(headers) == 3  # a copy, not a change in place


@pytest.mark.parametrize(("method", "body"), [("GET", b"bad query"), ("HEAD", b"")])
def test_plain_response(method: str, body: bytes) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        return plain_response(
            environ, start_response, "400 Bad Request", "bad query", [("X-A", "b")]
        )

    lint = Lint()
    result = call_app(lint(app), "/", method=method)
    lint.verify()
    assert result.status == "400 Bad Request"
    assert result.body == body
    assert result.header("Content-Length") == "9"
    assert result.header("Content-Type") == "text/plain; charset=utf-8"
    assert result.header("X-A") == "b"


# -- ClosingIterator -------------------------------------------------------------


def test_closing_iterator_hands_over_the_app_iterator_and_closes_once() -> None:
    app = ScriptedApp()
    calls: list[str] = []
    iterable = app(make_environ(), lambda s, h, e=None: lambda d: None)
    closing = ClosingIterator(
        iterable, lambda: run_all(lambda: calls.append("a"), lambda: calls.append("b"))
    )
    assert iter(closing) is iter(iterable)  # the server iterates the app's own
    assert list(closing) == app.chunks
    closing.close()
    closing.close()
    assert app.closes == 1
    assert calls == ["a", "b"]


def test_closing_iterator_close_before_iteration_runs_all_cleanups() -> None:
    app = ScriptedApp(fail="close")
    calls: list[str] = []
    iterable = app(make_environ(), lambda s, h, e=None: lambda d: None)

    def broken() -> None:
        raise OSError("cleanup failed")

    closing = ClosingIterator(
        iterable, lambda: run_all(broken, lambda: calls.append("after"))
    )
    with pytest.raises(RuntimeError, match="close"):
        closing.close()  # the app's error is first; the others still ran
    assert app.closes == 1
    assert calls == ["after"]


def test_closing_iterator_closes_the_returned_iterable_not_its_iterator() -> None:
    class Iterable_:
        closed = 0

        def __iter__(self) -> Iterator[bytes]:
            return iter([b"x"])

        def close(self) -> None:
            self.closed += 1

    iterable = Iterable_()
    closing = ClosingIterator(iterable)
    assert list(closing) == [b"x"]
    closing.close()
    assert iterable.closed == 1


# -- Exchange and Body -----------------------------------------------------------


def test_untouched_response_is_the_app_iterable_itself() -> None:
    inner = ScriptedApp()
    app, _ = wrap(inner)
    seen: list[Headers] = []

    def start_response(status: str, headers: Headers, exc_info: object = None) -> Write:
        seen.append(headers)
        return lambda data: None

    iterable = app(make_environ(), start_response)
    assert iterable is inner.last_iterable
    assert seen[0][-1] == ("X-Seen", "1")  # on_start saw and changed the headers
    close_iterable(iterable)
    assert inner.closes == 1


def test_lazy_app_is_wrapped_and_status_read_at_first_next() -> None:
    inner = ScriptedApp(style="lazy")
    app, exchanges = wrap(inner)
    iterable = app(make_environ(), lambda s, h, e=None: lambda d: None)
    assert isinstance(iterable, Body)
    assert not exchanges[0].started
    assert next(iter(iterable)) == b"Hello, "
    assert exchanges[0].status == "200 OK"
    close_iterable(iterable)
    assert inner.closes == 1
    assert exchanges[0].closed == 1


def test_exc_info_is_omitted_for_servers_taking_two_arguments() -> None:
    start_response, calls = two_arg_server()
    app, _ = wrap(ScriptedApp(), Upper)
    body = app(make_environ(), start_response)
    assert list(body) == [b"HELLO, ", b"WORLD", b"!"]
    close_iterable(body)
    assert calls[0][0] == "200 OK"


def test_exc_info_is_forwarded() -> None:
    received: list[ExcInfo | None] = []

    def start_response(
        status: str, headers: Headers, exc_info: ExcInfo | None = None
    ) -> Write:
        received.append(exc_info)
        return lambda data: None

    app, _ = wrap(ScriptedApp(style="lazy", fail="exc_info"), Upper)
    body = app(make_environ(), start_response)
    assert list(body) == [b"SCRIPTED ERROR PAGE"]
    close_iterable(body)
    assert received[0] is None
    assert received[1] is not None
    assert isinstance(received[1][1], RuntimeError)


def test_filter_sees_every_chunk_and_yields_one_for_each() -> None:
    chunks = [b"a", b"", b"b", b"c"]
    app, _ = wrap(ScriptedApp(chunks=chunks), lambda: Upper(tail=b"!"))
    result = call_app(app)
    assert result.chunks == [b"A", b"B", b"C", b"!"]
    body = app(make_environ(), lambda s, h, e=None: lambda d: None)
    assert list(body) == [b"A", b"", b"B", b"C", b"!"]  # b'' kept: one out per in
    close_iterable(body)


def test_filter_tail_comes_once_even_if_iterated_again() -> None:
    upper = Upper(tail=b"end")
    app, _ = wrap(ScriptedApp(chunks=[b"x"]), lambda: upper)
    body = app(make_environ(), lambda s, h, e=None: lambda d: None)
    iterator = iter(body)
    assert list(iterator) == [b"X", b"end"]
    assert list(iterator) == []
    assert upper.finished == 1
    close_iterable(body)


def test_write_calls_go_through_the_filter() -> None:
    written: list[bytes] = []
    app, _ = wrap(ScriptedApp(style="write"), lambda: Upper(tail=b"."))
    body = app(make_environ(), lambda s, h, e=None: written.append)
    assert list(body) == [b"."]
    close_iterable(body)
    assert written == [b"HELLO, ", b"WORLD", b"!"]


def test_empty_filter_output_is_not_written() -> None:
    class Hold:
        def feed(self, chunk: bytes) -> bytes:
            return b""

        def finish(self) -> bytes:
            return b"done"

    written: list[bytes] = []
    app, _ = wrap(ScriptedApp(style="write"), Hold)
    body = app(make_environ(), lambda s, h, e=None: written.append)
    assert list(body) == [b"done"]
    close_iterable(body)
    assert written == []


def test_on_close_runs_once_when_the_app_raises_before_returning() -> None:
    app, exchanges = wrap(ScriptedApp(fail="call"), observes_close=True)
    with pytest.raises(RuntimeError):
        app(make_environ(), lambda s, h, e=None: lambda d: None)
    assert exchanges[0].closed == 1


def test_observed_close_wraps_and_runs_on_close_once() -> None:
    inner = ScriptedApp(fail="close")
    app, exchanges = wrap(inner, observes_close=True)
    result = call_app(app, catch=True)
    assert isinstance(result.error, RuntimeError)
    assert result.body == b"Hello, world!"
    assert inner.closes == 1
    assert exchanges[0].closed == 1


@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_fault_matrix_filtering_exchange(fault: Fault) -> None:
    def filtering(app: WSGIApp) -> WSGIApp:
        return wrap(app, Upper)[0]

    check_fault(filtering, fault)


@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_fault_matrix_buffering_exchange(fault: Fault) -> None:
    def buffering(app: WSGIApp) -> WSGIApp:
        return wrap(app, lambda: Buffer(bytes.upper, 1 << 20))[0]

    check_fault(buffering, fault)


# -- Buffer ----------------------------------------------------------------------


def buffering(app: WSGIApp, max_size: int = 100) -> tuple[WSGIApp, list[Exchange]]:
    overflowed: list[Exchange] = []

    def make() -> Buffer:
        return Buffer(lambda body: body[::-1], max_size, overflowed.append)

    wrapped, _ = wrap(app, make)
    return wrapped, overflowed


@pytest.mark.parametrize(
    "style", ["iter", "lazy", "generator", "write", "mixed", "list"]
)
def test_buffer_sets_content_length_exactly(style: str) -> None:
    inner = ScriptedApp(chunks=[b"abc", b"def"], style=style)
    app, overflowed = buffering(inner)
    lint = Lint()
    result = call_app(lint(app))
    lint.verify()
    assert result.body == b"fedcba"
    assert result.header("Content-Length") == "6"
    assert result.header("X-Seen") == "1"
    assert not overflowed


def test_buffer_holds_headers_until_the_body_is_complete() -> None:
    events: list[str] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        events.append("started")
        yield b"ab"
        events.append("second")
        yield b"cd"

    def server_start(
        status: str, headers: Headers, exc_info: ExcInfo | None = None
    ) -> Write:
        events.append("headers sent")
        return lambda data: None

    wrapped, _ = buffering(app)
    body = wrapped(make_environ(), server_start)
    assert list(body) == [b"dcba"]
    close_iterable(body)
    assert events == ["started", "second", "headers sent"]


def test_buffer_overflow_sends_the_body_unchanged() -> None:
    inner = ScriptedApp(chunks=[b"a" * 60, b"b" * 60, b"c"])
    app, overflowed = buffering(inner, max_size=100)
    lint = Lint()
    result = call_app(lint(app))
    lint.verify()
    assert result.body == b"a" * 60 + b"b" * 60 + b"c"
    assert result.header("Content-Length") is None
    assert len(overflowed) == 1
    assert inner.closes == 1


def test_buffer_of_empty_lazy_body() -> None:
    inner = ScriptedApp(chunks=[], style="lazy")
    app, _ = buffering(inner)
    result = call_app(app)
    assert result.status == "200 OK"
    assert result.body == b""
    assert result.header("Content-Length") == "0"


def test_buffer_app_error_while_draining_sends_no_headers() -> None:
    inner = ScriptedApp(fail="chunk", at=1)
    app, _ = buffering(inner)
    result = call_app(app, catch=True)
    assert isinstance(result.error, RuntimeError)
    assert result.status == ""  # nothing reached the server
    assert inner.closes == 1


def test_buffer_overflow_from_write_calls_sends_everything_unchanged() -> None:
    written: list[bytes] = []
    sent: list[Headers] = []

    def start_response(status: str, headers: Headers, exc_info: object = None) -> Write:
        sent.append(headers)
        return written.append

    inner = ScriptedApp(chunks=[b"a" * 60, b"b" * 60, b"c"], style="write")
    app, overflowed = buffering(inner, max_size=100)
    body = app(make_environ(), start_response)
    assert list(body) == []
    close_iterable(body)
    assert b"".join(written) == b"a" * 60 + b"b" * 60 + b"c"
    assert written[-1] == b"c"  # after the overflow, writes go straight out
    assert len(sent) == 1
    assert header_value(sent[0], "Content-Length") is None
    assert len(overflowed) == 1


# -- guard -----------------------------------------------------------------------


class Declining:
    """A Recovery that records errors and lets them all propagate."""

    def __init__(self, handle_close: bool = False) -> None:
        self.errors: list[Exception] = []
        self.handle_close = handle_close

    def error_page(
        self, environ: Environ, error: Exception
    ) -> tuple[str, Headers, bytes] | None:
        self.errors.append(error)
        return None

    def on_answered(self, environ: Environ, error: Exception, *, sent: bool) -> None:
        raise AssertionError("never answered: there was no page")  # pragma: no cover

    def on_close_error(self, environ: Environ, error: Exception) -> bool:
        self.errors.append(error)
        return self.handle_close


def guarded(app: WSGIApp, recovery: Declining) -> WSGIApp:
    from wsgimw._response import guard

    def wrapped(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        return guard(app, environ, start_response, recovery)

    return wrapped


@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_fault_matrix_guard_declining(fault: Fault) -> None:
    check_fault(lambda app: guarded(app, Declining()), fault)


def test_guard_passes_lists_and_the_servers_start_response() -> None:
    app = ScriptedApp(style="list")
    calls: list[str] = []

    def start_response(status: str, headers: Headers, exc_info: object = None) -> Write:
        calls.append(status)
        return lambda data: None

    iterable = guarded(app, Declining())(make_environ(), start_response)
    assert iterable is app.last_iterable
    assert calls == ["200 OK"]


def test_guarded_body_close_is_once_and_next_after_close_ends() -> None:
    app = ScriptedApp(fail="close")
    recovery = Declining(handle_close=True)
    body = guarded(app, recovery)(make_environ(), lambda s, h, e=None: lambda d: None)
    body.close()  # type: ignore[attr-defined]
    body.close()  # type: ignore[attr-defined]
    assert app.closes == 1
    assert len(recovery.errors) == 1
    assert list(body) == []


def test_guarded_close_error_not_handled_is_raised() -> None:
    app = ScriptedApp(fail="close")
    recovery = Declining()
    body = guarded(app, recovery)(make_environ(), lambda s, h, e=None: lambda d: None)
    with pytest.raises(RuntimeError, match="close"):
        body.close()  # type: ignore[attr-defined]
    assert recovery.errors


# -- edges -----------------------------------------------------------------------


def test_a_plain_exchange_passes_everything_through() -> None:
    app = ScriptedApp()

    def wrapped(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        return Exchange(environ, start_response).respond(app)

    result = call_app(wrapped)
    assert result.body == b"Hello, world!"
    assert result.header("X-Seen") is None


def test_a_failing_callback_alone_is_raised() -> None:
    def broken() -> None:
        raise OSError("callback failed")

    closing = ClosingIterator([b"x"], broken)
    with pytest.raises(OSError, match="callback failed"):
        closing.close()


def test_rewrite_start_response_forwards_exc_info() -> None:
    from wsgimw._response import rewrite_start_response

    received: list[object] = []

    def server(status: str, headers: Headers, exc_info: object = None) -> Write:
        received.append(exc_info)
        return lambda data: None

    start = rewrite_start_response(server, lambda s, h: (s, [*h, ("X", "1")]))
    start("200 OK", [])
    try:
        raise ValueError("x")
    except ValueError:
        import sys

        start("500 Error", [], sys.exc_info())
    assert received[0] is None
    assert isinstance(received[1], tuple)


def test_buffer_edges() -> None:
    buffer = Buffer(bytes.upper, 4)
    assert buffer.feed(b"") == b""
    assert not buffer.overflowed
    buffer.feed(b"abcdef")
    exchange = Exchange(make_environ(), lambda s, h, e=None: lambda d: None)
    exchange.status, exchange.headers = "200 OK", [("Content-Length", "6")]
    assert buffer.overflow(exchange) == ("200 OK", [])  # no on_overflow given


def test_writes_after_an_overflow_go_straight_out() -> None:
    written: list[bytes] = []

    def legacy(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"x" * 200)  # over max_size: released
        write(b"")  # nothing to send
        write(b"tail")
        return []

    app, _ = buffering(legacy, max_size=100)
    body = app(make_environ(), lambda s, h, e=None: written.append)
    assert list(body) == []  # released: the app's own (empty) list
    close_iterable(body)
    assert written == [b"x" * 200, b"tail"]


def test_body_close_twice_closes_once() -> None:
    inner = ScriptedApp(style="lazy")
    app, _ = wrap(inner, Upper)
    body = app(make_environ(), lambda s, h, e=None: lambda d: None)
    assert isinstance(body, Body)
    body.close()
    body.close()
    assert inner.closes == 1


# -- found in review: each test fails on the code before its fix -----------------


class LateUpper(Recording):
    """A late decider that upper-cases text/plain and leaves the rest."""

    __slots__ = ()
    decides_late = True

    def on_start(
        self, status: str, headers: Headers
    ) -> tuple[str, Headers, BodyFilter | None]:
        if header_value(headers, "Content-Type") == "text/plain":
            return status, [*headers, ("X-Upper", "1")], Upper()
        return status, headers, None


def late(app: WSGIApp) -> WSGIApp:
    def wrapped(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        return LateUpper(environ, start_response).respond(app)

    return wrapped


def test_a_passed_through_response_is_never_given_filter_headers() -> None:
    # The app's own iterable went to the server; an exc_info re-call then
    # names a type the exchange would filter. It must not claim a filter.
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "image/png")])
        return _RecallOnFirstNext(start_response)

    result = call_app(late(app))
    assert result.status == "500 Internal Server Error"
    assert result.header("X-Upper") is None
    assert result.body == b"plain error page"


class _RecallOnFirstNext:
    def __init__(self, start_response: StartResponse) -> None:
        self.start_response = start_response
        self.done = False

    def __iter__(self) -> _RecallOnFirstNext:
        return self

    def __next__(self) -> bytes:
        if self.done:
            raise StopIteration
        self.done = True
        try:
            raise RuntimeError("render failed")
        except RuntimeError:
            import sys

            self.start_response(
                "500 Internal Server Error",
                [("Content-Type", "text/plain")],
                sys.exc_info(),
            )
        return b"plain error page"


def test_a_late_decision_the_server_refuses_still_closes_the_iterable() -> None:
    inner = ScriptedApp()

    def refusing(status: str, headers: Headers, exc_info: object = None) -> Write:
        raise ValueError("invalid header")

    with pytest.raises(ValueError, match="invalid header"):
        late(inner)(make_environ(), refusing)
    assert inner.closes == 1


def test_write_after_returning_reaches_the_server_through_a_late_decider() -> None:
    written: list[bytes] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"a"
        write(b"b")  # PEP 3333 servers accept this; the write must still work
        yield b"c"

    body = late(app)(make_environ(), lambda s, h, e=None: written.append)
    chunks = list(body)
    close_iterable(body)
    assert chunks == [b"A", b"C"]
    assert written == [b"B"]


def test_a_write_kept_across_an_exc_info_recall_still_works() -> None:
    import sys

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            start_response(
                "500 Internal Server Error",
                [("Content-Type", "image/png")],
                sys.exc_info(),
            )
        write(b"raw")  # the callable from the first call
        return []

    for wrapped, body in ((late(app), b"raw"), (buffering(app)[0], b"war")):
        result = call_app(wrapped)
        assert result.status == "500 Internal Server Error"
        assert result.body == body  # the late one leaves png alone


def test_an_observer_that_fails_never_hides_the_apps_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(ObservingRecording):
        __slots__ = ()

        def on_error(self, error: Exception) -> None:
            raise KeyError("observer bug")

    def wrapped(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        return Broken(environ, start_response).respond(app)

    for app in (ScriptedApp(fail="call"), ScriptedApp(fail="chunk", at=1)):  # noqa: B007
        result = call_app(wrapped, catch=True)
        assert isinstance(result.error, RuntimeError)  # the app's, not the hook's
    assert "observer bug" in caplog.text


def test_a_none_chunk_is_not_the_end_of_the_body() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"one ", None, b"two"]  # type: ignore[list-item]

    result = call_app(late(app), catch=True)
    assert result.error is not None  # the bad chunk surfaces; nothing is cut silently


def test_finished_exchanges_are_freed_without_the_cycle_collector() -> None:
    import gc
    import sys
    import weakref

    refs: list[weakref.ref[Exchange]] = []

    class Tracked(LateUpper):
        __slots__ = ("__weakref__",)

    def writes(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])(b"written")
        return []

    def restarts(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise RuntimeError("replaced")
        except RuntimeError:
            start_response("500 Oops", [("Content-Type", "text/plain")], sys.exc_info())
        return [b"page"]

    def track(exchange: Exchange, app: WSGIApp) -> Iterable[bytes]:
        refs.append(weakref.ref(exchange))
        return exchange.respond(app)

    gc.disable()
    try:
        for _ in range(3):
            call_app(lambda e, sr: track(Tracked(e, sr), writes))
            call_app(lambda e, sr: track(Tracked(e, sr), restarts), read=0)
        assert [ref() for ref in refs] == [None] * 6
    finally:
        gc.enable()


# -- Observed: the cheap path for middleware that only watch -------------------------


class Watching(Observed):
    """Records what it saw when the response ended."""

    __slots__ = ("ends",)

    def __init__(self, environ: Environ, start_response: StartResponse) -> None:
        super().__init__(environ, start_response)
        self.ends: list[tuple[str, int, bool]] = []

    def on_end(self) -> None:
        self.ends.append((self.status, self.sent, self.failed))


def watched(app: WSGIApp) -> tuple[WSGIApp, list[Watching]]:
    made: list[Watching] = []

    def wrapped(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        observer = Watching(environ, start_response)
        made.append(observer)
        return observer.respond(app)

    return wrapped, made


@pytest.mark.parametrize(
    "style", ["iter", "list", "lazy", "generator", "write", "mixed"]
)
def test_observed_counts_every_body_byte_and_ends_once_at_close(style: str) -> None:
    inner = ScriptedApp(style=style)
    app, made = watched(inner)
    lint = Lint()
    result = call_app(lint(app))
    lint.verify()
    assert result.body == b"Hello, world!"
    assert made[0].ends == [("200 OK", 13, False)]


def test_observed_hands_the_chunks_on_untouched_and_counts_what_was_read() -> None:
    inner = ScriptedApp()
    app, made = watched(inner)
    result = call_app(app, read=1)  # the client goes away after one chunk
    assert result.body == b"Hello, "
    assert made[0].ends == [("200 OK", 7, False)]
    assert inner.closes == 1


@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_observed_fault_matrix(fault: Fault) -> None:
    made: list[Watching] = []

    def middleware(app: WSGIApp) -> WSGIApp:
        def wrapped(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
            observer = Watching(environ, start_response)
            made.append(observer)
            return observer.respond(app)

        return wrapped

    check_fault(middleware, fault)
    assert made
    for observer in made:
        assert len(observer.ends) == 1, fault
        failed = observer.ends[0][2]
        assert failed == (fault.raises in ("before-body", "after-body")), fault


def test_observed_keeps_the_status_the_server_took() -> None:
    # The app replaces its response after the headers went out: the server
    # refuses (re-raises), so the status sent stays the first one.
    app, made = watched(ScriptedApp(fail="exc_info", at=1))
    result = call_app(app, catch=True)
    assert isinstance(result.error, AppFault)
    assert made[0].ends == [("200 OK", 7, True)]


def test_observed_sees_a_replacement_made_in_time() -> None:
    app, made = watched(ScriptedApp(style="lazy", fail="exc_info"))
    result = call_app(app)
    assert result.status == "500 Internal Server Error"
    assert made[0].ends[0][0] == "500 Internal Server Error"


def test_observed_closed_before_the_first_next() -> None:
    inner = ScriptedApp()
    app, made = watched(inner)
    body = app(make_environ(), lambda s, h, e=None: lambda d: None)
    close_iterable(body)
    close_iterable(body)  # a second close changes nothing
    assert list(body) == []
    assert made[0].ends == [("200 OK", 0, False)]
    assert inner.closes == 1


def test_observed_app_error_wins_over_a_failing_on_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Failing(Observed):
        __slots__ = ()

        def on_end(self) -> None:
            raise RuntimeError("cleanup failed")

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        return Failing(environ, start_response).respond(ScriptedApp(fail="call"))

    with pytest.raises(AppFault):
        call_app(app)
    assert "a cleanup failed after the app raised" in caplog.text


def test_observed_counts_a_list_body_as_the_server_takes_it() -> None:
    inner = ScriptedApp(style="list")
    app, made = watched(inner)
    body = app(make_environ(), lambda s, h, e=None: lambda d: None)
    chunks = iter(body)
    assert next(chunks) == b"Hello, "
    assert made[0].sent == 7  # only what was taken so far
    close_iterable(body)  # the client went away
    assert made[0].ends == [("200 OK", 7, False)]


def test_observed_notes_a_list_chunk_that_is_not_bytes() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok", None]  # type: ignore[list-item]

    wrapped, made = watched(app)
    body = wrapped(make_environ(), lambda s, h, e=None: lambda d: None)
    with pytest.raises(TypeError):
        list(body)
    close_iterable(body)
    assert made[0].ends == [("200 OK", 2, True)]


def test_observed_notes_an_error_in_iter() -> None:
    class Unstartable:
        def __iter__(self) -> Iterator[bytes]:
            raise AppFault("iter() failed")

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Unstartable()

    wrapped, made = watched(app)
    result = call_app(wrapped, catch=True)
    assert isinstance(result.error, AppFault)
    assert made[0].ends == [("200 OK", 0, True)]


# -- guard over an observer: the observer guards its own body ----------------------


def guarded_watch(
    app: WSGIApp, recovery: ErrorHandler | Declining
) -> tuple[WSGIApp, list[Watching]]:
    """``guard`` (with ``recovery``) over a `Watching` observer over ``app``."""
    from wsgimw._response import guard

    inner, made = watched(app)

    def outer(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        return guard(inner, environ, start_response, recovery)

    return outer, made


def test_guard_hands_an_observer_its_recovery_instead_of_wrapping_it() -> None:
    app, made = guarded_watch(ScriptedApp(), ErrorHandler())
    body = app(make_environ(), lambda s, h, e=None: lambda d: None)
    assert body is made[0]  # one iterator less between the server and the app
    close_iterable(body)


def test_a_second_guard_over_the_same_observer_wraps_it() -> None:
    from wsgimw._response import guard

    inner, made = watched(ScriptedApp())
    environ = make_environ()
    start: StartResponse = lambda s, h, e=None: lambda d: None  # noqa: E731
    first = guard(inner, environ, start, ErrorHandler())
    second = guard(lambda e, s: first, environ, start, ErrorHandler())
    assert first is made[0]
    assert second is not first
    assert list(second) == [b"Hello, ", b"world", b"!"]
    close_iterable(second)
    assert made[0].ends == [("200 OK", 13, False)]


@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_fault_matrix_declining_guard_over_an_observer(fault: Fault) -> None:
    check_fault(lambda app: guarded_watch(app, Declining())[0], fault)


@pytest.mark.parametrize("style", ["lazy", "iter"])
def test_an_observer_under_a_guard_answers_an_error_before_the_body(
    style: str,
) -> None:
    app, made = guarded_watch(ScriptedApp(style=style, fail="chunk"), ErrorHandler())
    lint = Lint()
    result = call_app(lint(app))
    lint.verify()
    assert result.status == "500 Internal Server Error"
    assert b"Internal Server Error" in result.body
    # The observer saw what it sees under a wrapping guard: the app failed
    # and sent nothing; the page is not counted.
    _status, sent, failed = made[0].ends[0]
    assert (sent, failed) == (0, True)
    assert len(made[0].ends) == 1
    assert list(made[0]) == []  # the page ended the body


def test_an_observer_under_a_guard_answers_an_error_in_iter() -> None:
    class Unstartable:
        def __iter__(self) -> Iterator[bytes]:
            raise AppFault("iter() failed")

    def inner(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        return Unstartable()

    app, made = guarded_watch(inner, ErrorHandler())
    result = call_app(app)
    assert result.status == "500 Internal Server Error"
    assert made[0].ends == [("", 0, True)]


def test_an_observer_under_a_guard_lets_a_late_error_go_on() -> None:
    # After the headers went out there is no page: the error reaches the
    # server, as it does through a wrapping guard.
    recovery = ErrorHandler()
    app, made = guarded_watch(ScriptedApp(fail="chunk", at=1), recovery)
    result = call_app(app, catch=True)
    assert isinstance(result.error, AppFault)
    assert made[0].ends == [("200 OK", 7, True)]


def test_an_observer_under_a_declining_guard_raises_the_apps_error() -> None:
    recovery = Declining()
    app, made = guarded_watch(ScriptedApp(fail="chunk"), recovery)
    result = call_app(app, catch=True)
    assert isinstance(result.error, AppFault)
    assert recovery.errors == [result.error]
    assert made[0].ends == [("200 OK", 0, True)]


@pytest.mark.parametrize("handled", [True, False])
def test_an_observer_under_a_guard_hands_it_a_close_error(handled: bool) -> None:
    inner = ScriptedApp(fail="close")
    recovery = Declining(handle_close=handled)
    app, made = guarded_watch(inner, recovery)
    body = app(make_environ(), lambda s, h, e=None: lambda d: None)
    assert list(body) == [b"Hello, ", b"world", b"!"]
    if handled:
        close_iterable(body)
    else:
        with pytest.raises(AppFault, match="close"):
            close_iterable(body)
    close_iterable(body)  # once only
    assert inner.closes == 1
    assert len(recovery.errors) == 1
    assert made[0].ends == [("200 OK", 13, False)]


def test_an_observer_under_a_guard_hands_it_an_on_end_error_of_a_list_body() -> None:
    class Failing(Observed):
        __slots__ = ()

        def on_end(self) -> None:
            raise RuntimeError("on_end failed")

    from wsgimw._response import guard

    recovery = Declining(handle_close=True)

    def observed(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        return Failing(environ, start_response).respond(ScriptedApp(style="list"))

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        return guard(observed, environ, start_response, recovery)

    body = app(make_environ(), lambda s, h, e=None: lambda d: None)
    assert list(body) == [b"Hello, ", b"world", b"!"]
    close_iterable(body)
    assert [str(e) for e in recovery.errors] == ["on_end failed"]


# -- on_start_early: a late decider that can settle from the headers --------------------


class SettlingUpper(LateUpper):
    """Waits for the iterable only for text/plain; settles anything else."""

    __slots__ = ()

    def on_start_early(
        self, status: str, headers: Headers
    ) -> tuple[str, Headers, BodyFilter | None] | None:
        if header_value(headers, "Content-Type") == "text/plain":
            return None
        return status, [*headers, ("X-Settled", "1")], None


def settling(app: WSGIApp) -> WSGIApp:
    def wrapped(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        return SettlingUpper(environ, start_response).respond(app)

    return wrapped


def test_a_settled_start_reaches_the_server_before_the_app_returns() -> None:
    seen: list[str] = []

    def server(status: str, headers: Headers, exc_info: ExcInfo | None = None) -> Write:
        seen.append(status)
        return lambda data: None

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "image/png")])
        seen.append("app returns")
        return [b"png"]

    body = settling(app)(make_environ(), server)
    assert seen == ["200 OK", "app returns"]
    assert body == [b"png"]  # the app's own list, untouched


def test_an_unsettled_start_still_waits_for_the_iterable() -> None:
    seen: list[str] = []

    def server(status: str, headers: Headers, exc_info: ExcInfo | None = None) -> Write:
        seen.append(status)
        return lambda data: None

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        seen.append("app returns")
        return [b"text"]

    body = settling(app)(make_environ(), server)
    assert seen == ["app returns", "200 OK"]
    assert list(body) == [b"TEXT"]


def test_a_held_start_replaced_by_a_settled_one_is_never_sent() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])  # held
        try:
            raise RuntimeError("render failed")
        except RuntimeError:
            start_response(
                "500 Internal Server Error",
                [("Content-Type", "text/html")],  # settled: sent at once
                sys.exc_info(),
            )
        return [b"<p>error</p>"]

    lint = Lint()
    result = call_app(lint(settling(app)))  # call_app refuses a second start
    lint.verify()
    assert result.status == "500 Internal Server Error"
    assert result.header("X-Settled") == "1"
    assert result.body == b"<p>error</p>"


@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_settling_late_decider_fault_matrix(fault: Fault) -> None:
    check_fault(settling, fault)


# -- a server that calls next() after close() ----------------------------------


@pytest.mark.parametrize(
    "middleware",
    [
        pytest.param(lambda: AccessLog(stream=io.StringIO()), id="Observed"),
        pytest.param(ErrorHandler, id="guard"),
        pytest.param(lambda: Compress(minimum_size=0), id="Body"),
    ],
)
def test_a_next_after_close_never_reaches_the_app(
    middleware: Callable[[], Middleware],
) -> None:
    lint = Lint(above="the middleware")
    app = middleware()(lint(ScriptedApp()))
    environ = make_environ(headers={"Accept-Encoding": "gzip"})
    body = iter(app(environ, lambda s, h, e=None: lambda d: None))
    next(body)
    body.close()  # type: ignore[attr-defined]
    with pytest.raises(StopIteration):
        next(body)
    lint.verify()  # closed once, and no next() after close() reached the app


# -- issue 17: found under attack ------------------------------------------------------------


class _Late(Recording):
    __slots__ = ()
    decides_late = True


def _starts_twice(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    start_response("500 Oops", [("Content-Type", "text/plain")])
    return [b"body"]


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda e, s: _Late(e, s), id="a late decider"),
        pytest.param(
            lambda e, s: Recording(e, s, Buffer(bytes.upper, 100)), id="Buffer"
        ),
        pytest.param(lambda e, s: Recording(e, s, Upper()), id="a filter"),
        pytest.param(lambda e, s: Recording(e, s), id="no filter"),
    ],
)
def test_a_second_start_without_exc_info_is_refused(
    make: Callable[[Environ, StartResponse], Exchange],
) -> None:
    # PEP 3333 makes it a fatal error; a start held back (a late decider, a
    # Buffer) never reached the server to be refused there.
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        return make(environ, start_response).respond(_starts_twice)

    with pytest.raises(AssertionError, match="without exc_info"):
        call_app(app)


def test_a_buffer_holds_one_growing_buffer() -> None:
    import gc
    import tracemalloc

    size = 64 * 1024
    buffer = Buffer(lambda data: data, size)
    chunks = (bytes((n % 256, 7)) for n in range(size // 2))
    gc.collect()
    tracemalloc.start()
    try:
        for chunk in chunks:
            buffer.feed(chunk)
        assert not buffer.overflowed
        data = buffer.held_bytes()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(data) == size
    assert peak < 3 * size  # a list of 2-byte chunks took over 25 times
    buffer.feed(b"x" * (size + 1))
    assert buffer.overflowed
    buffer.discard()
    assert not buffer.overflowed
    assert buffer.held_bytes() == b""
