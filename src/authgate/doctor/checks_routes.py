"""Static checks over every proxy's routes: the outpost path, identity headers, registered
apps."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

from authgate.doctor.findings import Finding, error, info, warning
from authgate.doctor.routes import DIALECT_OF, OUTPOST, HostSetup, Route
from authgate.doctor.survey import Survey
from authgate.forward.headers import IDENTITY_HEADERS
from authgate.forward.hosts import canonical_host, within_domain

LOOP = "the browser goes round between the app and /start until it gives up ('too many redirects')"

_OUTPOST_ROUTE_FIX = {
    "ingress-nginx": f"serve {OUTPOST}/ from a second Ingress on the host without any auth-* "
    "annotation, to the authgate Service (seed 000's {app}-outpost Ingress)",
    "traefik": f"add a route `Host(`HOST`) && PathPrefix(`{OUTPOST}/`)` to the authgate service "
    "without the forward-auth middleware (seed 003's route 2)",
    "nginx": f"add `location {OUTPOST}/ {{ proxy_pass http://authgate; proxy_set_header Host "
    "$host; proxy_set_header X-Forwarded-Host $http_host; }` with no auth_request",
    "caddy": f"add `handle {OUTPOST}/* {{ reverse_proxy authgate:9000 }}` and move forward_auth "
    "into a `handle { … }` beside it",
}
_UNPROTECT_FIX = {
    "ingress-nginx": "move this path to an Ingress without auth-* annotations: annotations apply "
    "to every path of their Ingress",
    "traefik": "remove the forward-auth middleware from this route",
    "nginx": "add `auth_request off;` to this location",
    "caddy": "a site-level forward_auth runs before every handle: move it into `handle { … }` "
    f"(or a `route` after the {OUTPOST}/* proxy)",
}


def _fix(table: dict[str, str], setup: HostSetup) -> str:
    return table.get(setup.proxy, table["nginx"]).replace("HOST", setup.host)


def outpost_behind_auth(survey: Survey) -> Iterator[Finding]:
    """The outpost route exists, but the check still runs for the outpost path: a loop."""
    for setup in survey.setups:
        served = setup.serves_outpost
        if not setup.outpost_routes or served is None or served.auth is None:
            continue
        if served.outpost:
            yield error(
                "outpost-behind-auth",
                served.label,
                f"{OUTPOST}/ on {setup.host} passes the forward-auth check ({served.auth.label}): "
                f"the login's /start and /callback are sent to log in themselves, so {LOOP}",
                _fix(_UNPROTECT_FIX, setup),
                served.where,
            )
        else:
            outpost = setup.outpost_routes[0]
            yield error(
                "outpost-behind-auth",
                outpost.label,
                f"{served.label} wins over this route for {OUTPOST}/ on {setup.host} and carries "
                f"the forward-auth check, so {LOOP}",
                "give the outpost route precedence: drop the protected route's explicit priority "
                "or set the outpost route's higher",
                outpost.where,
            )


def no_outpost_route(survey: Survey) -> Iterator[Finding]:
    for setup in survey.setups:
        if not setup.protected or setup.outpost_routes:
            continue
        route = next(r for r in setup.routes if r.auth is not None)
        served = setup.serves_outpost
        if served is not None and served.auth is not None:
            effect = f"it lands behind the forward-auth check ({served.label}) and {LOOP}"
        else:
            where = served.label if served else "no route"
            effect = f"it reaches {where}: 'Not Found' instead of the login"
        yield error(
            "no-outpost-route",
            route.label,
            f"nothing on {setup.host} sends {OUTPOST}/ to authgate: the login redirect to "
            f"{OUTPOST}/start has nowhere to go — {effect}",
            _fix(_OUTPOST_ROUTE_FIX, setup).replace("{app}", route.name),
            route.where,
        )


def identity_headers(survey: Survey) -> Iterator[Finding]:
    for auth in survey.auths():
        if auth.copied is None:
            continue
        listed = {h.lower() for h in auth.copied}
        missing = [h for h in IDENTITY_HEADERS if h.lower() not in listed]
        if not missing:
            continue
        yield warning(
            "identity-headers-not-overwritten",
            auth.label,
            f"{auth.copied_label} lacks {', '.join(missing)}: the proxy passes these from the "
            "client to the app untouched, so an app that trusts one of them can be fooled by a "
            "forged header (authgate refuses requests carrying them; authentik does not)",
            f"list every identity header in {auth.copied_label}: {', '.join(IDENTITY_HEADERS)}",
            auth.where,
        )


def _registered(survey: Survey, host: str) -> bool:
    canonical = canonical_host(host) or host
    return any(
        app.host == canonical
        or (app.mode == "domain" and within_domain(canonical, app.cookie_domain))
        for app in survey.apps or ()
    )


def unregistered_hosts(survey: Survey) -> Iterator[Finding]:
    protected = [s for s in survey.setups if s.protected]
    if not protected:
        return
    if survey.apps is None:
        yield info(
            "apps-not-compared",
            "authgate store",
            f"protected hosts were not compared with authgate's apps: {survey.store_note}",
            "run the doctor where authgate's settings reach its store (--config, AUTHGATE_*)",
        )
        return
    for setup in protected:
        if canonical_host(setup.host) is None or _registered(survey, setup.host):
            continue  # a default server or wildcard names no one host to register
        route: Route = next(r for r in setup.routes if r.auth is not None)
        scheme = "https" if setup.tls else "http"
        yield error(
            "host-not-registered",
            route.label,
            f"authgate has no app for {setup.host}: visitors get 'No application for "
            f"{setup.host}' (404) instead of the login",
            f"authgate app add {route.name} --url {scheme}://{setup.host}   "
            "(or: authgate import FILE… for every host at once)",
            route.where,
        )


def auth_endpoint(survey: Survey) -> Iterator[Finding]:
    """The auth URL's dialect must be the proxy's: nginx cannot pass a redirect on."""
    for auth in survey.auths():
        marker = OUTPOST + "/auth/"
        if marker not in auth.address:
            continue
        dialect = auth.address.split(marker, 1)[1].split("/")[0].split("?")[0]
        expected = DIALECT_OF[auth.proxy]
        if dialect == expected:
            continue
        path = urlsplit(auth.address).path or auth.address
        fix = f"point it at {OUTPOST}/auth/{expected}"
        if {dialect, expected} == {"traefik", "caddy"}:
            yield info(
                "auth-endpoint-dialect",
                auth.label,
                f"{path} is the endpoint for {dialect}; it works, but {expected}'s is meant "
                "for this proxy",
                fix,
                auth.where,
            )
        elif expected == "nginx":
            yield error(
                "auth-endpoint-dialect",
                auth.label,
                f"{path} answers a browser with a redirect, which nginx turns into a "
                "500 error page",
                fix,
                auth.where,
            )
        else:
            yield error(
                "auth-endpoint-dialect",
                auth.label,
                f"{path} answers 401 without a redirect: visitors see a bare 401 "
                "instead of the login",
                fix,
                auth.where,
            )


def keepalive(survey: Survey) -> Iterator[Finding]:
    for auth in survey.auths():
        if auth.keepalive is False:
            yield info(
                "auth-keepalive-off",
                auth.label,
                "each check opens a new connection to authgate (no keepalive to it): every "
                "request pays a TCP handshake, about half the checks per second",
                _KEEPALIVE_FIX.get(auth.proxy, _KEEPALIVE_FIX["nginx"]),
                auth.where,
            )


def unreadable_guard(survey: Survey) -> Iterator[Finding]:
    for auth in survey.auths():
        if auth.unreadable_guard is False:
            yield info(
                "auth-control-byte-500",
                auth.label,
                "a client header with a control byte (\\x01) makes authgate's server answer "
                "the check 400, which auth_request turns into a 500 for that client",
                "in the auth location: proxy_intercept_errors on; error_page 400 = @refused; "
                "with location @refused { return 403; } (authgate manifests --target nginx "
                "writes it, and tells the client 400)",
                auth.where,
            )


_KEEPALIVE_FIX = {
    "nginx": "upstream authgate { server HOST:9000; keepalive 16; } and in the auth location "
    "proxy_pass http://authgate/…; proxy_http_version 1.1; "
    'proxy_set_header Connection "";',
    "ingress-nginx": 'annotation nginx.ingress.kubernetes.io/auth-keepalive: "32" (the '
    "controller ignores it while its ConfigMap has use-http2 on, the default); "
    "authgate manifests --target ingress-nginx writes it",
}


def app_conflicts(survey: Survey) -> Iterator[Finding]:
    """Two apps for one host (or two domain-mode apps for one cookie domain) in the store:
    authgate refuses that host rather than pick one."""
    from authgate.forward.apps import find_conflicts

    for conflict in find_conflicts(survey.apps or ()):
        yield error(
            "apps-claim-one-host",
            f"authgate store: {conflict.kind} {conflict.name}",
            f"{conflict.reason}: every request for it is refused (503; 401 behind nginx) "
            "instead of one app's rules and bindings silently applying",
            conflict.fix,
        )
