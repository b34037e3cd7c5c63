"""The framework recipes (recipes/frameworks/): a real app of each framework,
wrapped by a wsgimw stack at the framework's usual integration point.

In-process, every request goes through a `Lint` on both sides of the stack:
between the server and the stack, and between the stack and the framework's
own app, so a broken rule names the side that broke it. Then each recipe is
copied into a new project, as a user would copy it, served from there with
its own ``main()`` and spoken to with `http.client` (see
``test_copied_recipes.py`` for how the project is kept apart from this
checkout).

The expected pages, credentials and messages are written here, not imported
from the recipes: each recipe holds its own copy, and the tests check that
every copy says what the docs say.

No warning filter is needed for the others: none of those frameworks warns
on the paths these recipes take (the Wheezy recipe sets the options whose
absence Wheezy warns about, and the Bottle recipe sets ``catchall`` the
non-deprecated way). TurboGears imports WebOb, whose import of ``cgi``
pyproject's filter covers. web2py's ``gluon`` imports ``imp`` (and
``cgitb`` when it writes a ticket), both deprecated: its tests ignore those
two warnings, and are skipped on Python 3.12 and later, which has no
``imp`` (web2py-gluon is not installed there).

web2py is unlike the others in three ways, each tested below: its recipe is
a folder that web2py writes into, so the tests import it from a copy;
web2py answers every error in the app itself, with its ticket page, so
`ErrorHandler` sees only errors outside ``wsgibase``; and its settings and
its importer are global to the process, so what it changes in the test
process is put back after each test.
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import gzip
import importlib
import importlib.util
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import MethodType, ModuleType
from typing import Any

import pytest
from _pytest.mark import ParameterSet
from servers import Server
from servers_real import _gunicorn_options
from test_copied_recipes import Project, make_user_python, request

from wsgimw import Pipeline
from wsgimw.testing import Lint, LintError, Result, call_app, make_environ
from wsgimw.types import WSGIApp

FRAMEWORKS = Path(__file__).resolve().parents[2] / "recipes" / "frameworks"
DEMO_USER = "demo"
DEMO_PASSWORD = "s3cret"
CREDENTIALS = {
    "Authorization": "Basic "
    + base64.b64encode(f"{DEMO_USER}:{DEMO_PASSWORD}".encode()).decode("ascii")
}
WRONG = {"Authorization": "Basic " + base64.b64encode(b"demo:wrong").decode("ascii")}
CHALLENGE = 'Basic realm="wsgimw recipes", charset="UTF-8"'
PRIVATE_TEXT = "Hello demo: only users with a password see this page.\n"
SEARCH_EXAMPLE = "/search?q=caf%C3%A9&tag=a&tag=b"
BOOM = "the page at /boom failed on purpose"
ERROR_PAGE = b"500 Internal Server Error\n"


#: web2py-gluon imports ``imp``, which Python 3.12 removed: it is installed,
#: and its recipe tested, on Python 3.11 and older only.
WEB2PY_MARKS = (
    pytest.mark.skipif(
        sys.version_info >= (3, 12),
        reason="web2py-gluon imports imp, which Python 3.12 removed",
    ),
    pytest.mark.filterwarnings(
        "ignore:the imp module is deprecated:DeprecationWarning"
    ),
    pytest.mark.filterwarnings("ignore:'cgitb' is deprecated:DeprecationWarning"),
)
#: The import function before web2py put its own in (see `_web2py_put_back`).
NATIVE_IMPORT = builtins.__import__


def assert_is_the_page(body: bytes, framework: str) -> None:
    """The page at ``/``: the framework's title, and about 8 kB."""
    text = body.decode("utf-8")
    assert text.startswith("<!doctype html>\n")
    assert f"<title>{framework} behind wsgimw</title>" in text
    assert 7_000 < len(body) < 9_000


@dataclass(frozen=True)
class Recipe:
    """One framework recipe, as the tests see it."""

    framework: str  # the name the page at / shows
    module: str  # its module in this checkout
    own_q: str  # the key of the framework's own parse of q in /search
    #: A path with no page, and the status the framework gives it: web2py
    #: answers a name with a hyphen "400 invalid request".
    missing: tuple[str, str] = ("/no-such-page", "404")

    @property
    def source(self) -> Path:
        """What a user copies: the module's file, or the recipe's folder
        (Django's package, web2py's folder)."""
        name = self.module.split(".")[2]
        return FRAMEWORKS / (name if self.is_folder else f"{name}.py")

    @property
    def is_folder(self) -> bool:
        return self.framework in ("Django", "web2py")

    @property
    def marks(self) -> tuple[pytest.MarkDecorator, ...]:
        return WEB2PY_MARKS if self.framework == "web2py" else ()

    def load(self) -> ModuleType:
        if self.framework == "web2py":
            return load_web2py()
        if self.framework != "Django":
            return importlib.import_module(self.module)
        # wsgi.py sets DJANGO_SETTINGS_MODULE, as Django's template does,
        # and Django then sets TZ from TIME_ZONE (and calls time.tzset()).
        # Django reads both once, when the module builds its application:
        # they are put back so that the other tests, and the servers they
        # start, see the environment they had.
        saved = {
            name: os.environ.get(name) for name in ("DJANGO_SETTINGS_MODULE", "TZ")
        }
        try:
            return importlib.import_module(self.module)
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            time.tzset()

    @property
    def pipeline(self) -> Pipeline:
        pipeline: Pipeline = self.load().pipeline
        return pipeline

    def served(self) -> WSGIApp:
        """What a server is given: for Flask the Flask object itself."""
        module = self.load()
        served: WSGIApp = (
            module.app if self.framework == "Flask" else module.application
        )
        return served

    def framework_app(self) -> WSGIApp:
        """The framework's own WSGI app, without the stack."""
        module = self.load()
        if self.framework == "Flask":
            from flask import Flask

            # The method the recipe replaced with the wrapped one.
            return MethodType(Flask.wsgi_app, module.app)
        if self.framework == "Django":
            from django.core.wsgi import (  # type: ignore[import-untyped]
                get_wsgi_application,
            )

            app: WSGIApp = get_wsgi_application()
            return app
        name = {
            "Bottle": "app",
            "CherryPy": "cherrypy_app",
            "Falcon": "app",
            "TurboGears": "turbogears_app",
            "Wheezy Web": "wheezy_app",
            "web2py": "web2py_app",
        }[self.framework]
        framework_app: WSGIApp = getattr(module, name)
        return framework_app


RECIPES = [
    Recipe("Django", "recipes.frameworks.django_site.wsgi", "django_q"),
    Recipe("Flask", "recipes.frameworks.flask_app", "flask_q"),
    Recipe("Bottle", "recipes.frameworks.bottle_app", "bottle_q"),
    Recipe("CherryPy", "recipes.frameworks.cherrypy_app", "cherrypy_q"),
    Recipe("Falcon", "recipes.frameworks.falcon_app", "falcon_q"),
    Recipe("TurboGears", "recipes.frameworks.turbogears_app", "turbogears_q"),
    Recipe("Wheezy Web", "recipes.frameworks.wheezy_app", "wheezy_q"),
    Recipe(
        "web2py",
        "recipes.frameworks.web2py_app.wsgi",
        "web2py_q",
        missing=("/no_such_page", "404"),
    ),
]
BY_NAME = {recipe.framework: recipe for recipe in RECIPES}


def _params(recipes: list[Recipe]) -> list[ParameterSet]:
    return [
        pytest.param(r, marks=r.marks, id=r.framework.split()[0].lower())
        for r in recipes
    ]


each_recipe = pytest.mark.parametrize("recipe", _params(RECIPES))
#: The recipes where an error in a view reaches ErrorHandler: all but web2py.
each_recipe_letting_errors_out = pytest.mark.parametrize(
    "recipe", _params([r for r in RECIPES if r.framework != "web2py"])
)
web2py_only = pytest.mark.parametrize("recipe", _params([BY_NAME["web2py"]]))

# -- web2py: a folder it writes into, and settings global to the process -------

#: Where the tests put web2py's copy of its recipe (set once per session).
_WEB2PY_BASE: list[pytest.TempPathFactory] = []
#: The recipe's module, imported once: web2py reads its folder once per process.
_WEB2PY_MODULE: list[ModuleType] = []


@pytest.fixture(scope="session", autouse=True)
def _web2py_tmp(tmp_path_factory: pytest.TempPathFactory) -> None:
    _WEB2PY_BASE[:] = [tmp_path_factory]


@pytest.fixture(autouse=True)
def _web2py_put_back() -> Iterator[None]:
    """web2py puts its own importer in ``builtins.__import__`` on every
    request, and leaves its request in the thread's ``gluon.current``: take
    both away again, so that later tests import as Python does."""
    yield
    if builtins.__import__ is not NATIVE_IMPORT:
        builtins.__import__ = NATIVE_IMPORT
        from gluon.globals import current  # type: ignore[import-untyped]

        current.__dict__.clear()


def load_web2py() -> ModuleType:
    """The web2py recipe's ``wsgi.py``, imported from a copy of its folder.

    web2py creates folders and writes a ticket per error under the folder it
    is given, so the tests give it a copy and the checkout stays as it is.
    ``gluon.main`` adds that folder (and ``""``) to ``sys.path`` as it is
    imported; the path is put back as it was.
    """
    if _WEB2PY_MODULE:
        return _WEB2PY_MODULE[0]
    folder = _WEB2PY_BASE[0].mktemp("web2py") / "web2py_app"
    shutil.copytree(
        FRAMEWORKS / "web2py_app", folder, ignore=shutil.ignore_patterns("__pycache__")
    )
    spec = importlib.util.spec_from_file_location(
        "web2py_recipe_wsgi", folder / "wsgi.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    saved = list(sys.path)
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path[:] = saved
    _WEB2PY_MODULE.append(module)
    return module


def web2py_folder() -> Path:
    """The copy of the web2py recipe that the in-process tests run."""
    return Path(load_web2py().WEB2PY_FOLDER)


def call(recipe: Recipe, path: str, **headers: str) -> Result:
    """One request through the recipe's stack, with a Lint on both sides."""
    return call_with(recipe, path, headers, {})


def call_with(
    recipe: Recipe, path: str, headers: dict[str, str], environ: dict[str, str]
) -> Result:
    """`call`, with ``environ`` added to what the server puts in the environ."""
    # Bottle calls start_response(status, headers, None), which PEP 3333
    # allows: see test_bottle_passes_exc_info_none.
    inner = Lint(
        above="the wsgimw stack",
        below=recipe.framework,
        allow_exc_info_none=recipe.framework == "Bottle",
    )
    outer = Lint(above="the server", below="the wsgimw stack")
    app = outer(recipe.pipeline(inner(recipe.framework_app())))
    request = make_environ(path, headers=headers, REMOTE_ADDR="127.0.0.1")
    result = call_app(app, {**request, **environ})
    outer.verify()
    inner.verify()
    return result


def access_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "wsgimw.accesslog"]


# -- in-process, through Lint on both sides ------------------------------------


@each_recipe
def test_the_page_is_compressed(recipe: Recipe) -> None:
    plain = call(recipe, "/")
    packed = call(recipe, "/", Accept_Encoding="gzip")
    assert plain.status == packed.status == "200 OK"
    assert_is_the_page(plain.body, recipe.framework)
    assert plain.header("Content-Encoding") is None
    assert packed.header("Content-Encoding") == "gzip"
    assert "Accept-Encoding" in (packed.header("Vary") or "")
    assert (packed.header("Content-Type") or "").startswith("text/html")
    assert gzip.decompress(packed.body) == plain.body
    assert len(packed.body) < len(plain.body) / 5


@each_recipe
def test_the_private_page_needs_the_demo_password(recipe: Recipe) -> None:
    for headers in ({}, WRONG):
        refused = call(recipe, "/private/", **headers)
        assert refused.status == "401 Unauthorized"
        assert refused.header("WWW-Authenticate") == CHALLENGE
        assert refused.body == b"authentication required\n"
    allowed = call(recipe, "/private/", **CREDENTIALS)
    assert allowed.status == "200 OK"
    assert allowed.body.decode() == PRIVATE_TEXT
    assert (allowed.header("Content-Type") or "").startswith("text/plain")


@each_recipe_letting_errors_out
def test_an_error_gets_error_handlers_page(
    recipe: Recipe, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="wsgimw.errors")
    text = call(recipe, "/boom")
    assert text.status == "500 Internal Server Error"
    assert text.header("Content-Type") == "text/plain; charset=utf-8"
    assert text.body == ERROR_PAGE
    page = call(recipe, "/boom", Accept="text/html")
    assert page.status == "500 Internal Server Error"
    assert page.body.startswith(b"<!doctype html>\n")
    assert b"<h1>500 Internal Server Error</h1>" in page.body
    assert BOOM.encode() not in page.body
    # ErrorHandler logged the framework's error itself, once per request.
    errors = [r for r in caplog.records if r.name == "wsgimw.errors"]
    assert len(errors) == 2
    for record in errors:
        assert record.exc_info is not None
        assert isinstance(record.exc_info[1], RuntimeError)
        assert str(record.exc_info[1]) == BOOM


@each_recipe
def test_the_query_page_reads_wsgimw_query(recipe: Recipe) -> None:
    result = call(recipe, SEARCH_EXAMPLE)
    assert result.status == "200 OK"
    assert (result.header("Content-Type") or "").startswith("application/json")
    assert json.loads(result.body) == {
        "q": "café",
        "tags": ["a", "b"],
        recipe.own_q: "café",  # the framework's own parse agrees
    }


@each_recipe
def test_one_access_line_per_request(
    recipe: Recipe, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="wsgimw.accesslog")
    requests: list[tuple[str, dict[str, str], str]] = [
        ("/", {"Accept-Encoding": "gzip"}, "200"),
        (SEARCH_EXAMPLE, {}, "200"),
        ("/private/", {}, "401"),
        ("/private/", CREDENTIALS, "200"),
        ("/boom", {}, "500"),
        (recipe.missing[0], {}, recipe.missing[1]),
    ]
    results = [call(recipe, path, **headers) for path, headers, _ in requests]
    lines = access_lines(caplog)
    assert len(lines) == len(requests)
    for line, (path, headers, status), result in zip(
        lines, requests, results, strict=True
    ):
        user = DEMO_USER if headers is CREDENTIALS else "-"
        assert line.startswith(f"127.0.0.1 - {user} [")
        # The bytes the client got; "-" for none (Wheezy's 404) and for
        # ErrorHandler's page, which AccessLog, inside ErrorHandler, does
        # not see (web2py's ticket page is the app's own, and counted).
        sent = str(len(result.body)) if result.body != ERROR_PAGE else "-"
        sent = sent if result.body else "-"
        assert f'"GET {path} HTTP/1.0" {status} {sent} ' in line


@each_recipe
def test_the_served_object_carries_the_stack(recipe: Recipe) -> None:
    """What the recipe hands a server (for Flask, ``app`` itself) is
    wrapped: no request can go around the stack."""
    outer = Lint()
    served = outer(recipe.served())
    packed = call_app(served, "/", headers={"Accept-Encoding": "gzip"})
    refused = call_app(served, "/private/")
    outer.verify()
    assert_is_the_page(gzip.decompress(packed.body), recipe.framework)
    assert refused.status == "401 Unauthorized"


@each_recipe
def test_the_demo_hash_is_htpasswd_s_own(recipe: Recipe, tmp_path: Path) -> None:
    """Each recipe's copy of the documented password is right, checked by
    Apache's own tool."""
    htpasswd = shutil.which("htpasswd")
    assert htpasswd, "install apache2-utils: the recipes' hash is checked with it"
    users = recipe.load().USERS
    assert list(users) == [DEMO_USER]
    assert users[DEMO_USER].startswith("$2y$10$")  # bcrypt, as -B writes it
    path = tmp_path / "demo.htpasswd"
    path.write_text(f"{DEMO_USER}:{users[DEMO_USER]}\n", encoding="utf-8")
    for password, code in ((DEMO_PASSWORD, 0), ("wrong", 3)):
        done = subprocess.run(
            [htpasswd, "-v", "-b", str(path), DEMO_USER, password],
            capture_output=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == code, done.stderr


# -- each framework's own error handling, the gotcha the recipes turn off -----


def test_flask_without_propagate_exceptions_sends_its_own_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recipe = BY_NAME["Flask"]
    module = recipe.load()
    monkeypatch.setitem(module.app.config, "PROPAGATE_EXCEPTIONS", False)
    monkeypatch.setattr(module.app.logger, "disabled", True)  # its traceback
    result = call(recipe, "/boom")
    assert result.status == "500 INTERNAL SERVER ERROR"
    assert b"<title>500 Internal Server Error</title>" in result.body
    assert result.body != ERROR_PAGE


def test_django_without_debug_propagate_exceptions_sends_its_own_page(
    caplog: pytest.LogCaptureFixture,
) -> None:
    recipe = BY_NAME["Django"]
    recipe.load()
    from django.test import override_settings  # type: ignore[import-untyped]

    caplog.set_level(logging.CRITICAL, logger="django.request")
    with override_settings(DEBUG_PROPAGATE_EXCEPTIONS=False):
        result = call(recipe, "/boom")
    assert result.status == "500 Internal Server Error"
    assert b"<h1>Server Error (500)</h1>" in result.body


def test_bottle_with_catchall_sends_its_own_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recipe = BY_NAME["Bottle"]
    module = recipe.load()
    monkeypatch.setitem(module.app.config, "catchall", True)
    result = call(recipe, "/boom")
    assert result.status == "500 Internal Server Error"
    assert b"<title>Error: 500 Internal Server Error</title>" in result.body


def test_bottle_passes_exc_info_none() -> None:
    """Bottle calls ``start_response(status, headers, None)``. PEP 3333 allows
    it, but some servers take exactly two arguments, so Lint refuses it
    unless told otherwise; the stack calls the server without it. The other
    tests put a Lint that allows it between the stack and Bottle."""
    module = BY_NAME["Bottle"].load()
    lint = Lint(below="Bottle")
    with pytest.raises(
        LintError, match=r"\[exc-info\] start_response\(\) got exc_info=None"
    ):
        call_app(lint(module.app), "/")
    allowing = Lint(below="Bottle", allow_exc_info_none=True)
    call_app(allowing(module.app), "/")
    allowing.verify()
    outer = Lint()
    result = call_app(outer(module.application), "/")
    outer.verify()
    assert result.status == "200 OK"


def _cherrypy_app(config: dict[str, Any]) -> WSGIApp:
    import cherrypy  # type: ignore[import-untyped]

    module = BY_NAME["CherryPy"].load()
    app: WSGIApp = cherrypy.Application(module.Root(), "", {"/": config})
    return app


@pytest.mark.parametrize(
    ("config", "page"),
    [
        ({}, b"<h2>500 Internal Server Error</h2>"),
        # throw_errors alone: CherryPy's ExceptionTrapper answers, traceback and all.
        ({"request.throw_errors": True}, b"Unrecoverable error in the server."),
    ],
    ids=["default", "throw-errors-alone"],
)
def test_cherrypy_needs_both_settings(
    config: dict[str, Any], page: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.CRITICAL, logger="cherrypy")
    recipe = BY_NAME["CherryPy"]
    app = recipe.pipeline(_cherrypy_app(config))
    outer = Lint()
    result = call_app(outer(app), "/boom")
    outer.verify()
    assert result.status == "500 Internal Server Error"
    assert page in result.body
    assert result.body != ERROR_PAGE


def test_falcon_without_the_reraise_handler_sends_its_own_page() -> None:
    import falcon

    module = BY_NAME["Falcon"].load()
    app = falcon.App()
    app.add_route("/boom", module.Boom())
    outer = Lint()
    result = call_app(outer(module.pipeline(app)), "/boom")
    outer.verify()
    assert result.status == "500 Internal Server Error"
    assert json.loads(result.body) == {"title": "500 Internal Server Error"}


def test_django_runserver_serves_the_wrapped_application() -> None:
    """``manage.py runserver`` loads WSGI_APPLICATION: the stack is in it."""
    module = BY_NAME["Django"].load()
    from django.core.servers.basehttp import (  # type: ignore[import-untyped]
        get_internal_wsgi_application,
    )

    assert get_internal_wsgi_application() is module.application


# -- web2py: no setting lets an error out of wsgibase ------------------------

WEB2PY_ERROR_PAGE = b"<html><body><h1>Internal error</h1>Ticket issued: "


def _ticket(result: Result) -> bytes:
    """The ticket web2py wrote for an error page, read from its file."""
    header = result.header("web2py_error") or ""
    assert header.startswith("ticket demo/"), result.headers
    ticket = header.removeprefix("ticket demo/")
    return (web2py_folder() / "applications" / "demo" / "errors" / ticket).read_bytes()


def _errors_logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "wsgimw.errors"]


@contextlib.contextmanager
def added_to_the_default_controller(code: str) -> Iterator[None]:
    """``code`` added to the copy's default controller for the block. web2py
    recompiles a controller when its mtime changes: each version gets an
    mtime of its own, a second apart, however fast the block runs."""
    controller = (
        web2py_folder() / "applications" / "demo" / "controllers" / "default.py"
    )
    source = controller.read_text(encoding="utf-8")
    mtime = controller.stat().st_mtime_ns
    controller.write_text(source + "\n\n" + code, encoding="utf-8")
    os.utime(controller, ns=(mtime + 1_000_000_000, mtime + 1_000_000_000))
    try:
        yield
    finally:
        controller.write_text(source, encoding="utf-8")
        os.utime(controller, ns=(mtime + 2_000_000_000, mtime + 2_000_000_000))


@web2py_only
def test_web2py_answers_errors_with_its_ticket_page(
    recipe: Recipe, caplog: pytest.LogCaptureFixture
) -> None:
    """``wsgibase`` catches the controller's error: the client gets web2py's
    page, the traceback goes to a ticket file, and ErrorHandler sees a
    normal 500 response it has no reason to touch."""
    caplog.set_level(logging.INFO)
    for headers in ({}, {"Accept": "text/html"}):
        result = call(recipe, "/boom", **headers)
        assert result.status == "500 INTERNAL SERVER ERROR"
        assert result.header("Content-Type") == "text/html; charset=UTF-8"
        assert result.body.startswith(WEB2PY_ERROR_PAGE)
        assert BOOM.encode() not in result.body
        assert BOOM.encode() in _ticket(result)
    assert _errors_logged(caplog) == []


@web2py_only
def test_web2py_tickets_hold_the_authorization_header(recipe: Recipe) -> None:
    """A ticket records the request's environ: credentials sent with a
    request that fails are written to disk with it (the docs say so)."""
    token = CREDENTIALS["Authorization"].removeprefix("Basic ").encode()
    assert token in _ticket(call(recipe, "/boom", **CREDENTIALS))


ROUTES = 'routers = {"BASE": {"default_application": "demo"}}\n'


@web2py_only
@pytest.mark.parametrize(
    ("on_error", "status", "start"),
    [
        # web2py's own way to choose the error page: another page of the app,
        ("/demo/default/index", "500 INTERNAL SERVER ERROR", b"<!doctype html>\n"),
        # a page that fails too (web2py stops there, with a ticket),
        ("/demo/default/boom", "500 INTERNAL SERVER ERROR", WEB2PY_ERROR_PAGE),
        # "!": web2py's page as it is,
        ("!", "500 INTERNAL SERVER ERROR", WEB2PY_ERROR_PAGE),
        # or a redirect elsewhere.
        ("https://errors.example/", "303 SEE OTHER", b"You are being redirected"),
    ],
    ids=["other-page", "failing-page", "bang", "redirect"],
)
def test_web2py_routes_onerror_keeps_errors_inside_web2py(
    recipe: Recipe,
    on_error: str,
    status: str,
    start: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``routes_onerror``, the setting web2py has for errors, only picks
    another web2py response: none of its forms lets the error out."""
    import gluon.rewrite  # type: ignore[import-untyped]

    recipe.load()
    caplog.set_level(logging.INFO)
    gluon.rewrite.load(data=ROUTES + f"routes_onerror = [('*/*', {on_error!r})]\n")
    try:
        result = call(recipe, "/boom")
    finally:
        gluon.rewrite.load()  # the copy's own routes.py again
    assert (result.status, result.body[: len(start)]) == (status, start)
    assert _errors_logged(caplog) == []
    # The copy's routes.py is back: web2py's own page again.
    assert call(recipe, "/boom").body.startswith(WEB2PY_ERROR_PAGE)


@web2py_only
def test_web2py_an_error_in_a_streamed_body_reaches_error_handler(
    recipe: Recipe, caplog: pytest.LogCaptureFixture
) -> None:
    """What does reach ErrorHandler: a page that returns a generator is read
    by the server after ``wsgibase`` has returned, so an error raised there
    leaves web2py. Raised before the first chunk, ErrorHandler answers with
    its own page."""
    caplog.set_level(logging.INFO)
    # (routes.py knows the controllers that were there when web2py started:
    # the page goes in the default controller.)
    rows = (
        "def rows():\n"
        "    def lines():\n"
        f"        raise RuntimeError({BOOM!r})\n"
        "        yield b''\n"
        "    return lines()\n"
    )
    with added_to_the_default_controller(rows):
        result = call(recipe, "/rows")
    assert (result.status, result.body) == ("500 Internal Server Error", ERROR_PAGE)
    errors = _errors_logged(caplog)
    assert len(errors) == 1
    assert errors[0].exc_info is not None
    assert str(errors[0].exc_info[1]) == BOOM


@web2py_only
def test_web2py_rewrites_the_environ_it_is_given(
    recipe: Recipe, caplog: pytest.LogCaptureFixture
) -> None:
    """web2py's router writes the path it routed to into the environ, as
    REQUEST_URI, which AccessLog logs when it is there (uWSGI and mod_wsgi
    put the request target in it). The recipe gives web2py a copy, so
    AccessLog logs the path the client asked for."""
    import gluon.main  # type: ignore[import-untyped]

    module = recipe.load()
    environ = make_environ("/", REMOTE_ADDR="127.0.0.1")
    assert call_app(gluon.main.wsgibase, environ).status == "200 OK"
    assert environ["REQUEST_URI"] == "/demo/default/index"
    environ = make_environ("/", REMOTE_ADDR="127.0.0.1")
    assert call_app(module.web2py_app, environ).status == "200 OK"
    assert "REQUEST_URI" not in environ
    caplog.set_level(logging.INFO, logger="wsgimw.accesslog")
    call_with(recipe, "/", {}, {"REQUEST_URI": "/"})
    [line] = access_lines(caplog)
    assert '"GET / HTTP/1.0" 200 ' in line


#: Paths at which web2py serves the private page: through routes.py, with
#: the app's name, with a function, an extension, arguments, an encoded or
#: doubled slash.
WEB2PY_PRIVATE_ALIASES = [
    "/private",
    "/private/index",
    "/private/index.txt",
    "/private/index.html/",
    "/private/index/x",
    "/private%2Findex",
    "//private",
    "/demo/private",
    "/demo/private/",
    "/demo/private/index.json",
]


@web2py_only
@pytest.mark.parametrize("path", WEB2PY_PRIVATE_ALIASES)
def test_web2py_has_no_way_around_basic_auth(recipe: Recipe, path: str) -> None:
    """web2py answers the private page at many paths; each is protected."""
    module = recipe.load()
    unprotected = call_app(module.web2py_app, path, REMOTE_ADDR="127.0.0.1")
    assert unprotected.body.startswith(b"Hello None: only users")
    assert call(recipe, path).status == "401 Unauthorized"


@web2py_only
def test_web2py_a_page_in_the_default_controller_escapes_protect(
    recipe: Recipe,
) -> None:
    """Why the private page has a controller of its own: a ``private()`` in
    the default controller answers at paths outside ``protect=["/private"]``."""
    with added_to_the_default_controller('def private():\n    return "open"\n'):
        for path in ("/private.html", "/default/private.json", "/demo/default/private"):
            result = call(recipe, path)
            assert (result.status, result.body) == ("200 OK", b"open")
        assert call(recipe, "/private").status == "401 Unauthorized"


#: What web2py creates in its folder as it starts and serves.
WEB2PY_CREATES = ("deposit", "logs", "site-packages", "applications/demo/errors")


@web2py_only
def test_web2py_runs_from_a_copy_and_leaves_the_checkout_alone(
    recipe: Recipe,
) -> None:
    call(recipe, "/boom")
    copy = web2py_folder()
    assert FRAMEWORKS not in copy.parents
    for name in WEB2PY_CREATES:
        assert (copy / name).is_dir()
        assert not (recipe.source / name).exists()
    assert list((copy / "applications" / "demo" / "errors").iterdir())


# -- each recipe copied into a new project, served for real -------------------


@pytest.fixture(scope="session")
def user_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_user_python(tmp_path_factory.mktemp("user-venv"))


def _access_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if line.startswith("wsgimw.accesslog: ")]


@pytest.mark.integration
@each_recipe_letting_errors_out
def test_copied_into_a_new_project_it_serves_the_stack(
    recipe: Recipe, user_python: Path, tmp_path: Path
) -> None:
    """What a new user does: copy the recipe (Django's package whole, under a
    name of their own) into a project of their own and run it there."""
    project = Project(tmp_path / "project", user_python)
    if recipe.framework == "Django":
        project.add(recipe.source, "mysite")
        args = ["-m", "mysite.wsgi"]
    else:
        args = [project.add(recipe.source).name]
    with project.serving(args) as server:
        status, headers, body = request(server, "/", {"Accept-Encoding": "gzip"})
        assert (status, headers["Content-Encoding"]) == (200, "gzip")
        assert_is_the_page(gzip.decompress(body), recipe.framework)
        status, headers, body = request(server, "/private/")
        assert (status, headers["WWW-Authenticate"]) == (401, CHALLENGE)
        status, headers, body = request(server, "/private/", CREDENTIALS)
        assert (status, body.decode()) == (200, PRIVATE_TEXT)
        status, headers, body = request(server, "/boom")
        assert (status, body) == (500, ERROR_PAGE)
        # CherryPy prints its banner after it has begun to answer.
        banner = f"Serving on {server.url}/ (Ctrl-C to stop)"
        # The traceback and the access lines may reach the log in any order.
        log = server.wait_for_log(
            lambda log: (
                banner in log
                and len(_access_lines(log)) >= 4
                and f"RuntimeError: {BOOM}" in log
            )
        )
    assert banner in log
    # AccessLog's lines, one per request, written by the recipe's logging
    # set-up (in the order the responses were closed), and ErrorHandler's
    # traceback of the view's own error.
    assert f"RuntimeError: {BOOM}" in log
    lines = sorted(_access_lines(log), key=lambda line: line.split('"')[1])
    assert len(lines) == 4, log
    assert "127.0.0.1 - - [" in lines[0]
    assert '"GET / HTTP/1.1" 200 ' in lines[0]
    assert '"GET /boom HTTP/1.1" 500 ' in lines[1]
    refused, allowed = sorted(lines[2:], key=lambda line: f" {DEMO_USER} [" in line)
    assert "127.0.0.1 - - [" in refused
    assert '"GET /private/ HTTP/1.1" 401 ' in refused
    assert f"127.0.0.1 - {DEMO_USER} [" in allowed
    assert '"GET /private/ HTTP/1.1" 200 ' in allowed


# -- web2py copied into a new project, on Rocket and on gunicorn ---------------

#: For gunicorn's --log-config-json: its own set-up, with each line as
#: "logger: message", so that AccessLog's lines (INFO) show as the recipe's
#: main() shows them.
GUNICORN_LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"generic": {"format": "%(name)s: %(message)s"}},
}


def _web2py_requests(server: Server) -> list[str]:
    """The same requests as the other recipes get, over HTTP; the part of
    the access line each one should give (the path, status and bytes)."""
    expected = []
    status, headers, body = request(server, "/", {"Accept-Encoding": "gzip"})
    assert (status, headers["Content-Encoding"]) == (200, "gzip")
    assert_is_the_page(gzip.decompress(body), "web2py")
    expected.append(f'"GET / HTTP/1.1" 200 {len(body)} ')
    status, headers, body = request(server, SEARCH_EXAMPLE)
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"q": "café", "tags": ["a", "b"], "web2py_q": "café"}
    expected.append(f'"GET {SEARCH_EXAMPLE} HTTP/1.1" 200 {len(body)} ')
    status, headers, body = request(server, "/private/")
    assert (status, headers["WWW-Authenticate"]) == (401, CHALLENGE)
    expected.append(f'"GET /private/ HTTP/1.1" 401 {len(body)} ')
    status, headers, body = request(server, "/private/", CREDENTIALS)
    assert (status, body.decode()) == (200, PRIVATE_TEXT)
    expected.append(f'"GET /private/ HTTP/1.1" 200 {len(body)} ')
    status, headers, body = request(server, "/boom")
    assert status == 500
    assert body.startswith(WEB2PY_ERROR_PAGE)
    expected.append(f'"GET /boom HTTP/1.1" 500 {len(body)} ')
    return expected


def _assert_logged_once_each(server: Server, expected: list[str]) -> str:
    """One access line for each request, with the bytes the client got."""
    log = server.wait_for_log(
        lambda log: all(any(e in line for line in _access_lines(log)) for e in expected)
    )
    lines = _access_lines(log)
    assert len(lines) == len(expected), log
    for part in expected:
        assert [line for line in lines if part in line] != [], (part, log)
    # web2py kept the error: nothing reached ErrorHandler or the server.
    assert "Traceback" not in log
    return log


def _assert_nothing_left_for_git(project: Path, folder: Path) -> None:
    """web2py wrote into its folder (folders, a ticket), and the recipe's
    .gitignore keeps all of it out of git: git sees only the recipe's own
    files."""
    assert (folder / "deposit").is_dir()
    assert list((folder / "applications" / "demo" / "errors").iterdir())
    own = {
        f"{folder.name}/{path.relative_to(BY_NAME['web2py'].source).as_posix()}"
        for path in BY_NAME["web2py"].source.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    git = shutil.which("git")
    assert git, "install git: the test checks what web2py leaves behind with it"
    subprocess.run([git, "init", "-q", str(project)], check=True, timeout=30)
    status = subprocess.run(
        [git, "status", "--porcelain", "--untracked-files=all"],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    seen = {line.removeprefix("?? ") for line in status.splitlines()}
    assert seen == own


@pytest.mark.integration
@web2py_only
def test_web2py_copied_into_a_new_project_serves_the_stack_on_rocket(
    recipe: Recipe, user_python: Path, tmp_path: Path
) -> None:
    """``python web2py_app/wsgi.py``: the recipe's main() serves it with
    Rocket, web2py's own server (rocket3)."""
    project = Project(tmp_path / "project", user_python)
    folder = project.add(recipe.source)
    with project.serving([f"{folder.name}/wsgi.py"]) as server:
        expected = _web2py_requests(server)
        log = _assert_logged_once_each(server, expected)
    assert f"Serving on {server.url}/ (Ctrl-C to stop)" in log
    _assert_nothing_left_for_git(project.path, folder)


@pytest.mark.integration
@web2py_only
def test_web2py_copied_into_a_new_project_serves_the_stack_on_gunicorn(
    recipe: Recipe, user_python: Path, tmp_path: Path
) -> None:
    """``gunicorn --chdir web2py_app wsgi:application``, gthread worker."""
    project = Project(tmp_path / "project", user_python)
    folder = project.add(recipe.source)
    logging_json = tmp_path / "gunicorn-logging.json"
    logging_json.write_text(json.dumps(GUNICORN_LOGGING), encoding="utf-8")
    args = [
        "-m",
        "gunicorn",
        "--bind",
        "127.0.0.1:{port}",
        "--worker-class",
        "gthread",
        "--threads",
        "4",
        "--graceful-timeout",
        "5",
        "--log-config-json",
        str(logging_json),
        "--chdir",
        folder.name,
    ]
    if "--no-control-socket" in _gunicorn_options():
        args.append("--no-control-socket")
    with project.serving([*args, "wsgi:application"]) as server:
        expected = _web2py_requests(server)
        _assert_logged_once_each(server, expected)
    _assert_nothing_left_for_git(project.path, folder)
