"""Bounded work on hostile client headers (issue 17): the caps each parser
keeps, checked by outcome (never by timing, architecture §6)."""

from __future__ import annotations

from collections.abc import Iterable

from wsgimw import BasicAuth
from wsgimw.auth import MAX_FOLDED_PATH
from wsgimw.testing import Lint, call_app
from wsgimw.types import Environ, StartResponse

HASH = "{SHA}" + "A" * 27 + "="


def hello(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def status_for(path_info: str) -> int:
    outer, inner = Lint(below="BasicAuth"), Lint(above="BasicAuth")
    auth = BasicAuth(users={"alice": HASH}, protect=["/admin"])
    result = call_app(outer(auth(inner(hello))), PATH_INFO=path_info)
    outer.verify()
    return result.status_code


def test_a_non_ascii_path_too_long_to_fold_is_treated_as_protected() -> None:
    # "é" as a server gives it (UTF-8 bytes as latin-1): two characters.
    e_acute = "é".encode().decode("latin-1")
    within = "/public/" + e_acute * ((MAX_FOLDED_PATH - 8) // 2)
    beyond = "/public/" + e_acute * 125_000  # 250 KB: was 31 ms of folding
    assert len(within) <= MAX_FOLDED_PATH < len(beyond)
    assert status_for(within) == 200  # folded: outside protect=
    assert status_for(beyond) == 401  # not folded: credentials are checked


def test_protect_still_folds_short_non_ascii_spellings() -> None:
    fullwidth = "/\uff41\uff44\uff4d\uff49\uff4e/x".encode().decode("latin-1")
    assert status_for(fullwidth) == 401
    assert status_for("/ADMIN") == 401


def test_a_long_ascii_path_is_compared_as_it_is() -> None:
    # ASCII is only lower-cased (cheap): no cap needed, outside stays open.
    assert status_for("/public/" + "a" * 300_000) == 200
    assert status_for("/admin/" + "a" * 300_000) == 401
