"""The whole ASGI app in-process (httpx ASGITransport): fast tests of the flow and dialects."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from authgate.accounts.passwords import hash_password
from authgate.config import load_settings
from authgate.server import AuthgateApp, create_app
from authgate.storage.migrate import upgrade
from authgate.storage.store import Store
from authgate.web.runtime import Runtime
from tests.forms import find_login_form

PUBLIC = "http://auth.test"
PREFIX = "/outpost.goauthentik.io"
PASSWORD = "correct horse battery"


@dataclass
class Harness:
    app: AuthgateApp
    runtime: Runtime
    client: httpx.AsyncClient

    async def login(self, start_url: str, username: str = "alice", password: str = PASSWORD) -> str:
        """Follow start -> portal -> login form -> callback; return the final Location."""
        location = await self.follow(start_url, stop_at=f"{PUBLIC}/login")
        page = await self.client.get(location)
        assert page.status_code == 200, page.text
        form = login_fields(page.text)
        form.update(username=username, password=password)
        posted = await self.client.post(f"{PUBLIC}/login", data=form)
        assert posted.status_code == 303, posted.text
        return await self.follow(posted.headers["location"])

    async def follow(self, url: str, stop_at: str = "", limit: int = 10) -> str:
        """Follow redirects by hand, sending each to the host it names (as a proxy would)."""
        for _ in range(limit):
            if stop_at and url.startswith(stop_at):
                return url
            parts = urlsplit(url)
            if parts.path.startswith(PREFIX) or parts.netloc == "auth.test":
                response = await self.client.get(url)
            else:
                return url
            if response.status_code not in (302, 303):
                return url
            url = response.headers["location"]
        raise AssertionError("too many redirects")

    async def check(self, host: str, uri: str = "/", **headers: str) -> httpx.Response:
        """Ask the Traefik endpoint as Traefik would."""
        base = {"x-forwarded-host": host, "x-forwarded-uri": uri, "accept": "text/html"}
        jar = "; ".join(
            f"{c.name}={c.value}" for c in self.client.cookies.jar if c.domain == host.split(":")[0]
        )
        if jar:
            base["cookie"] = jar
        # The browser's cookies travel in the header above, as a proxy forwards them.
        async with httpx.AsyncClient(transport=self.client._transport) as bare:
            return await bare.get(
                f"http://authgate.internal{PREFIX}/auth/traefik", headers={**base, **headers}
            )


def login_fields(html: str) -> dict[str, str]:
    """The fields the page's login form sends as it stands (CSRF token, state, ...)."""
    form = find_login_form(html)
    assert form is not None, f"no login form on the page:\n{html[:2000]}"
    return form.fields


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A migrated database and one password hash, made once and copied into each test."""
    path = tmp_path_factory.mktemp("template") / "authgate.db"

    async def migrate() -> None:
        store = Store(f"sqlite+aiosqlite:///{path}")
        await upgrade(store.engine)
        await store.close()

    asyncio.run(migrate())
    return path, hash_password(PASSWORD)


async def build_harness(tmp_path: Path, template: tuple[Path, str]) -> Harness:
    shutil.copy(template[0], tmp_path / "authgate.db")
    settings = load_settings({"AUTHGATE_DATA_DIR": str(tmp_path), "AUTHGATE_PUBLIC_URL": PUBLIC})
    runtime = Runtime(settings)
    store = runtime.store
    pw = template[1]
    await store.add_user(
        "alice", email="alice@x.test", name="Alice A", password_hash=pw, groups=["staff"]
    )
    await store.add_user("bob", password_hash=pw, groups=["guests"])
    await store.add_app(
        "app1", url="http://app1.test", name="App 1", groups=["staff"], skip_paths=["^/public"]
    )
    await store.add_app("app2", url="http://app2.test")
    await runtime.reload()
    app = create_app(settings, runtime)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5555))
    browser = {"accept": "text/html,application/xhtml+xml", "sec-fetch-mode": "navigate"}
    return Harness(app, runtime, httpx.AsyncClient(transport=transport, headers=browser))


async def close_harness(harness: Harness) -> None:
    await harness.client.aclose()
    await harness.runtime.store.close()


@pytest.fixture
async def harness(tmp_path: Path, template_db: tuple[Path, str]) -> AsyncIterator[Harness]:
    built = await build_harness(tmp_path, template_db)
    yield built
    await close_harness(built)


Browsers = Callable[[], httpx.AsyncClient]


@pytest.fixture
async def browsers(harness: Harness) -> AsyncIterator[Browsers]:
    """Fresh browsers (own cookie jars) on the same in-process app."""
    made: list[httpx.AsyncClient] = []

    def make() -> httpx.AsyncClient:
        made.append(
            httpx.AsyncClient(transport=harness.client._transport, headers=harness.client.headers)
        )
        return made[-1]

    yield make
    for client in made:
        await client.aclose()


@pytest.fixture
def sync_harness(tmp_path: Path, template_db: tuple[Path, str]) -> Iterator[Harness]:
    """The same app for plain (non-async) tests that drive their own event loop."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    built = loop.run_until_complete(build_harness(tmp_path, template_db))
    try:
        yield built
    finally:
        loop.run_until_complete(close_harness(built))
        loop.close()
        asyncio.set_event_loop(None)
