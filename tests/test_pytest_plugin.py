"""wsgimw's pytest plugin, run in real pytest sessions (pytester).

wsgimw's own suite runs with ``-p no:wsgimw`` (see pyproject: the plugin
would import the package before coverage starts), so each session here
loads it as a user's project does: through the ``pytest11`` entry point.
"""

from __future__ import annotations

import re

import pytest

pytest_plugins = ["pytester"]

LAYERS = '''
from wsgimw import Compress, ErrorHandler, QueryParser, compose

def timed(app):
    """The classic bug: a generator around the body."""
    def timing(environ, start_response):
        body = app(environ, start_response)
        def generate():
            try:
                for chunk in body:
                    yield chunk
            finally:
                if hasattr(body, "close"):
                    body.close()
        return generate()
    return timing

def drops_exc_info(app):
    def tagged(environ, start_response):
        def tagging(status, headers, exc_info=None):
            return start_response(status, headers + [("X-Tagged", "yes")])
        return app(environ, tagging)
    return tagged

def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [] if environ["REQUEST_METHOD"] == "HEAD" else [b"hello"]

def head_body(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]

stack = compose(ErrorHandler(), Compress(minimum_size=0), QueryParser())
'''


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A user's project: a module of layers beside the tests."""
    pytester.makepyfile(layers=LAYERS)
    pytester.syspathinsert()
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:cacheprovider", "-W", "error", *args)


def test_a_fresh_project_lists_the_fixtures_and_the_mark(
    pytester: pytest.Pytester,
) -> None:
    # A subprocess: a new interpreter finds the plugin by its entry point.
    fixtures = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--fixtures")
    for name in ("wsgi_call", "linted_stack", "make_environ", "wsgi_fault"):
        assert re.search(rf"^{name}\b.*\n.*\S", fixtures.stdout.str(), re.M), name
    fixtures.stdout.fnmatch_lines(["*wsgimw*pytest_plugin*"])
    markers = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--markers")
    markers.stdout.fnmatch_lines(
        ["@pytest.mark.wsgi_faults(*layers, handles_errors=None)*"]
    )


def test_the_plugin_is_inert_until_used(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        def test_plain():
            assert 1 + 1 == 2

        @pytest.mark.parametrize("n", [1, 2])
        def test_parametrized(n):
            assert n
        """
    )
    result = run(pytester, "-v")
    result.assert_outcomes(passed=3)
    result.stdout.no_fnmatch_line("*wsgi_fault*")


def test_make_environ_and_wsgi_call(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        import pytest
        from wsgimw.testing import AppFault
        from layers import hello

        def test_environ(make_environ):
            environ = make_environ("/a%20b?q=1", method="POST", body=b"x")
            assert environ["PATH_INFO"] == "/a b"
            assert environ["CONTENT_LENGTH"] == "1"

        def test_call(wsgi_call):
            result = wsgi_call(hello, "/")
            assert (result.status, result.body) == ("200 OK", b"hello")
            assert wsgi_call(hello, method="HEAD").body == b""

        def test_error(wsgi_call):
            def broken(environ, start_response):
                raise AppFault("boom")
            with pytest.raises(AppFault):
                wsgi_call(broken)
            assert isinstance(wsgi_call(broken, catch=True).error, AppFault)
        """
    )
    run(project).assert_outcomes(passed=3)


def test_wsgi_call_fails_with_the_rule_and_the_app(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        from layers import head_body

        def test_head(wsgi_call):
            wsgi_call(head_body, method="HEAD")
        """
    )
    result = run(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*a layer broke the WSGI contract",
            "*layer:    head_body",
            "*rule:     no-body: HTTP: a response to HEAD*",
            "*happened: a HEAD 200 response must have no body, got 5 bytes",
            "*expected: an empty body",
        ]
    )


def test_linted_stack_names_the_layer_that_loses_close(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        """
        from wsgimw.testing import ScriptedApp, call_app
        from layers import stack, timed

        def test_good(linted_stack):
            app = linted_stack(stack)(ScriptedApp())
            assert call_app(app, "/").body == b"Hello, world!"
            call_app(app, "/", read=0)

        def test_broken(linted_stack):
            app = linted_stack(stack, timed)(ScriptedApp())
            call_app(app, "/", read=0)  # the test body passes; the plugin fails it

        def test_verify_now(linted_stack):
            build = linted_stack(timed)
            call_app(build(ScriptedApp()), "/", read=0)
            linted_stack.verify()
            raise AssertionError("not reached: verify() fails the test")
        """
    )
    result = run(project)
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*test_broken*",
            "*layer:    timed",
            "*rule:     close-once: PEP 3333*",
            "*happened: a response was closed 0 times, not once",
        ]
    )


def test_wsgi_fault_runs_every_row(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        from layers import stack, timed

        def test_stack(wsgi_fault):
            wsgi_fault.check(stack)

        def test_timed(wsgi_fault):
            wsgi_fault.check(*stack, timed)
        """
    )
    result = run(project, "-rf")
    rows = 21
    result.assert_outcomes(passed=2 * rows - 1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*row 'server-closes-before-next': the server closes the body before the first next()",
            "  layer:    timed",
            "  rule:     close-once: PEP 3333: if the iterable has a close() method*",
            "  happened: a response was closed 0 times, not once",
            "  expected: the app's iterable closed exactly once*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "FAILED test_wsgi_fault_runs_every_row.py::test_timed[[]server-closes-before-next[]]*"
        ]
    )


def test_the_mark_checks_a_middleware_in_one_line(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        import pytest
        from wsgimw import ErrorHandler, compose
        from layers import drops_exc_info

        # compose(): pytest takes a lone plain function as the decorated test.
        @pytest.mark.wsgi_faults(compose(drops_exc_info))
        def test_drops():
            pass

        @pytest.mark.wsgi_faults(ErrorHandler(), handles_errors=True)
        def test_handler(wsgi_fault):
            assert wsgi_fault.verdict.ok

        @pytest.mark.wsgi_faults(ErrorHandler(), handles_errors=False)
        def test_handler_insisting_on_raise():
            pass
        """
    )
    result = run(project, "-rf")
    outcomes = result.parseoutcomes()
    # drops_exc_info breaks the three exc-info rows; ErrorHandler, told that
    # it must let errors reach the server, breaks the five it answers.
    assert outcomes == {"passed": 21 * 3 - 8, "failed": 8}
    result.stdout.fnmatch_lines(
        [
            "FAILED *test_drops[[]exc-info-before-body[]]*",
            "FAILED *test_drops[[]exc-info-after-body[]]*",
            "FAILED *test_drops[[]exc-info-other-type-after-body[]]*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*rule:     exc-info: PEP 3333: start_response may be called again only with exc_info*"
        ]
    )
    result.stdout.fnmatch_lines(
        ["FAILED *test_handler_insisting_on_raise[[]raise-before-start[]]*"]
    )


def test_misuse_says_how_to_fix_it(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        import pytest

        def test_no_layers(wsgi_fault):
            assert str(wsgi_fault) == "iterable"
            with pytest.raises(TypeError, match="takes the middleware"):
                wsgi_fault.check()

        @pytest.mark.wsgi_faults()
        def test_empty_mark():
            pass
        """
    )
    result = run(project, "-k", "no_layers and iterable")
    result.assert_outcomes(passed=1, deselected=41)
    result = run(project, "-k", "empty_mark and iterable")
    result.stdout.fnmatch_lines(["*wsgi_faults() needs the middleware to check*"])
