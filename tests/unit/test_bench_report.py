"""The bench's rounds and ratios: the median round stands for a scenario, an error in any
round is the scenario's error, and each ratio says whether the issue's target is met."""

from __future__ import annotations

from typing import Any

from bench.report import combine, ratios


def _round(name: str, rate: float, p99: float, error: str | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "server": "granian",
        "requests_per_s": rate,
        "latency_ms": {"p99": p99},
        "error": error,
    }


def test_combine_takes_the_median_and_keeps_the_spread() -> None:
    out = combine([_round("d", 100, 9), _round("d", 300, 5), _round("d", 200, 7)])
    assert out["requests_per_s"] == 200
    assert out["p99_ms_median"] == 7
    assert out["spread"]["requests_per_s_min"] == 100
    assert out["spread"]["requests_per_s_max"] == 300
    assert [r["requests_per_s"] for r in out["rounds"]] == [100, 300, 200]
    assert out["error"] is None


def test_an_error_in_any_round_is_the_scenarios_error() -> None:
    out = combine([_round("d", 100, 9), _round("d", 0, 0, error="wrk failed")])
    assert out["error"] == "wrk failed"


def test_ratios_say_met_or_not_against_the_issues_targets() -> None:
    reports = [
        combine([_round("nginx_valid_cookie_keepalive", 90, 12)]),
        combine([_round("floor_h_keepalive", 100, 10)]),
        combine([_round("nginx_valid_cookie", 50, 20)]),
        combine([_round("floor_h_new_connection", 100, 10)]),
        combine([_round("floor_c_second_nginx", 300, 5)]),
        combine([_round("nginx_valid_cookie_keepalive_logins", 80, 30)]),
    ]
    out = ratios(reports)
    assert out["d/h"]["value"] == 0.9 and out["d/h"]["met"] is True
    assert out["d'/h'"]["value"] == 0.5 and out["d'/h'"]["met"] is False
    assert out["d/c"]["value"] == 0.3 and out["d/c"]["met"] is False
    assert out["p99 d/h"]["value"] == 1.2 and out["p99 d/h"]["met"] is True
    assert out["p99 f/d"]["value"] == 2.5 and out["p99 f/d"]["met"] is False
    assert "d_cache/b" not in out  # no d_cache scenario: no ratio, not a fake one


def test_a_failed_scenario_gives_no_ratio() -> None:
    reports = [
        _round("nginx_valid_cookie_keepalive", 90, 12, error="no session cookie"),
        _round("floor_h_keepalive", 100, 10),
    ]
    assert "d/h" not in ratios(reports)
