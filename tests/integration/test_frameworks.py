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

No warning filter is needed here: none of the frameworks warns on the paths
these recipes take (the Wheezy recipe sets the options whose absence Wheezy
warns about, and the Bottle recipe sets ``catchall`` the non-deprecated way).
TurboGears imports WebOb, whose import of ``cgi`` pyproject's filter covers.
"""

from __future__ import annotations

import base64
import gzip
import importlib
import json
import logging
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import MethodType, ModuleType
from typing import Any

import pytest
from test_copied_recipes import Project, make_user_python, request

from wsgimw import Pipeline
from wsgimw.testing import Lint, LintError, Result, call_app
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

    @property
    def source(self) -> Path:
        """What a user copies: the module's file, or Django's package folder."""
        name = self.module.split(".")[2]
        return FRAMEWORKS / (name if self.framework == "Django" else f"{name}.py")

    def load(self) -> ModuleType:
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
]
BY_NAME = {recipe.framework: recipe for recipe in RECIPES}
each_recipe = pytest.mark.parametrize(
    "recipe", RECIPES, ids=[r.framework.split()[0].lower() for r in RECIPES]
)


def call(recipe: Recipe, path: str, **headers: str) -> Result:
    """One request through the recipe's stack, with a Lint on both sides."""
    # Bottle calls start_response(status, headers, None), which PEP 3333
    # allows: see test_bottle_passes_exc_info_none.
    inner = Lint(
        above="the wsgimw stack",
        below=recipe.framework,
        allow_exc_info_none=recipe.framework == "Bottle",
    )
    outer = Lint(above="the server", below="the wsgimw stack")
    app = outer(recipe.pipeline(inner(recipe.framework_app())))
    result = call_app(app, path, headers=headers, REMOTE_ADDR="127.0.0.1")
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


@each_recipe
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
        ("/no-such-page", {}, "404"),
    ]
    for path, headers, _ in requests:
        call(recipe, path, **headers)
    lines = access_lines(caplog)
    assert len(lines) == len(requests)
    for line, (path, headers, status) in zip(lines, requests, strict=True):
        user = DEMO_USER if headers is CREDENTIALS else "-"
        assert line.startswith(f"127.0.0.1 - {user} [")
        assert f'"GET {path} HTTP/1.0" {status} ' in line


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


# -- each recipe copied into a new project, served for real -------------------


@pytest.fixture(scope="session")
def user_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_user_python(tmp_path_factory.mktemp("user-venv"))


def _access_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if line.startswith("wsgimw.accesslog: ")]


@pytest.mark.integration
@each_recipe
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
        log = server.wait_for_log(
            lambda log: banner in log and len(_access_lines(log)) >= 4
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
