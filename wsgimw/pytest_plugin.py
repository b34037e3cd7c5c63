"""wsgimw's pytest plugin: fixtures and the fault matrix for your own tests.

Installed with wsgimw (a ``pytest11`` entry point named ``wsgimw``) and
inert until a test asks for one of its fixtures or marks:

* ``make_environ``: `wsgimw.testing.make_environ`, a complete PEP 3333
  environ for a path.
* ``wsgi_call``: ``wsgi_call(app, "/path", **options)`` calls the app as a
  strict server does (`wsgimw.testing.call_app`) with a `Lint` between them,
  and fails the test when a rule is broken.
* ``linted_stack``: ``linted_stack(*layers)(app)`` builds the pipeline with a
  `Lint` above, between and below every layer; when the test ends, every
  Lint is verified, so a layer that broke the contract (a response never
  closed, exc_info dropped, a body on HEAD) fails the test by name.
* ``wsgi_fault``: a test that takes it runs once per row of the fault matrix
  (`wsgimw.testing.FAULTS` and a streaming row); ``wsgi_fault.check(layers)``
  runs the row and fails with the row, the layer, the PEP 3333 rule, what
  happened and what should have.
* ``@pytest.mark.wsgi_faults(*layers, handles_errors=None)``: the same, with
  no body to write: the test runs once per row and checks the layers.

Until then it adds nothing to a session: no option, no output, no fixture
run. Loading it imports the ``wsgimw`` package, as ``import wsgimw`` does;
wsgimw's own suite turns it off (``-p no:wsgimw``) so that coverage sees
the package imported, and loads it in the sessions that test it.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .check import Verdict
    from .testing import Lint, Result
    from .types import Middleware, WSGIApp

__all__ = ["FaultRow", "StackBuilder", "WSGICall"]

_MARK = "wsgi_faults"
_LINTS = pytest.StashKey["list[Lint]"]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{_MARK}(*layers, handles_errors=None): run the test once per row of "
        "wsgimw's fault matrix and check the layers (wsgimw's pytest plugin)",
    )


def _row_names() -> tuple[str, ...]:
    from .check import ROWS

    return ROWS


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marked = metafunc.definition.get_closest_marker(_MARK) is not None
    if not marked and "wsgi_fault" not in metafunc.fixturenames:
        return
    if "wsgi_fault" not in metafunc.fixturenames:
        # A marked test need not ask for the fixture: it is added for it.
        metafunc.fixturenames.append("wsgi_fault")
    rows = _row_names()
    metafunc.parametrize("wsgi_fault", rows, ids=rows, indirect=True)


@dataclass
class FaultRow:
    """One row of the fault matrix, as the ``wsgi_fault`` fixture gives it."""

    name: str
    #: What the last `check` found.
    verdict: Verdict | None = None

    def __str__(self) -> str:
        return self.name

    def check(
        self,
        *layers: Middleware,
        handles_errors: bool | None = None,
        **environ_options: object,
    ) -> Result | None:
        """Run this row through ``layers`` (outermost first, or one
        `Pipeline`) with a `Lint` around each; fail the test with the row,
        the layer, the rule, what happened and what should have.

        ``handles_errors=None`` accepts both right answers to an app that
        raises (its error at the server, or a 5xx from an error handler);
        True or False insists on one. Returns what the server saw.
        """
        from .check import check_row

        if not layers:
            raise TypeError(
                "wsgi_fault.check() takes the middleware to check: "
                "wsgi_fault.check(MyMiddleware()) or wsgi_fault.check(*stack)"
            )
        verdict, result = check_row(
            list(layers),
            self.name,
            handles_errors=handles_errors,
            **environ_options,
        )
        self.verdict = verdict
        if not verdict.ok:
            pytest.fail(verdict.explain(), pytrace=False)
        return result


@pytest.fixture
def wsgi_fault(request: pytest.FixtureRequest) -> FaultRow:
    """One row of wsgimw's fault matrix; the test runs once per row.
    ``wsgi_fault.check(my_middleware)`` checks it."""
    name = getattr(request, "param", None)
    if name is None:  # pragma: no cover - pytest_generate_tests always sets it
        raise pytest.UsageError("wsgi_fault is parametrized by wsgimw's plugin")
    return FaultRow(str(name))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    marker = item.get_closest_marker(_MARK)
    if marker is not None and isinstance(item, pytest.Function):
        row = item.funcargs.get("wsgi_fault")
        if not isinstance(row, FaultRow):  # the test did not ask for it
            row = FaultRow(str(item.callspec.params["wsgi_fault"]))
        options = dict(marker.kwargs)
        handles_errors = options.pop("handles_errors", None)
        if not marker.args:
            raise pytest.UsageError(
                f"{item.nodeid}: @pytest.mark.wsgi_faults() needs the middleware "
                "to check: @pytest.mark.wsgi_faults(MyMiddleware())"
            )
        row.check(*marker.args, handles_errors=handles_errors, **options)
    outcome = yield
    lints = item.stash.get(_LINTS, None)
    if lints:
        _verify(lints)
    return outcome


def _verify(lints: Sequence[Lint]) -> None:
    from .check import _from_lint

    broken = [error for lint in lints for error in lint.violations]
    if not broken:
        for lint in lints:
            try:
                lint.verify()
            except AssertionError as error:
                broken.append(error)  # type: ignore[arg-type]
                break
    if broken:
        verdict = _from_lint("linted_stack", broken[0])
        message = verdict.explain().replace(
            "wsgimw fault matrix, row 'linted_stack': linted_stack",
            "wsgimw: a layer broke the WSGI contract",
        )
        pytest.fail(message, pytrace=False)


@dataclass
class WSGICall:
    """The ``wsgi_call`` fixture: ``wsgi_call(app, "/", method="HEAD")``."""

    lints: list[Lint] = field(default_factory=list)

    def __call__(
        self,
        app: WSGIApp,
        environ: dict[str, Any] | str = "/",
        *,
        read: int | None = None,
        catch: bool = False,
        allow_exc_info_none: bool = False,
        **environ_options: object,
    ) -> Result:
        """`call_app` through a `Lint`; a broken rule fails the test with the
        rule and what happened. ``catch=True`` keeps the app's own exception
        in ``Result.error`` instead of raising it."""
        from .compose import _describe
        from .testing import Lint, call_app

        lint = Lint(below=_describe(app), allow_exc_info_none=allow_exc_info_none)
        self.lints.append(lint)
        result = call_app(lint(app), environ, read=read, catch=True, **environ_options)
        _verify([lint])
        if result.error is not None and not catch:
            raise result.error
        return result


@pytest.fixture
def wsgi_call(request: pytest.FixtureRequest) -> WSGICall:
    """Call a WSGI app as a strict server does, with a Lint between them."""
    return WSGICall()


@dataclass
class StackBuilder:
    """The ``linted_stack`` fixture: ``linted_stack(*layers)(app)``."""

    lints: list[Lint]

    def __call__(self, *layers: Middleware) -> Callable[[WSGIApp], WSGIApp]:
        """A `compose`-like builder with a `Lint` above, between and below
        every layer; the Lints are verified when the test ends."""
        from .check import _layers_of, _Linted

        folded = _layers_of(list(layers))

        def build(app: WSGIApp) -> WSGIApp:
            linted = _Linted(folded)
            wrapped = linted(app)
            self.lints.extend(reversed(linted.lints))
            return wrapped

        return build

    def verify(self) -> None:
        """Check every Lint now (the plugin also does when the test ends)."""
        _verify(self.lints)


@pytest.fixture
def linted_stack(request: pytest.FixtureRequest) -> StackBuilder:
    """Build a pipeline with a Lint between every layer; a broken rule fails
    the test and names the layer."""
    lints: list[Lint] = []
    request.node.stash[_LINTS] = lints
    return StackBuilder(lints)


@pytest.fixture(name="make_environ")
def make_environ_fixture() -> Callable[..., dict[str, Any]]:
    """`wsgimw.testing.make_environ`: ``make_environ("/path?q=1", method="POST")``."""
    from .testing import make_environ

    return make_environ
