"""The real password over Basic through real nginx with the config ``authgate manifests``
writes: a script that sends the user's password reaches an app with ``--basic-password``
as that user (the app never sees the password); once the app has the option no more, the
same request is refused with 401 and ``WWW-Authenticate: Basic``, never a redirect."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from .servers import Authgate, Echo
from .test_api_tokens import assert_refused, basic, get
from .test_generated_configs import ALICE, HOST, Generated, deployment

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory, echo: Echo) -> Iterator[Generated]:
    workdir = tmp_path_factory.mktemp("basic-password-nginx")
    with (
        Authgate(workdir / "authgate") as authgate,
        deployment("nginx", workdir, echo, authgate, "--basic-password") as port,
    ):
        yield Generated(port, authgate)


def test_the_password_reaches_an_opted_in_app_and_is_refused_elsewhere(
    generated: Generated,
) -> None:
    url = f"http://{HOST}:{generated.port}/dav/file.txt"
    first = get(url, basic(*ALICE))
    assert first.status_code == 200, first.text
    seen = first.json()["headers"]
    assert seen["x-authentik-username"] == "alice" and seen["x-authentik-groups"] == "staff"
    assert "authorization" not in seen and ALICE[1] not in first.text
    assert get(url, basic(*ALICE)).status_code == 200  # again: remembered, still allowed
    assert_refused(get(url, basic(ALICE[0], "not the password")), "Basic")
    assert_refused(get(url, basic("nobody", ALICE[1])), "Basic")

    generated.authgate.cli("app", "set", "gen", "--no-basic-password")
    deadline = time.monotonic() + 10
    while get(url, basic(*ALICE)).status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.2)  # until the running server has followed the change
    assert_refused(get(url, basic(*ALICE)), "Basic")
