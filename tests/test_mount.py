"""Mount: segment-boundary prefixes, SCRIPT_NAME/PATH_INFO moved exactly,
the longest prefix first, composition, the slash redirect, PasteDeploy's
urlmap equivalent."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wsgimw import Mount
from wsgimw.testing import (
    FAULTS,
    Fault,
    Lint,
    Result,
    call_app,
    check_fault,
    make_environ,
)
from wsgimw.types import Environ, StartResponse, WSGIApp


class Echo:
    """An app that answers with its name and the paths it was given."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Echo({self.name!r})"

    def __call__(
        self, environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        body = json.dumps(
            [self.name, environ["SCRIPT_NAME"], environ["PATH_INFO"]]
        ).encode()
        start_response(
            "200 OK",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]


API, V2, SITE = Echo("api"), Echo("v2"), Echo("site")


def request(app: WSGIApp, path: str, **options: Any) -> Result:
    outer = Lint(below="Mount")
    result = call_app(outer(app), path, **options)
    outer.verify()
    return result


def seen(app: WSGIApp, path: str, **options: Any) -> list[str]:
    result = request(app, path, **options)
    assert result.status == "200 OK", result
    return list(json.loads(result.body))


def mounted(*args: Any, **options: Any) -> WSGIApp:
    return Mount(*args, **options)(Lint(above="Mount")(SITE))


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api", ["api", "/api", ""]),
        ("/api/", ["api", "/api", "/"]),
        ("/api/users/7", ["api", "/api", "/users/7"]),
        ("/apix", ["site", "", "/apix"]),
        ("/ap", ["site", "", "/ap"]),
        ("/", ["site", "", "/"]),
        ("/other/api", ["site", "", "/other/api"]),
        ("/API", ["site", "", "/API"]),  # paths are case-sensitive
    ],
)
def test_segment_boundary_and_exact_shift(path: str, expected: list[str]) -> None:
    assert seen(mounted("/api", Lint(above="Mount")(API)), path) == expected


def test_script_name_is_kept_and_extended() -> None:
    app = mounted("/api", API)
    environ = make_environ("/api/x", SCRIPT_NAME="/app")
    assert seen(app, environ) == ["api", "/app/api", "/x"]  # type: ignore[arg-type]


def test_a_trailing_slash_in_the_prefix_is_the_same_mount() -> None:
    assert seen(mounted("/api/", API), "/api") == ["api", "/api", ""]


@pytest.mark.parametrize(
    "mapping",
    [{"/api": API, "/api/v2": V2}, {"/api/v2": V2, "/api": API}],
    ids=["short-first", "long-first"],
)
def test_a_mapping_tries_the_longest_prefix_first(mapping: dict[str, WSGIApp]) -> None:
    app = mounted(mapping)
    assert seen(app, "/api/v2/x") == ["v2", "/api/v2", "/x"]
    assert seen(app, "/api/v2") == ["v2", "/api/v2", ""]
    assert seen(app, "/api/v2x") == ["api", "/api", "/v2x"]
    assert seen(app, "/api/v1") == ["api", "/api", "/v1"]
    assert seen(app, "/x") == ["site", "", "/x"]
    assert Mount(mapping).prefixes == ["/api/v2", "/api"]


def test_single_mounts_compose() -> None:
    app = Mount("/api", API)(Mount("/api/v2", V2)(SITE))
    # The outer mount takes /api/v2 too: it comes first. Nest the other way
    # round, or use one mapping, for the longest prefix first.
    assert seen(app, "/api/v2/x") == ["api", "/api", "/v2/x"]
    app = Mount("/api/v2", V2)(Mount("/api", API)(SITE))
    assert seen(app, "/api/v2/x") == ["v2", "/api/v2", "/x"]
    assert seen(app, "/api/x") == ["api", "/api", "/x"]
    # A mounted app that mounts its own.
    inner = Mount("/v2", V2)(API)
    app = Mount("/api", inner)(SITE)
    assert seen(app, "/api/v2/y") == ["v2", "/api/v2", "/y"]
    assert seen(app, "/api/y") == ["api", "/api", "/y"]


@pytest.mark.parametrize(
    ("method", "status"), [("GET", "301"), ("HEAD", "301"), ("POST", "308")]
)
def test_redirect_slash(method: str, status: str) -> None:
    app = mounted("/api", API, redirect_slash=True)
    result = request(app, "/api", method=method, QUERY_STRING="a=1&b=%20")
    assert result.status[:3] == status
    assert result.header("Location") == "/api/?a=1&b=%20"
    assert seen(app, "/api/") == ["api", "/api", "/"]


def test_redirect_keeps_script_name_and_never_leaves_the_site() -> None:
    app = mounted("/api", API, redirect_slash=True)
    result = request(app, make_environ("/api", SCRIPT_NAME="/"))  # type: ignore[arg-type]
    assert result.header("Location") == "/api/"
    result = request(app, make_environ("/api", SCRIPT_NAME="/app"))  # type: ignore[arg-type]
    assert result.header("Location") == "/app/api/"
    result = request(app, make_environ("/api", SCRIPT_NAME="/caf\xc3\xa9"))  # type: ignore[arg-type]
    assert result.header("Location") == "/caf%C3%A9/api/"
    raw = call_app(
        Mount("/api", API, redirect_slash=True)(SITE),
        "/",
        PATH_INFO="/api",
        SCRIPT_NAME="/\u2603",
        QUERY_STRING="q=\r\n",
    )
    assert raw.header("Location") == "/%E2%98%83/api/?q=%0D%0A"


@pytest.mark.parametrize(
    ("args", "error", "words"),
    [
        (("api", API), ValueError, "plain URL path"),
        (("/", API), ValueError, "would take every request"),
        (("", API), ValueError, "would take every request"),
        (("/a//b", API), ValueError, "plain URL path"),
        (("/a/../b", API), ValueError, "plain URL path"),
        (("/a b", API), ValueError, "plain URL path"),
        (("/a?b", API), ValueError, "plain URL path"),
        ((b"/api", API), TypeError, "a str"),
        (("/api",), TypeError, "needs the app"),
        (("/api", "app"), TypeError, "must be a WSGI app"),
        (({"/api": API}, API), TypeError, "not a mapping and an app"),
        (({},), ValueError, "empty mapping"),
        (({"/api": API, "/api/": V2},), ValueError, "two mounts"),
    ],
)
def test_bad_arguments_fail_at_construction(
    args: tuple[Any, ...], error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words):
        Mount(*args)


def test_options_are_keyword_only_and_checked() -> None:
    with pytest.raises(TypeError):
        Mount("/api", API, True)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="True or False"):
        Mount("/api", API, redirect_slash="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="callable"):
        Mount("/api", API)(None)  # type: ignore[arg-type]


def test_repr() -> None:
    assert repr(Mount("/api", API)) == "Mount({'/api': Echo('api')})"
    assert repr(Mount({"/a": API, "/a/b": V2}, redirect_slash=True)) == (
        "Mount({'/a/b': Echo('v2'), '/a': Echo('api')}, redirect_slash=True)"
    )


def test_the_mounted_apps_iterable_is_returned_untouched() -> None:
    body = [b"x"]

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return body

    wrapped = Mount("/api", app)(SITE)
    assert wrapped(make_environ("/api/x"), lambda *a: lambda d: None) is body


@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_fault_matrix_passed_on(fault: Fault) -> None:
    check_fault(Mount("/x", SITE), fault)


@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_fault_matrix_mounted(fault: Fault) -> None:
    check_fault(_Rooted, fault)


class _Rooted:
    """Mount the faulty app at /m and send the matrix's "/" there (a mount
    at "/" is refused: it would be the app itself)."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = Mount("/m", app)(SITE)

    def __call__(
        self, environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        environ["PATH_INFO"] = "/m" + environ["PATH_INFO"]
        return self.app(environ, start_response)


SEGMENTS = st.lists(
    st.sampled_from(["api", "apix", "v2", "", ".", "..", "a b", "%2F", "\xe9"]),
    max_size=5,
).map(lambda parts: "/" + "/".join(parts))


@settings(max_examples=300, deadline=None)
@given(path=SEGMENTS, script_name=st.sampled_from(["", "/app"]))
def test_any_path_is_split_exactly(path: str, script_name: str) -> None:
    app = Mount({"/api": API, "/api/v2": V2})(SITE)
    environ = make_environ("/", PATH_INFO=path, SCRIPT_NAME=script_name)
    name, script, rest = seen(app, environ)  # type: ignore[arg-type]
    assert script + rest == script_name + path  # nothing lost, nothing added
    if name == "site":
        assert path != "/api"
        assert not path.startswith("/api/")
    else:
        prefix = {"api": "/api", "v2": "/api/v2"}[name]
        assert script == script_name + prefix
        assert rest == "" or rest.startswith("/")
        if name == "api":
            assert path != "/api/v2"
            assert not path.startswith("/api/v2/")


# -- PasteDeploy: the urlmap composite -------------------------------------------------


def app_factory(global_conf: dict[str, str], **local_conf: str) -> WSGIApp:
    return Echo(local_conf["name"])


def load(tmp_path: Path, body: str) -> WSGIApp:
    from paste.deploy import loadapp

    ini = tmp_path / "site.ini"
    apps = "".join(
        f"\n[app:{name}]\npaste.app_factory = test_mount:app_factory\nname = {name}\n"
        for name in ("api", "v2", "site", "missing")
    )
    ini.write_text(f"[composite:main]\nuse = egg:wsgimw#urlmap\n{body}\n{apps}")
    return loadapp(f"config:{ini}")  # type: ignore[no-any-return]


def test_urlmap_composite(tmp_path: Path) -> None:
    app = load(tmp_path, "/api = api\n/api/v2/ = v2\n/ = site\nredirect_slash = true")
    assert seen(app, "/api/v2/x") == ["v2", "/api/v2", "/x"]
    assert seen(app, "/api/x") == ["api", "/api", "/x"]
    assert seen(app, "/elsewhere") == ["site", "", "/elsewhere"]
    assert request(app, "/api").status[:3] == "301"


def test_urlmap_not_found_app_and_the_default_404(tmp_path: Path) -> None:
    app = load(tmp_path, "/api = api\nnot_found_app = missing")
    assert seen(app, "/x") == ["missing", "", "/x"]
    app = load(tmp_path, "/api = api")
    assert request(app, "/x").status == "404 Not Found"


@pytest.mark.parametrize(
    ("conf", "words"),
    [
        ({}, "mounts nothing"),
        ({"/": "site"}, "mounts nothing"),
        ({"/a/../b": "api"}, "plain URL path"),
        ({"/api": "api", "/api/": "v2"}, "two apps"),
        ({"/api": "api", "colour": "red"}, "no option 'colour'"),
        ({"/api": "api", "/": "site", "not_found_app": "missing"}, "keep one"),
        ({"/api": "api", "redirect_slash": "maybe"}, "true or false"),
    ],
)
def test_urlmap_errors(conf: dict[str, str], words: str) -> None:
    from wsgimw.pastedeploy import urlmap

    with pytest.raises(ValueError, match=words):
        urlmap(None, {}, **conf)


def test_urlmap_values_are_strings() -> None:
    from wsgimw.pastedeploy import urlmap

    with pytest.raises(TypeError, match="are str"):
        urlmap(None, {}, **{"/api": 3})  # type: ignore[arg-type]
