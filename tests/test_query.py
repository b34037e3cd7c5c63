"""QueryParser: PEP 3333 decoding, first/last semantics, limits, bad input."""

from __future__ import annotations

import copy
import logging
import pickle
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import wsgimw.query
from wsgimw.query import (
    ENVIRON_KEY,
    BadQuery,
    Errors,
    QueryDict,
    QueryParser,
    parse_query,
)
from wsgimw.testing import (
    FAULTS,
    Fault,
    Lint,
    Result,
    ScriptedApp,
    call_app,
    check_fault,
    make_environ,
)
from wsgimw.types import Environ, StartResponse, WSGIApp

Pairs = list[tuple[str, str]]


class QueryApp:
    """An app that records the query it was given (reading it, or not)."""

    def __init__(self, *, read: bool = True) -> None:
        self.read = read
        self.calls = 0
        self.query: QueryDict | None = None
        self.pairs: Pairs | None = None

    def __call__(
        self, environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        self.calls += 1
        self.query = environ[ENVIRON_KEY]
        if self.read:
            self.pairs = list(environ[ENVIRON_KEY].items())
        start_response(
            "200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")]
        )
        return [b"ok"]


def run(
    query: str | None,
    parser: QueryParser | None = None,
    *,
    app: QueryApp | None = None,
    method: str = "GET",
) -> tuple[Result, QueryApp, Environ]:
    """One request through ``parser`` with a Lint on each side, except when
    ``query`` plays a server that breaks PEP 3333 (Lint would stop it)."""
    app = app or QueryApp()
    outer, inner = Lint(below="QueryParser"), Lint(above="QueryParser")
    wrapped = outer((parser or QueryParser())(inner(app)))
    if query is not None and not is_latin1(query):
        wrapped = (parser or QueryParser())(app)
    environ = make_environ("/", method=method)
    if query is None:
        del environ["QUERY_STRING"]
    else:
        environ["QUERY_STRING"] = query
    result = call_app(wrapped, environ)
    outer.verify()
    inner.verify()
    return result, app, environ


def is_latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def pairs_of(query: str, parser: QueryParser | None = None) -> Pairs:
    result, app, _ = run(query, parser)
    assert result.status == "200 OK", result.body
    assert app.pairs is not None
    return app.pairs


def reference(query: str, charset: str = "utf-8") -> Pairs:
    """The decoding rule spelled out with the standard library: parse_qsl
    splitting on '&' only, decoding escapes as latin-1 (so every character is
    one byte), then the bytes with ``charset``, invalid ones replaced."""

    def text(s: str) -> str:
        return s.encode("latin-1").decode(charset, "replace")

    return [
        (text(name), text(value))
        for name, value in parse_qsl(
            query, keep_blank_values=True, encoding="latin-1", separator="&"
        )
    ]


STRICT = QueryParser(errors="strict")


# WebOb is imported here, after wsgimw.query, which imports it without the
# DeprecationWarning WebOb 1.8 triggers on Python 3.11-3.12 (stdlib cgi).
def webob_request(environ: Environ) -> Any:
    from webob import Request  # type: ignore[import-untyped]

    return Request(environ)


def webob_multidict(pairs: Pairs) -> Any:
    from webob.multidict import MultiDict  # type: ignore[import-untyped]

    return MultiDict(pairs)


# -- decoding, the PEP 3333 way -------------------------------------------------


@pytest.mark.parametrize("errors", ["replace", "strict"])
@pytest.mark.parametrize(
    "query",
    ["q=%C3%A9", "q=\xc3\xa9", "q=%C3\xa9", "q=\xc3%a9", "%71=%C3%A9"],
    ids=["escaped", "raw-bytes", "mixed-1", "mixed-2", "escaped-name"],
)
def test_utf8_escaped_or_raw_decodes_to_the_same_text(
    query: str, errors: Errors
) -> None:
    assert pairs_of(query, QueryParser(errors=errors)) == [("q", "é")]


@pytest.mark.parametrize(
    ("query", "pairs"),
    [
        ("a+b=c+d", [("a b", "c d")]),
        ("q=1%2B1", [("q", "1+1")]),
        ("q=a%26b%3Dc", [("q", "a&b=c")]),
        ("k%3Dx=v", [("k=x", "v")]),
        ("q=%20%09", [("q", " \t")]),
        ("a=1=2", [("a", "1=2")]),
        ("q=%E2%9C%93+%F0%9F%98%80", [("q", "✓ 😀")]),
        ("Q=%c3%a9", [("Q", "é")]),
        ("q=%00", [("q", "\x00")]),
    ],
)
def test_plus_is_space_and_escapes_decode_after_splitting(
    query: str, pairs: Pairs
) -> None:
    assert pairs_of(query) == pairs
    assert pairs_of(query, STRICT) == pairs


def test_semicolon_is_not_a_separator() -> None:
    assert pairs_of("a=1;b=2&c=3") == [("a", "1;b=2"), ("c", "3")]
    assert pairs_of("a;b") == [("a;b", "")]


@pytest.mark.parametrize(
    ("query", "pairs"),
    [
        ("a", [("a", "")]),
        ("a=", [("a", "")]),
        ("a&b=2", [("a", ""), ("b", "2")]),
        ("=b", [("", "b")]),
        ("=", [("", "")]),
        ("a=1&&b=2", [("a", "1"), ("b", "2")]),
        ("&a=1&", [("a", "1")]),
        ("&&&", []),
        ("", []),
    ],
)
def test_blank_values_are_kept_and_empty_fields_skipped(
    query: str, pairs: Pairs
) -> None:
    assert pairs_of(query) == pairs
    assert parse_query(query) == parse_qsl(query, keep_blank_values=True)


def test_missing_query_string_is_an_empty_mapping() -> None:
    result, app, environ = run(None)
    assert result.status == "200 OK"
    assert app.pairs == []
    assert "QUERY_STRING" not in environ
    assert isinstance(environ[ENVIRON_KEY], QueryDict)


@pytest.mark.parametrize(
    ("charset", "query", "value"),
    [
        ("latin-1", "q=%E9", "é"),
        ("latin-1", "q=\xe9", "é"),
        ("cp1252", "q=%80", "€"),
        ("shift_jis", "q=%82%A0", "あ"),
        ("utf-8", "q=%E9", "\ufffd"),
    ],
)
def test_a_configured_charset_decodes_the_bytes(
    charset: str, query: str, value: str
) -> None:
    assert pairs_of(query, QueryParser(charset=charset)) == [("q", value)]


@pytest.mark.parametrize(
    ("query", "pairs"),
    [
        ("q=\u20ac", [("q", "€")]),  # the server decoded UTF-8 itself
        ("q=\udcc3\udca9", [("q", "é")]),  # ... with surrogateescape
        ("q=\ud800", [("q", "\ufffd\ufffd\ufffd")]),  # ... with surrogatepass
    ],
)
def test_a_server_that_broke_pep_3333_does_not_cause_a_500(
    query: str, pairs: Pairs
) -> None:
    assert pairs_of(query) == pairs


# -- bad input: replace (default) or strict ------------------------------------


@pytest.mark.parametrize(
    ("query", "pairs", "message"),
    [
        (
            "q=%zz",
            [("q", "%zz")],
            "invalid percent-escape in query field 1 (the value)",
        ),
        ("q=%", [("q", "%")], "invalid percent-escape in query field 1 (the value)"),
        ("q=%4", [("q", "%4")], "invalid percent-escape in query field 1 (the value)"),
        (
            "q=%4g",
            [("q", "%4g")],
            "invalid percent-escape in query field 1 (the value)",
        ),
        (
            "q=%+4",
            [("q", "% 4")],
            "invalid percent-escape in query field 1 (the value)",
        ),
        ("a=1&&%x=2", [("a", "1"), ("%x", "2")], "field 2 (the name)"),
        ("q=%ff", [("q", "\ufffd")], "query field 1 (the value) is not valid UTF-8"),
        ("q=\xff", [("q", "\ufffd")], "query field 1 (the value) is not valid UTF-8"),
        (
            "a=1&b=2&c=\xe9t\xe9",
            [("a", "1"), ("b", "2"), ("c", "\ufffdt\ufffd")],
            "field 3",
        ),
        ("q=%C3", [("q", "\ufffd")], "not valid UTF-8"),  # truncated
        ("q=%C0%AF", [("q", "\ufffd\ufffd")], "not valid UTF-8"),  # overlong "/"
        ("q=%ED%A0%80", [("q", "\ufffd\ufffd\ufffd")], "not valid UTF-8"),  # surrogate
        ("%ff=1", [("\ufffd", "1")], "field 1 (the name) is not valid UTF-8"),
    ],
)
def test_bad_input_is_replaced_by_default_and_refused_when_strict(
    query: str, pairs: Pairs, message: str
) -> None:
    assert pairs_of(query) == pairs
    result, app, _ = run(query, STRICT)
    assert result.status == "400 Bad Request"
    assert result.header("Content-Type") == "text/plain; charset=utf-8"
    assert message in result.body.decode()
    assert app.calls == 0


def test_the_400_body_never_quotes_the_input() -> None:
    hostile = "x=<script>alert(1)</script>%ff" + "\xff" * 10
    result, _, _ = run(hostile, STRICT)
    assert result.status == "400 Bad Request"
    assert b"script" not in result.body
    assert len(result.body) < 200


def test_strict_refuses_a_bad_query_even_if_the_app_never_reads_it() -> None:
    result, app, _ = run("q=%ff", STRICT, app=QueryApp(read=False))
    assert result.status == "400 Bad Request"
    assert app.calls == 0


def test_strict_accepts_what_replace_accepts_unchanged() -> None:
    query = "a=1&b=%C3%A9&c=\xe2\x9c\x93&d"
    assert pairs_of(query, STRICT) == pairs_of(query) == reference(query)


@pytest.mark.parametrize("query", ["q=%ff", "a" * 9000, "&".join(["a"] * 1001)])
def test_head_gets_a_4xx_without_a_body(query: str) -> None:
    result, app, _ = run(query, STRICT, method="HEAD")
    assert result.status_code in (400, 414)
    assert result.body == b""
    assert app.calls == 0


def test_refusals_are_logged_at_debug_without_the_input(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG, logger="wsgimw.query"):
        run("evil=%ff<script>", STRICT)
        run("evil<script>=" + "x" * 9000)
    assert [r.name for r in caplog.records] == ["wsgimw.query", "wsgimw.query"]
    assert "field 1" in caplog.text
    assert "9013 bytes" in caplog.text
    assert "script" not in caplog.text


def test_bad_query_is_a_value_error_for_direct_callers() -> None:
    with pytest.raises(BadQuery, match="field 2"):
        parse_query("a=1&b=%ff", errors="strict")
    assert issubclass(BadQuery, ValueError)


# -- repeated keys: order, first, last, getall, getone ----------------------------


def test_repeated_keys_keep_every_value_in_order() -> None:
    _, app, _ = run("a=1&b=x&a=2&a=3")
    query = app.query
    assert query is not None
    assert isinstance(query, type(webob_multidict([])))
    assert list(query.items()) == [("a", "1"), ("b", "x"), ("a", "2"), ("a", "3")]
    assert list(query.keys()) == ["a", "b", "a", "a"]  # keys repeat
    assert len(query) == 4  # counts pairs, not keys
    assert query.getall("a") == ["1", "2", "3"]
    assert query.first("a") == "1"
    assert query.last("a") == "3"
    # WebOb's MultiDict: [] and .get() give the LAST value.
    assert query["a"] == "3"
    assert query.get("a") == "3"
    assert query.getone("b") == "x"
    with pytest.raises(KeyError, match="Multiple values"):
        query.getone("a")
    assert query.mixed() == {"a": ["1", "2", "3"], "b": "x"}
    assert query.dict_of_lists() == {"a": ["1", "2", "3"], "b": ["x"]}


def test_setdefault_and_pop_act_on_the_first_value() -> None:
    # WebOb's MultiDict is not consistent here: [] reads the last value,
    # setdefault() and pop() the first.
    _, app, _ = run("a=1&a=2")
    query = app.query
    assert query is not None
    assert query.setdefault("a", "x") == "1"
    assert query.pop("a") == "1"
    assert list(query.items()) == [("a", "2")]


def test_missing_keys() -> None:
    _, app, _ = run("a=1")
    query = app.query
    assert query is not None
    assert query.first("z") is None
    assert query.last("z") is None
    assert query.first("z", "") == ""
    assert query.get("z") is None
    assert query.getall("z") == []
    assert "z" not in query
    with pytest.raises(KeyError):
        query["z"]
    with pytest.raises(KeyError, match="Key not found"):
        query.getone("z")


def test_blank_value_is_not_missing() -> None:
    _, app, _ = run("a&b=")
    query = app.query
    assert query is not None
    assert query.first("a", "default") == ""
    assert query.last("b", "default") == ""


# -- the environ ------------------------------------------------------------------


def test_only_wsgimw_query_is_added_to_the_environ() -> None:
    environ = make_environ("/path", QUERY_STRING="a=1;b=%C3%A9&a=2")
    before = dict(environ)
    call_app(QueryParser()(QueryApp()), environ)
    assert environ.pop(ENVIRON_KEY).getall("a") == ["1;b=é", "2"]
    assert environ == before


def test_changing_the_mapping_does_not_change_query_string() -> None:
    _, app, environ = run("a=1")
    assert app.query is not None
    app.query["a"] = "2"
    app.query.add("b", "3")
    assert environ["QUERY_STRING"] == "a=1"
    assert list(app.query.items()) == [("a", "2"), ("b", "3")]


def test_the_apps_iterable_is_returned_untouched() -> None:
    for parser in (QueryParser(), STRICT):
        for query in ("", "a=1", "q=%C3%A9"):
            app = ScriptedApp()
            environ = make_environ("/", QUERY_STRING=query)
            iterable = parser(app)(environ, lambda s, h, e=None: lambda d: None)
            assert iterable is app.last_iterable
            assert app.closes == 0
            iterable.close()  # type: ignore[attr-defined]


def test_a_nested_parser_does_not_reparse() -> None:
    app = QueryApp()
    outer = QueryParser(charset="latin-1")
    inner = QueryParser()
    result, _, _ = run("q=%E9", outer, app=app)
    assert app.pairs == [("q", "é")]
    environ = make_environ("/", QUERY_STRING="q=%E9")
    seen: list[QueryDict] = []

    def spy(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        seen.append(environ[ENVIRON_KEY])
        return app(environ, start_response)

    result = call_app(outer(inner(spy)), environ)
    assert result.status == "200 OK"
    assert app.pairs == [("q", "é")]  # latin-1, from the outer layer
    assert seen == [environ[ENVIRON_KEY]]
    assert seen[0] is environ[ENVIRON_KEY]
    environ = make_environ("/")
    call_app(outer(inner(spy)), environ)
    assert seen[1] is environ[ENVIRON_KEY]
    assert app.pairs == []


def test_a_mapping_already_there_is_left_alone_but_limits_still_apply() -> None:
    mine = webob_multidict([("set", "by someone else")])
    app = QueryApp()
    environ = make_environ("/", QUERY_STRING="a=1")
    environ[ENVIRON_KEY] = mine
    call_app(QueryParser()(app), environ)
    assert app.query is mine
    environ = make_environ("/", QUERY_STRING="a=1&b=2")
    environ[ENVIRON_KEY] = mine
    result = call_app(QueryParser(max_fields=1)(app), environ)
    assert result.status == "400 Bad Request"


# -- laziness -----------------------------------------------------------------------


def count_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = wsgimw.query.parse_query

    def counting(
        query: str, charset: str = "utf-8", errors: Errors = "replace"
    ) -> Pairs:
        calls.append(query)
        return real(query, charset, errors)

    monkeypatch.setattr(wsgimw.query, "parse_query", counting)
    return calls


@pytest.mark.parametrize("parser", [QueryParser(), STRICT], ids=repr)
def test_an_app_that_never_reads_the_query_never_parses_it(
    parser: QueryParser, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = count_parses(monkeypatch)
    result, _, _ = run("a=1&b=two+words", parser, app=QueryApp(read=False))
    assert result.status == "200 OK"
    assert calls == []


def test_the_query_is_parsed_once_on_first_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = count_parses(monkeypatch)
    _, app, _ = run("a=1&b=%C3%A9", app=QueryApp(read=False))
    assert calls == []
    assert app.query is not None
    assert app.query["b"] == "é"
    assert app.query.getall("a") == ["1"]
    assert list(app.query.items()) == [("a", "1"), ("b", "é")]
    assert calls == ["a=1&b=%C3%A9"]


def test_a_query_dict_copies_and_pickles_as_its_pairs() -> None:
    _, app, _ = run("a=1&a=2&b=%C3%A9", app=QueryApp(read=False))
    query = app.query
    assert query is not None
    pairs = [("a", "1"), ("a", "2"), ("b", "é")]
    for clone in (
        copy.copy(query),
        copy.deepcopy(query),
        query.copy(),
        pickle.loads(pickle.dumps(query)),
    ):
        assert type(clone) is QueryDict
        assert list(clone.items()) == pairs
        assert clone.last("a") == "2"
    assert list(QueryDict(pairs).items()) == pairs
    assert list(QueryDict().items()) == []


# -- limits -------------------------------------------------------------------------


def test_max_length_counts_bytes_and_answers_414() -> None:
    assert run("q=" + "x" * 8190)[0].status == "200 OK"
    result, app, _ = run("q=" + "x" * 8191)
    assert result.status == "414 URI Too Long"
    assert result.body == b"query string too long: 8193 bytes; the limit is 8192\n"
    assert app.calls == 0
    assert run("q=\xc3\xa9", QueryParser(max_length=3))[0].status_code == 414


def test_max_fields_counts_non_empty_fields_and_answers_400() -> None:
    fields = "&".join(f"k{i}=v" for i in range(1000))
    assert len(pairs_of(fields)) == 1000
    unlimited = QueryParser(max_length=None)
    assert len(pairs_of("&" * 5000 + fields + "&&", unlimited)) == 1000
    result, app, _ = run(fields + "&one=more")
    assert result.status == "400 Bad Request"
    assert result.body == b"too many query fields: 1001; the limit is 1000\n"
    assert app.calls == 0
    assert run("a&b&c", QueryParser(max_fields=2))[0].status_code == 400
    assert run("a&&b", QueryParser(max_fields=2))[0].status_code == 200


def test_limits_apply_whether_or_not_the_app_reads_the_query() -> None:
    for query in ("x" * 9000, "a&" * 1001):
        result, app, _ = run(query, app=QueryApp(read=False))
        assert result.status_code in (400, 414)
        assert app.calls == 0


def test_none_disables_a_limit() -> None:
    parser = QueryParser(max_length=None, max_fields=None)
    fields = "&".join(["a=1"] * 5000)
    assert len(pairs_of(fields, parser)) == 5000


# -- construction -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"max_length": 0}, ValueError, "max_length must be >= 1"),
        ({"max_length": -5}, ValueError, "max_length must be >= 1"),
        ({"max_fields": 0}, ValueError, "max_fields must be >= 1"),
        ({"max_length": True}, TypeError, "max_length must be an int"),
        ({"max_fields": False}, TypeError, "max_fields must be an int"),
        ({"max_length": 10.0}, TypeError, "max_length must be an int"),
        ({"max_fields": "1000"}, TypeError, "max_fields must be an int"),
        ({"charset": "klingon"}, ValueError, "unknown charset 'klingon': use"),
        ({"charset": None}, TypeError, "charset must be a codec name"),
        ({"charset": b"utf-8"}, TypeError, "charset must be a codec name"),
        ({"charset": "utf-16"}, ValueError, "keeps ASCII as it is"),
        ({"charset": "utf-32"}, ValueError, "keeps ASCII as it is"),
        ({"charset": "utf-7"}, ValueError, "keeps ASCII as it is"),
        ({"charset": "cp500"}, ValueError, "keeps ASCII as it is"),
        ({"charset": "iso2022_jp"}, ValueError, "keeps ASCII as it is"),
        ({"charset": "hz"}, ValueError, "keeps ASCII as it is"),
        ({"charset": "idna"}, ValueError, "keeps ASCII as it is"),
        ({"charset": "base64"}, ValueError, "keeps ASCII as it is"),
        ({"charset": "rot13"}, ValueError, "keeps ASCII as it is"),
        ({"errors": "ignore"}, ValueError, "errors must be 'replace' or 'strict'"),
        ({"errors": None}, ValueError, "errors must be 'replace' or 'strict'"),
        ({"max_size": 10}, TypeError, "max_size"),
    ],
)
def test_bad_options_fail_at_construction(
    options: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        QueryParser(**options)  # type: ignore[arg-type]


def test_options_are_keyword_only_and_apps_must_be_callable() -> None:
    with pytest.raises(TypeError):
        QueryParser("utf-8")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="wraps a WSGI app"):
        QueryParser()("not an app")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("parser", "text"),
    [
        (QueryParser(), "QueryParser()"),
        (QueryParser(charset="UTF8", max_length=8192), "QueryParser()"),
        (QueryParser(charset="latin-1"), "QueryParser(charset='iso8859-1')"),
        (
            QueryParser(errors="strict", max_length=None, max_fields=10),
            "QueryParser(errors='strict', max_length=None, max_fields=10)",
        ),
    ],
)
def test_repr_shows_the_options_that_differ(parser: QueryParser, text: str) -> None:
    assert repr(parser) == text


def test_no_per_request_state_on_the_instance() -> None:
    parser = QueryParser()
    assert not hasattr(parser, "__dict__")
    run("a=1", parser)
    assert repr(parser) == "QueryParser()"


# -- the shared fault matrix --------------------------------------------------------


@pytest.mark.parametrize("query", ["", "a=1&b=%C3%A9"], ids=["empty", "query"])
@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_fault_matrix(fault: Fault, query: str) -> None:
    check_fault(QueryParser(), fault, QUERY_STRING=query)


@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_fault_matrix_strict(fault: Fault) -> None:
    check_fault(STRICT, fault, QUERY_STRING="a=%C3%A9")


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("query", ["q=%ff", "x" * 8193, "a&" * 1001])
def test_refusals_pass_lint_and_wsgiref_validate(query: str, method: str) -> None:
    from wsgiref.validate import validator

    app = ScriptedApp()
    outer, inner = Lint(below="QueryParser"), Lint(above="QueryParser")
    wrapped: WSGIApp = outer(validator(STRICT(validator(inner(app)))))
    result = call_app(wrapped, "/", method=method, QUERY_STRING=query)
    outer.verify()
    inner.verify()
    assert result.status_code in (400, 414)
    assert app.last_iterable is None


# -- properties ---------------------------------------------------------------------

# Latin-1 text with the characters that matter made common.
latin1_queries = st.text(
    alphabet=st.one_of(
        st.sampled_from("&=+%;aZ09fF"),
        st.characters(max_codepoint=0xFF),
    ),
    max_size=80,
)


@given(latin1_queries)
@example("%")
@example("q=%C3%A9&q=\xc3\xa9")
@example("a=%e")
def test_any_latin1_query_parses_like_the_reference(query: str) -> None:
    result, app, environ = run(query)
    assert result.status == "200 OK"
    assert app.pairs == reference(query)
    assert environ["QUERY_STRING"] == query


@given(latin1_queries)
def test_strict_never_fails_worse_than_a_400(query: str) -> None:
    result, app, environ = run(query, STRICT)
    assert result.status in ("200 OK", "400 Bad Request")
    assert environ["QUERY_STRING"] == query
    if result.status == "200 OK":
        assert app.pairs == reference(query)
    else:
        assert app.calls == 0


@given(st.text(max_size=40))
def test_any_native_string_never_gives_a_5xx(query: str) -> None:
    # Even a server that breaks PEP 3333 (characters above U+00FF,
    # surrogates) does not make the parser fail.
    for parser in (QueryParser(), STRICT):
        result, _, environ = run(query, parser)
        assert result.status in ("200 OK", "400 Bad Request")
        assert environ["QUERY_STRING"] == query


text = st.text(st.characters(codec="utf-8"), max_size=12)
pairs_lists = st.lists(st.tuples(text, text), max_size=8)


@given(pairs_lists)
def test_urlencode_round_trips(pairs: Pairs) -> None:
    assert pairs_of(urlencode(pairs)) == pairs
    assert pairs_of(urlencode(pairs, quote_via=quote)) == pairs
    assert pairs_of(urlencode(pairs), STRICT) == pairs


@given(
    pairs_lists,
    st.lists(st.integers(min_value=0, max_value=3), min_size=9, max_size=9),
)
def test_quoted_fields_with_stray_separators_round_trip(
    pairs: Pairs, gaps: list[int]
) -> None:
    fields = [f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs]
    # Between fields one '&' or more; before and after, any number.
    separators = ["&" * (gap + (i > 0)) for i, gap in enumerate(gaps)]
    query = "".join(s + f for s, f in zip(separators, fields, strict=False))
    query += "&" * gaps[-1]
    result, app, environ = run(query)
    assert result.status == "200 OK"
    assert app.pairs == pairs
    assert environ["QUERY_STRING"] == query


@given(pairs_lists)
def test_agrees_with_webob_on_well_formed_queries(pairs: Pairs) -> None:
    query = urlencode(pairs)
    request = webob_request(make_environ("/", QUERY_STRING=query))
    assert pairs_of(query) == list(request.GET.items()) == pairs


# -- where WebOb's parser (Request.GET, webob 1.8) is wrong ------------------------


def webob_get(query: str) -> Pairs:
    request = webob_request(make_environ("/", QUERY_STRING=query))
    return list(request.GET.items())


@pytest.mark.parametrize(
    ("query", "ours", "webobs"),
    [
        # ';' is a separator for WebOb (an HTML 4 recommendation that the URL
        # standard and urllib dropped; it lets proxies and apps disagree on
        # the parameters, as in web cache poisoning).
        ("a=1;b=2", [("a", "1;b=2")], [("a", "1"), ("b", "2")]),
        # WebOb reads '%' and ONE hex digit as a byte.
        ("q=%4", [("q", "%4")], [("q", "\x04")]),
        # ... and it parses escapes with int(x, 16), which skips whitespace,
        # so with '+' turned into a space first, "%+4" and "%4+" are \x04.
        ("q=%+4", [("q", "% 4")], [("q", "\x04")]),
        ("q=%4+x", [("q", "%4 x")], [("q", "\x04x")]),
    ],
)
def test_webob_differs_on(query: str, ours: Pairs, webobs: Pairs) -> None:
    assert pairs_of(query) == ours
    assert webob_get(query) == webobs


@pytest.mark.parametrize("query", ["q=%ff", "q=\xe9", "%C3=1"])
def test_webob_raises_on_invalid_utf8_where_we_replace_or_400(query: str) -> None:
    # Request.GET raises UnicodeDecodeError: a 500 for a client's typo.
    with pytest.raises(UnicodeDecodeError):
        webob_get(query)
    assert "\ufffd" in str(pairs_of(query))
    assert run(query, STRICT)[0].status == "400 Bad Request"


def test_webob_raises_on_a_non_latin1_native_string() -> None:
    with pytest.raises(UnicodeEncodeError):
        webob_get("q=\u20ac")
    assert pairs_of("q=\u20ac") == [("q", "€")]


def test_webob_writes_to_the_environ_and_we_do_not() -> None:
    environ = make_environ("/", QUERY_STRING="a=1")
    webob_request(environ).GET.add("b", "2")
    assert environ["QUERY_STRING"] == "a=1&b=2"  # GetDict writes back
    assert "webob._parsed_query_vars" in environ
    _, app, environ = run("a=1")
    assert app.query is not None
    app.query.add("b", "2")
    assert environ["QUERY_STRING"] == "a=1"
    assert set(environ) - set(make_environ("/")) == {ENVIRON_KEY}


def test_a_subrequest_with_another_query_is_parsed_afresh() -> None:
    seen: list[Pairs] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        seen.append(list(environ[ENVIRON_KEY].items()))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b""]

    parser = QueryParser()

    def forwarding(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        for query in ("page=2", ""):
            sub = dict(environ, QUERY_STRING=query)
            list(
                parser(app)(sub, lambda status, headers, exc_info=None: lambda d: None)
            )
        return parser(app)(environ, start_response)

    call_app(parser(forwarding), "/?page=1")
    assert seen == [[("page", "2")], [], [("page", "1")]]


@pytest.mark.parametrize("charset", ["raw_unicode_escape", "unicode_escape"])
def test_escape_codecs_are_refused(charset: str) -> None:
    with pytest.raises(ValueError, match="cannot decode query strings"):
        QueryParser(charset=charset)
