"""``python -m bench.hot_loop``: authgate's allowed check and the floor's, in process."""

from __future__ import annotations

import pytest
from bench import hot_loop


async def test_the_hot_loop_measures_an_allowed_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert await hot_loop.main(["--checks", "50", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert "floor" in out and "authgate" in out and "judged" in out and "µs/check" in out
