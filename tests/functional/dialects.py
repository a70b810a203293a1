"""How each proxy would ask about one client request (method, host, URI, client headers)."""

from __future__ import annotations

from collections.abc import Callable

import httpx

PREFIX = "/outpost.goauthentik.io"
Ask = Callable[[httpx.AsyncClient, str, str, str, dict[str, str]], "AskResult"]


class AskResult:
    def __init__(self, response: httpx.Response, dialect: str) -> None:
        self.response = response
        self.dialect = dialect

    @property
    def outcome(self) -> str:
        """allow | login | deny | unknown | bad, whatever the dialect's status mapping."""
        status = self.response.status_code
        if status == 200:
            return "allow"
        if self.dialect == "nginx":
            return {401: "login", 403: "deny"}.get(status, f"status {status}")
        if status in (302, 401):
            return "login"
        return {403: "deny", 404: "unknown", 400: "bad"}.get(status, f"status {status}")


async def ask(
    client: httpx.AsyncClient,
    dialect: str,
    method: str,
    host: str,
    uri: str,
    headers: dict[str, str] | None = None,
) -> AskResult:
    """Send the auth request exactly as the proxy's configuration in the README would."""
    extra = dict(headers or {})
    if dialect == "nginx":
        sent = {
            "x-original-url": f"http://{host}{uri}",
            "x-original-method": method,
            "x-sent-from": "nginx-ingress-controller",
            "x-forwarded-proto": "",
            **extra,
        }
        response = await client.get(f"http://authgate.svc{PREFIX}/auth/nginx", headers=sent)
    elif dialect in ("traefik", "caddy"):
        sent = {
            "x-forwarded-host": host,
            "x-forwarded-uri": uri,
            "x-forwarded-method": method,
            "x-forwarded-proto": "http",
            **extra,
        }
        target = f"http://authgate.svc{PREFIX}/auth/{dialect}"
        if dialect == "caddy":
            sent["host"] = host
        response = await client.get(target, headers=sent)
    else:  # envoy: original method, path appended to the prefix, original Host
        request = client.build_request(
            method, f"http://authgate.svc{PREFIX}/auth/envoy{uri}", headers={"host": host, **extra}
        )
        response = await client.send(request)
    return AskResult(response, dialect)


DIALECTS = ["nginx", "traefik", "caddy", "envoy"]
