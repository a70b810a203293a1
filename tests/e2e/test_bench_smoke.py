"""``make bench`` keeps working: ``bench/forward_auth.py --smoke`` runs every scenario once
for a second and its JSON names each of them, measured and without an error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# server:scenario for every scenario a full run measures
EXPECTED = {
    *(
        f"granian:{name}"
        for name in (
            "nginx_baseline_no_auth",
            "nginx_valid_cookie",
            "nginx_anonymous",
            "nginx_auth_cache",
            "traefik_baseline_no_auth",
            "traefik_valid_cookie",
            "direct_keepalive",
            "direct_new_connection",
            "nginx_valid_cookie_keepalive",
            "nginx_valid_cookie_keepalive_logins",
            "floor_h_keepalive",
            "floor_h_new_connection",
            "floor_c_second_nginx",
            "floor_b_internal",
            "scale_sqlite",
            "scale_postgres",
        )
    ),
    *(
        f"uvicorn:{name}"
        for name in ("direct_keepalive", "direct_new_connection", "nginx_valid_cookie")
    ),
}


def test_bench_smoke_gives_every_scenario_measured() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "forward_auth.py"), "--smoke", "--no-save"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["smoke"] is True
    assert "error" not in result and "interrupted" not in result
    by_name = {f"{s['server']}:{s['name']}": s for s in result["scenarios"]}
    assert set(by_name) == EXPECTED
    for name, scenario in by_name.items():
        assert scenario["error"] is None, (name, scenario["error"])
        assert scenario["requests"] > 0, name
        assert scenario["requests_per_s"] > 0, name
        assert scenario["errors_total"] == 0, (name, scenario["errors_total"])
        assert scenario["latency_ms"]["p99"] > 0, name
    ratios = result["ratios"]
    ratio_names = ("d/h", "d'/h'", "d/c", "p99 d/h", "p99 f/d", "d_cache/b")
    for name in (*ratio_names, "scale_sqlite/d", "scale_postgres/d"):
        assert isinstance(ratios[name]["value"], float), name
        assert isinstance(ratios[name]["met"], bool), name
    for backend in ("sqlite", "postgres"):  # the small seed the smoke run uses, and its times
        scale = result["scale"][backend]
        assert scale["seed"]["sessions"] == 10_000 and scale["seed"]["apps"] == 200, scale
        assert scale["seed"]["load_pairs"] > 100 and scale["startup_s"] > 0, scale
    logins = by_name["granian:nginx_valid_cookie_keepalive_logins"]["logins"]
    # the loop works and says why an attempt failed; on a loaded 2-core machine a login may
    # time out now and then (the smoke run measures nothing), but most must succeed
    assert logins["logins"] > 0 and logins["failed"] < logins["logins"], logins
    assert (logins["failed"] == 0) == (logins["first_error"] is None), logins
