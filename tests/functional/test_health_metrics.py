"""Health probes, the metrics endpoint, degraded mode in the whole app, and JSON logs."""

from __future__ import annotations

import json
import logging
import re
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from authgate.web.logging import JsonFormatter, RedactSecrets
from tests.functional.conftest import PUBLIC, Harness
from tests.functional.test_store_outage import kill_store

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")


def checks_counted(text: str, outcome: str) -> float:
    for family in text_string_to_metric_families(text):
        if family.name == "authgate_checks":
            return sum(
                s.value
                for s in family.samples
                if s.name == "authgate_checks_total" and s.labels["outcome"] == outcome
            )
    raise AssertionError("no authgate_checks family")


@pytest.mark.parametrize("path", ["/-/health/live", "/-/health/live/"])
async def test_live_answers(harness: Harness, path: str) -> None:
    got = await harness.client.get(f"{PUBLIC}{path}")
    assert got.status_code == 200 and got.json() == {"status": "live"}
    assert got.headers["cache-control"] == "no-store"
    assert (await harness.client.head(f"{PUBLIC}{path}")).status_code == 200


@pytest.mark.parametrize("path", ["/-/health/ready", "/-/health/ready/"])
async def test_ready_says_200_then_503_with_a_reason_when_the_store_dies(
    harness: Harness, path: str
) -> None:
    got = await harness.client.get(f"{PUBLIC}{path}")
    assert got.status_code == 200 and got.json() == {"status": "ready", "reasons": []}
    await kill_store(harness)
    time.sleep(1.1)  # the probe's answer is kept ~1 s
    down = await harness.client.get(f"{PUBLIC}{path}")
    assert down.status_code == 503
    assert down.json()["status"] == "unavailable"
    # the kind of failure only: anyone reaching the listener reads this, and an error's text
    # can name the database's host, port, user or file
    assert re.fullmatch(r"store: the database does not answer \(\w+\)", down.json()["reasons"][0])
    assert str(harness.runtime.settings.data_dir) not in down.text
    assert down.headers["cache-control"] == "no-store"
    assert (await harness.client.head(f"{PUBLIC}{path}")).status_code == 503


async def test_a_known_session_survives_an_outage_and_ready_recovers(harness: Harness) -> None:
    first = await harness.check("app1.test", "/x")
    await harness.login(first.headers["location"])
    assert (await harness.check("app1.test", "/x")).status_code == 200
    db = harness.runtime.settings.data_dir / "authgate.db"
    await kill_store(harness)  # also forgets what this instance held
    assert (await harness.check("app1.test", "/x")).status_code == 503
    assert harness.runtime.health.down_since is not None
    # the database returns: the next sync round notices, no restart
    db.rmdir()
    db.with_suffix(".gone").rename(db)
    await harness.runtime.sync.round()
    assert harness.runtime.health.down_since is None
    assert (await harness.check("app1.test", "/x")).status_code == 200


async def test_metrics_count_checks_and_parse(harness: Harness) -> None:
    before = checks_counted((await harness.client.get(f"{PUBLIC}/-/metrics")).text, "login")
    for _ in range(5):
        assert (await harness.check("app1.test", "/x")).status_code == 302
    got = await harness.client.get(f"{PUBLIC}/-/metrics")
    assert got.status_code == 200
    assert checks_counted(got.text, "login") == before + 5


async def test_metrics_refused_outside_the_allow_list(harness: Harness) -> None:
    outsider = httpx.ASGITransport(app=harness.app, client=("203.0.113.7", 5555))
    async with httpx.AsyncClient(transport=outsider) as client:
        assert (await client.get(f"{PUBLIC}/-/metrics")).status_code == 403
    # through a trusted proxy, the forwarded client is judged: the Internet is refused
    forwarded = {"x-forwarded-for": "203.0.113.7"}
    assert (await harness.client.get(f"{PUBLIC}/-/metrics", headers=forwarded)).status_code == 403


def test_json_log_lines_parse_and_carry_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    formatter, redact = JsonFormatter(), RedactSecrets()
    record = logging.LogRecord(
        "authgate.forward",
        logging.INFO,
        __file__,
        1,
        "decision outcome=login request='GET a.test/x?password=hunter2' cookie=s3cr3tc00kie "
        "authorization: Basic YWxpY2U6aHVudGVyMg==",
        (),
        None,
    )
    record.fields = {
        "decision_id": "abc123",
        "app": "app1",
        "user": None,
        "outcome": "login",
        "duration_ms": 0.4,
        "request": "GET a.test/x?password=hunter2&token=t0k3n",
    }
    redact.filter(record)
    line = formatter.format(record)
    data = json.loads(line)
    assert data["decision_id"] == "abc123" and data["outcome"] == "login"
    assert data["app"] == "app1" and data["duration_ms"] == 0.4
    for secret in ("hunter2", "s3cr3tc00kie", "YWxpY2U6aHVudGVyMg==", "t0k3n"):
        assert secret not in line


async def test_json_decision_lines_from_a_real_check(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    from authgate.web.logging import configure_logging

    configure_logging("info", "json")
    try:
        got = await harness.check(
            "app1.test",
            "/x?password=hunter2",
            cookie="authgate_app1=s3cr3tc00kie",
            authorization="Bearer t0k3nvalue",
        )
        assert got.status_code == 302
        err = capsys.readouterr().err
    finally:
        logging.getLogger("authgate").handlers.clear()
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    decisions = [d for d in lines if d.get("outcome") == "login"]
    assert decisions and decisions[0]["decision_id"] and decisions[0]["app"] == "app1"
    assert "duration_ms" in decisions[0]
    for secret in ("hunter2", "s3cr3tc00kie", "t0k3nvalue"):
        assert secret not in err


async def test_a_session_held_before_the_outage_keeps_working(harness: Harness) -> None:
    first = await harness.check("app1.test", "/x")
    await harness.login(first.headers["location"])
    assert (await harness.check("app1.test", "/x")).status_code == 200
    await harness.runtime.store.engine.dispose()
    db = harness.runtime.settings.data_dir / "authgate.db"
    db.rename(db.with_suffix(".gone"))
    db.mkdir()
    await harness.runtime.sync.round()  # the sync loop notices: degraded mode
    assert harness.runtime.health.down_since is not None
    assert (await harness.check("app1.test", "/x")).status_code == 200
    harness.runtime.health.grace_ends = time.time() - 1  # the grace is over
    assert (await harness.check("app1.test", "/x")).status_code == 503
