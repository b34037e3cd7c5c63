"""``python -m wsgimw check``: the fault matrix on broken and real layers."""

from __future__ import annotations

import contextlib
import gc
import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest
from servers import ROOT

from wsgimw import ErrorHandler, compose
from wsgimw.__main__ import main as wsgimw_main
from wsgimw.check import (
    ROWS,
    RULES,
    Verdict,
    check_app,
    check_middleware,
    check_row,
    kind_of,
    main,
)
from wsgimw.types import Environ, StartResponse, WSGIApp


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def broken_rows(text: str) -> dict[str, tuple[str, str]]:
    """{row: (layer, rule)} for each BROKEN line of the table."""
    found = {}
    for line in text.splitlines():
        cells = line.split()
        if len(cells) >= 4 and cells[1] == "BROKEN":
            found[cells[0]] = (" ".join(cells[2:-1]), cells[-1])
    return found


@pytest.mark.parametrize(
    ("layer", "row", "rule"),
    [
        # a generator wrapper never closes an iterable it never started
        ("never_closes_unstarted", "server-closes-before-next", "close-once"),
        ("drops_exc_info", "exc-info-after-body", "exc-info"),
        ("buffers_stream", "streaming", "streaming"),
        ("body_on_head", "head", "no-body"),
        # the seed-style reverser closes only when read to the end
        ("reverser", "server-closes-before-next", "close-once"),
        ("reverser", "raise-mid-stream", "close-once"),
    ],
)
def test_each_broken_layer_exits_1_and_is_named(
    layer: str, row: str, rule: str
) -> None:
    code, text = run(f"tests.broken_layers:{layer}")
    assert code == 1
    assert broken_rows(text)[row] == (layer, rule)
    assert f"wsgimw fault matrix, row {row!r}" in text
    assert f"  rule:     {rule}: {RULES[rule][0]}" in text
    assert f"  expected: {RULES[rule][1]}" in text
    assert "rows broken" in text.splitlines()[-1]


@pytest.mark.parametrize(
    "target",
    [
        "tests.broken_layers:wsgimw_stack",
        "recipes.pytest_pipeline.blog:stack",
        "tests.broken_layers:proxy_fix",
        "tests.broken_layers:shared_data",
        "tests.broken_layers:whitenoise",
    ],
)
def test_good_stacks_exit_0(target: str) -> None:
    code, text = run(target, "-H", "Accept-Encoding: gzip")
    assert code == 0, text
    assert text.splitlines()[-1] == f"all {len(ROWS)} rows hold"
    assert "BROKEN" not in text


def test_the_blog_stack_answers_the_app_errors_itself() -> None:
    _, text = run("recipes.pytest_pipeline.blog:stack")
    rows = {line.split()[0]: line.split()[1] for line in text.splitlines()[2:-2]}
    assert rows["raise-before-start"] == "handled"  # ErrorHandler's 500
    assert rows["raise-mid-stream"] == "ok"  # too late: the error reaches the server


# Paste's gzipper leaves a GzipFile on a closed buffer after the rows that
# crash it; on Python 3.13 its __del__ raises when collected.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_what_it_finds_in_paste() -> None:
    # The figures on the docs page "what wsgimw check finds".
    code, text = run("tests.broken_layers:gzipper", "-H", "Accept-Encoding: gzip")
    assert code == 1
    assert broken_rows(text) == {
        "generator": ("gzipper", "crash"),
        "lazy-start": ("gzipper", "crash"),
        "write": ("gzipper", "same-response"),
        "write-then-iterate": ("gzipper", "same-response"),
        "no-content": ("gzipper", "content-length"),
        "exc-info-before-body": ("gzipper", "crash"),
        "exc-info-after-body": ("gzipper", "exc-info"),
        "exc-info-other-type-after-body": ("gzipper", "exc-info"),
        "streaming": ("gzipper", "streaming"),
    }
    # Without the header it passes every request through: all rows hold.
    assert run("tests.broken_layers:gzipper")[0] == 0
    code, text = run("tests.broken_layers:translogger")
    assert code == 1
    assert broken_rows(text) == {
        "exc-info-before-body": ("translogger", "exc-info"),
        "exc-info-after-body": ("translogger", "exc-info"),
        "exc-info-other-type-after-body": ("translogger", "exc-info"),
    }
    gc.collect()  # the gzipper's files are collected here, not in a later test


def test_json_for_ci() -> None:
    code, text = run("tests.broken_layers:drops_exc_info", "--json")
    assert code == 1
    document = json.loads(text)
    assert document["target"] == "tests.broken_layers:drops_exc_info"
    assert (document["kind"], document["ok"]) == ("middleware", False)
    assert [row["row"] for row in document["rows"]] == list(ROWS)
    broken = [row for row in document["rows"] if not row["ok"]]
    assert {row["rule"] for row in broken} == {"exc-info"}
    assert broken[0]["pep"] == RULES["exc-info"][0]
    assert broken[0]["layer"] == "drops_exc_info"
    code, text = run("tests.broken_layers:proxy_fix", "--json")
    assert (code, json.loads(text)["ok"]) == (0, True)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_on_a_terminal_plain_text_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = "tests.broken_layers:body_on_head"
    monkeypatch.delenv("NO_COLOR", raising=False)
    terminal = _Terminal()
    main([target], out=terminal)
    assert "\x1b[31mBROKEN\x1b[0m" in terminal.getvalue()
    assert "\x1b[32mok\x1b[0m" in terminal.getvalue()
    monkeypatch.setenv("NO_COLOR", "1")
    terminal = _Terminal()
    main([target], out=terminal)
    assert "\x1b[" not in terminal.getvalue()
    assert "\x1b[" not in run(target)[1]
    assert "\x1b[31m" in run(target, "--colour", "always")[1]
    terminal = _Terminal()
    main([target, "--color", "never"], out=terminal)
    assert "\x1b[" not in terminal.getvalue()


def head_body(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"always a body"]


def crashing_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    raise RuntimeError("no database")


def test_a_finished_app() -> None:
    code, text = run("recipes.pytest_pipeline.blog:application")
    assert code == 0, text
    assert "(app)" in text.splitlines()[0]
    code, text = run("tests.test_check:head_body")
    assert code == 1
    assert broken_rows(text) == {"head": ("tests.test_check:head_body", "no-body")}
    verdicts = check_app(crashing_app)
    assert {v.rule for v in verdicts} == {"crash"}
    assert verdicts[0].happened == "RuntimeError: no database"
    assert verdicts[0].layer == "crashing_app"


def test_a_pastedeploy_ini(tmp_path: Path) -> None:
    ini = tmp_path / "site.ini"
    ini.write_text(
        "[pipeline:main]\n"
        "pipeline = gzip blog\n"
        "[filter:gzip]\n"
        "use = egg:wsgimw#compress\n"
        "[app:blog]\n"
        "use = call:tests.test_check:blog_factory\n",
        encoding="utf-8",
    )
    code, text = run(str(ini), "--ini")
    assert code == 0, text
    assert "(app)" in text.splitlines()[0]
    code, text = run(f"{ini}#gzip", "--ini", "--middleware")
    assert code == 0, text
    assert "(middleware)" in text.splitlines()[0]


def blog_factory(global_config: dict[str, str]) -> WSGIApp:
    from recipes.pytest_pipeline.blog import blog

    return blog


def test_targets_that_cannot_be_loaded(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("no_colon_here")[0] == 2
    assert "write it as package.module:name" in capsys.readouterr().err
    assert run("tests.no_such_module:app")[0] == 2
    assert run("tests.broken_layers:no_such_name")[0] == 2
    assert run("tests.broken_layers:__doc__")[0] == 2  # not callable
    assert "neither a WSGI app nor a middleware" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run("tests.broken_layers:reverser", "-H", "no colon")


def test_kind_of() -> None:
    from werkzeug.middleware.proxy_fix import ProxyFix

    assert kind_of(ProxyFix) == "middleware"  # a class that takes the app
    assert kind_of(head_body) == "app"
    assert kind_of(compose(ErrorHandler())) == "middleware"
    assert kind_of([ErrorHandler()]) == "middleware"
    assert kind_of(vars) == "middleware"  # no signature: taken as middleware
    _code, text = run("tests.broken_layers:reverser", "--app")
    assert "(app)" in text.splitlines()[0]


def swallows(app: WSGIApp) -> WSGIApp:
    """Turns every error into a 200: the app's error is lost."""

    def swallowing(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        try:
            return list(app(environ, start_response))
        except Exception:
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"fine"]

    return swallowing


def crashes(app: WSGIApp) -> WSGIApp:
    def crashing(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        raise KeyError("HTTP_X_MISSING")

    return crashing


def needs_config(app: WSGIApp) -> WSGIApp:
    raise TypeError("needs_config() takes exports=")


def double_start(app: WSGIApp) -> WSGIApp:
    """Calls start_response twice and hides the error it gets."""

    def starting(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        body = app(environ, start_response)
        with contextlib.suppress(Exception):
            start_response("200 OK", [("Content-Type", "text/plain")])
        return body

    return starting


def test_rules_found_by_the_matrix_itself() -> None:
    verdict = check_row(needs_config, "iterable")[0]
    assert (verdict.rule, verdict.layer) == ("crash", "needs_config")
    assert verdict.happened == "TypeError: needs_config() takes exports="
    # A rule broken and hidden: the Lint kept it.
    verdict = check_row(double_start, "iterable")[0]
    assert (verdict.rule, verdict.layer) == ("exc-info", "double_start")
    by_row = {v.row: v for v in check_middleware(swallows)}
    assert by_row["raise-before-start"].rule == "error-status"
    assert "the error became '200 OK'" in by_row["raise-before-start"].happened
    crash = check_row(crashes, "iterable")[0]
    assert (crash.layer, crash.rule) == ("crashes", "crash")
    assert crash.happened == "unexpected KeyError('HTTP_X_MISSING')"
    with pytest.raises(ValueError, match="unknown row 'nope'; choose one of"):
        check_row(crashes, "nope")


def test_a_stack_names_the_layer_that_broke_the_row() -> None:
    from broken_layers import reverser

    # The write() body is not reversed: no Lint sees it, the comparison does;
    # the layer is found by running each one alone.
    verdict, _ = check_row(compose(ErrorHandler(), reverser), "write")
    assert (verdict.layer, verdict.rule) == ("reverser", "same-response")
    verdict, _ = check_row([ErrorHandler(), swallows], "raise-before-start")
    assert (verdict.layer, verdict.rule) == ("swallows", "error-status")
    # Each layer holds alone: the stack is named.
    verdict, _ = check_row([swallows, ErrorHandler()], "raise-before-start")
    assert verdict.ok


def marks(app: WSGIApp) -> WSGIApp:
    def marking(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        environ["test.marked"] = True
        return app(environ, start_response)

    return marking


def refuses_marked(app: WSGIApp) -> WSGIApp:
    def refusing(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("test.marked"):
            raise LookupError("marked by a layer above")
        return app(environ, start_response)

    return refusing


def test_a_stack_whose_layers_hold_alone_is_named_whole() -> None:
    verdict, _ = check_row([marks, refuses_marked], "iterable")
    assert (verdict.layer, verdict.rule) == ("compose(marks, refuses_marked)", "crash")


def test_the_command_keeps_the_layers_logs_off_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    assert run("tests.broken_layers:wsgimw_stack")[0] == 0
    assert [type(h) for h in root.handlers] == [logging.NullHandler]
    assert "Traceback" not in capsys.readouterr().err


def test_a_verdict_explains_itself() -> None:
    assert Verdict("head", True, "a HEAD request").explain() == "head: ok"
    assert Verdict("head", True, "a HEAD request").pep == ""


def test_the_command_line() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "wsgimw", "check", "tests.broken_layers:reverser"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 1, out.stderr
    assert "server-closes-before-next       BROKEN   reverser  close-once" in out.stdout
    script = Path(sys.executable).with_name("wsgimw")
    out = subprocess.run(
        [str(script), "check", "tests.broken_layers:proxy_fix"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == f"all {len(ROWS)} rows hold"


def test_the_wsgimw_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert wsgimw_main([]) == 2
    assert "commands:" in capsys.readouterr().out
    assert wsgimw_main(["--help"]) == 0
    assert wsgimw_main(["serve"]) == 2
    assert "unknown command 'serve'" in capsys.readouterr().err
    assert wsgimw_main(["check", "tests.broken_layers:proxy_fix"]) == 0
