"""The soak's short form (issue 17): the full stack under gunicorn gthread
(2 workers x 4 threads) driven by wrk with mixed and hostile traffic for
about 20 s, then checked (see `bench.soak`). The long form is
``python -m bench.soak --seconds 120``."""

from __future__ import annotations

import pytest

from bench import soak

pytestmark = pytest.mark.integration


def test_a_short_soak_holds() -> None:
    result = soak.run(seconds=20, warmup=4)
    print("\n".join(soak.report(result)))  # the figures, with -s or on failure
    assert result.ok, "\n".join(result.failures)
    # What the checks rest on: every kind was served, both workers worked.
    assert set(result.statuses) == set(soak.EXPECTED)
    assert len(result.counts) == soak.WORKERS
    assert all(counts["made"] > 0 for counts in result.counts)
    assert result.access_lines == result.gunicorn_lines > result.requests > 0


def test_the_report_names_each_failure() -> None:
    result = soak.Result(
        seconds=1,
        requests=10,
        before=[soak.Worker(1, 1000, 10)],
        after=[soak.Worker(1, 1000 + soak.RSS_MARGIN_KB + 1, 10 + soak.FD_MARGIN + 1)],
        counts=[{"pid": 1, "made": 3, "closed": 2, "closed_again": 1}],
        failures=["made up"],
    )
    lines = soak.report(result)
    assert not result.ok
    assert "FAILED: made up" in lines
    assert any("3 bodies, 2 closed once, 1 closed again" in line for line in lines)


def test_the_command_line_refuses_nonsense() -> None:
    with pytest.raises(SystemExit):
        soak.main(["--seconds", "0"])
