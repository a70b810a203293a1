"""Static checks for ingress-nginx's ``auth-*`` annotations (seed 000) and for ingress-nginx
itself."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

from authgate.doctor.findings import Finding, Where, error, warning
from authgate.doctor.ingress import runs_on_traefik
from authgate.doctor.kube import NGINX_PREFIX, KObject, items, mapping, text
from authgate.doctor.routes import OUTPOST
from authgate.doctor.survey import Survey
from authgate.forward.hosts import within_domain

SNIPPETS = ("configuration-snippet", "auth-snippet", "server-snippet")
SIGNIN_FORM = f"{OUTPOST}/start?rd=$scheme://$http_host$request_uri"


def _nginx_ingresses(survey: Survey) -> list[KObject]:
    return [i for i in survey.inventory.of("Ingress") if not runs_on_traefik(i)]


def _with_auth(survey: Survey) -> list[KObject]:
    return [i for i in _nginx_ingresses(survey) if i.annotation("auth-url") is not None]


def _at(ing: KObject, short: str) -> Where:
    return ing.at("metadata", "annotations", NGINX_PREFIX + short)


def _hosts(ing: KObject) -> list[str]:
    return [h for r in items(ing.spec.get("rules")) if (h := text(mapping(r).get("host")).lower())]


def forwarded_host(survey: Survey) -> Iterator[Finding]:
    for ing in _with_auth(survey):
        ref = ing.annotation("auth-proxy-set-headers")
        if ref is None:
            yield _forwarded_host_warning(ing, "there is no auth-proxy-set-headers annotation")
            continue
        namespace, _, name = ref.rpartition("/")
        configmap = survey.inventory.find("ConfigMap", namespace or ing.namespace, name)
        if configmap is None:
            yield error(
                "nginx-proxy-headers-configmap-missing",
                ing.ref,
                f"auth-proxy-set-headers names ConfigMap {ref}, which is not among the given "
                "manifests: if it is missing in the cluster too, ingress-nginx denies every path "
                "of this Ingress (503)",
                f"create ConfigMap {ref} (data: X-Forwarded-Host: <host>) or drop the "
                "annotation — authgate does not need it",
                _at(ing, "auth-proxy-set-headers"),
            )
        elif not any(
            str(k).lower() == "x-forwarded-host" for k in mapping(configmap.body.get("data"))
        ):
            yield _forwarded_host_warning(ing, f"ConfigMap {ref} has no X-Forwarded-Host")


def _forwarded_host_warning(ing: KObject, why: str) -> Finding:
    return warning(
        "nginx-no-forwarded-host",
        ing.ref,
        f"{why}, so the auth subrequest carries no X-Forwarded-Host. authgate finds the app "
        "from X-Original-URL and is not affected; only authentik's outpost needs it (it answers "
        "404 without it)",
        "nothing to do for authgate; while authentik still answers, add a ConfigMap with "
        "X-Forwarded-Host: <host> and name it in auth-proxy-set-headers (seed 000)",
        _at(ing, "auth-url"),
    )


def snippets(survey: Survey) -> Iterator[Finding]:
    for ing in _nginx_ingresses(survey):
        for short in SNIPPETS:
            if ing.annotation(short) is not None:
                yield warning(
                    "nginx-snippet",
                    ing.ref,
                    f"{short} is off by default since ingress-nginx v1.9.0 and refused by the "
                    "default annotations-risk-level: the controller rejects or ignores this "
                    "Ingress unless its admin allowed snippets",
                    "remove the snippet: authgate needs none (headers for the auth request go "
                    "in an auth-proxy-set-headers ConfigMap)",
                    _at(ing, short),
                )


def set_cookie_listed(survey: Survey) -> Iterator[Finding]:
    for ing in _with_auth(survey):
        listed = [
            h.strip().lower() for h in (ing.annotation("auth-response-headers") or "").split(",")
        ]
        if "set-cookie" in listed:
            yield warning(
                "nginx-set-cookie-forwarded",
                ing.ref,
                "auth-response-headers lists Set-Cookie: the app receives authgate's session "
                "cookie in its request. The browser gets the cookie anyway (ingress-nginx adds it "
                "by itself), so listing it gains nothing",
                "remove Set-Cookie from auth-response-headers",
                _at(ing, "auth-response-headers"),
            )


def signin(survey: Survey) -> Iterator[Finding]:
    for ing in _with_auth(survey):
        url = ing.annotation("auth-signin")
        hosts = _hosts(ing)
        first = hosts[0] if hosts else "HOST"
        if url is None:
            yield error(
                "nginx-no-signin",
                ing.ref,
                "no auth-signin: a visitor who is not logged in gets a bare 401 page, not the "
                "login",
                f"auth-signin: http(s)://{first}{SIGNIN_FORM}",
                _at(ing, "auth-url"),
            )
            continue
        yield from _signin_url(survey, ing, url, hosts)


def _signin_url(survey: Survey, ing: KObject, url: str, hosts: list[str]) -> Iterator[Finding]:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    where = _at(ing, "auth-signin")
    tls = {
        text(h).lower() for t in items(ing.spec.get("tls")) for h in items(mapping(t).get("hosts"))
    }
    for app_host in hosts:
        if (
            "$" not in parts.netloc
            and host != app_host
            and not _shared_cookie(survey, host, app_host)
        ):
            same_parent = host.split(".")[-2:] == app_host.split(".")[-2:]
            make = warning if same_parent else error
            yield make(
                "nginx-signin-host",
                ing.ref,
                f"auth-signin sends the browser to {host}, not {app_host}: the login cookie is "
                f"set on {host}, so {app_host} never sees it and asks again — a login loop"
                + (" (unless the app is registered in domain mode)" if same_parent else ""),
                f"auth-signin: {parts.scheme}://{app_host}{SIGNIN_FORM}",
                where,
            )
        if parts.scheme == "https" and app_host not in tls:
            yield warning(
                "nginx-signin-scheme",
                ing.ref,
                f"auth-signin uses https but the Ingress has no TLS for {app_host}: unless TLS "
                "ends in front of ingress-nginx, the login starts on its default certificate",
                f"add spec.tls for {app_host}, or use http:// in auth-signin",
                where,
            )
        elif parts.scheme == "http" and app_host in tls:
            yield warning(
                "nginx-signin-scheme",
                ing.ref,
                f"auth-signin uses http but {app_host} has TLS: an extra redirect at best, and "
                "with ssl-redirect off the Secure login cookie is dropped over http — a login loop",
                f"auth-signin: https://{app_host}{SIGNIN_FORM}",
                where,
            )


def _shared_cookie(survey: Survey, a: str, b: str) -> bool:
    return any(
        app.mode == "domain"
        and within_domain(a, app.cookie_domain)
        and within_domain(b, app.cookie_domain)
        for app in survey.apps or ()
    )


def _says_nginx(ing: KObject) -> bool:
    cls = text(ing.spec.get("ingressClassName")) or text(
        ing.annotations.get("kubernetes.io/ingress.class")
    )
    return "nginx" in cls or any(str(k).startswith(NGINX_PREFIX) for k in ing.annotations)


def retired(survey: Survey) -> Iterator[Finding]:
    ingresses = [i for i in _nginx_ingresses(survey) if _says_nginx(i)]
    ingresses.sort(key=lambda i: i.annotation("auth-url") is None)  # name a protected one
    if ingresses:
        yield warning(
            "ingress-nginx-retired",
            ingresses[0].ref,
            f"{len(ingresses)} Ingress(es) here run on ingress-nginx, retired since March 2026: "
            "no more releases or security fixes",
            "move to Envoy Gateway: `authgate manifests --target envoy-gateway` writes the "
            "Gateway, routes and auth policy for your apps",
            ingresses[0].where,
        )
