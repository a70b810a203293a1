"""``authgate explain``: why a request would be (or was) allowed, sent to login or denied."""

from __future__ import annotations

import json
import sys

import click

from authgate.cli.command import emit, fail, json_option, load, run_store
from authgate.forward.apps import AppIndex
from authgate.forward.decision import Decision
from authgate.forward.issuers import EXTERNAL_JWT
from authgate.forward.model import (
    PASSKEY,
    PASSWORD,
    RECOVERY_CODE,
    TOTP,
    AppView,
    Identity,
    with_mfa_default,
)
from authgate.forward.policy import CookieState, decide
from authgate.forward.request import BadRequest, ForwardRequest
from authgate.storage.store import Store

KNOWN_METHODS = frozenset({PASSWORD, TOTP, PASSKEY, RECOVERY_CODE, EXTERNAL_JWT})


def parse_url(url: str, method: str, ip: str) -> ForwardRequest:
    scheme, sep, _ = url.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        fail(f"--url {url!r} is not an absolute http(s) URL")
    try:
        return ForwardRequest.from_url(url, method, ip)
    except BadRequest as exc:
        print_refusal(url, exc.reason)
        sys.exit(1)


def parse_amr(value: str) -> tuple[str, ...]:
    methods = tuple(dict.fromkeys(m.strip() for m in value.split(",") if m.strip()))
    unknown = [m for m in methods if m not in KNOWN_METHODS]
    if unknown:
        known = ", ".join(sorted(KNOWN_METHODS))
        fail(f"--amr: unknown method {', '.join(unknown)} (known: {known})")
    return methods


def print_refusal(url: str, reason: str) -> None:
    click.echo(f"request: {url}\noutcome: bad request (400; 401 on auth/nginx): {reason}")


@click.command()
@click.option("--url", default="", help="The URL a browser would open.")
@click.option("--user", "username", default="", help="Judge as this user (signed in).")
@click.option("--anonymous", is_flag=True, help="Judge without a session (the default).")
@click.option(
    "--amr",
    default=PASSWORD,
    show_default=True,
    help="How the session signed in (with --user): pwd, otp, hwk, rec, comma-separated; "
    "jwt for a machine identity (an external issuer's token).",
)
@click.option("--method", default="GET", show_default=True)
@click.option("--ip", default="127.0.0.1", show_default=True, help="Client address.")
@click.option("--decision", "decision_id", default="", help="Show a past decision by its id.")
@click.option(
    "--issuers", "show_issuers", is_flag=True, help="List the external JWT issuers and rules."
)
@json_option
@click.pass_context
def explain(
    ctx: click.Context,
    url: str,
    username: str,
    anonymous: bool,
    amr: str,
    method: str,
    ip: str,
    decision_id: str,
    show_issuers: bool,
    as_json: bool,
) -> None:
    """Explain a decision: the canonical request, the app, each rule tried, whether the app
    needs a second factor, the outcome. --amr says how the --user session signed in.
    --issuers lists the external JWT issuers and which user each claim rule maps to."""
    if decision_id:
        show_decision(ctx, decision_id, as_json)
        return
    if show_issuers:
        from authgate.cli.issuers import show_issuers as show

        show(ctx, as_json)
        return
    if not url:
        fail("give --url URL (or --decision ID)")
    if username and anonymous:
        fail("--user and --anonymous exclude each other")
    request = parse_url(url, method, ip)
    methods = parse_amr(amr)

    async def act(store: Store) -> tuple[Decision, list[str], bool | None]:
        identity = None
        if username:
            user = await store.get_user(username)
            if user.disabled:
                fail(f"user {username} is disabled: every request of theirs goes to login")
            identity = Identity.of_account(user, "explain", amr=methods)

        trace: list[str] = []
        apps = with_mfa_default(await store.load_apps(), load(ctx).require_mfa)
        app = AppIndex(apps).find(request, trace)
        state = CookieState.ABSENT if identity is None else CookieState.VALID
        # explain prints no login URL, so the outpost prefix in it does not matter
        mfa = app.needs_mfa if isinstance(app, AppView) else None
        return decide(app, request, identity, state, trace, prefix=""), trace, mfa

    decision, trace, mfa = run_store(ctx, act)
    data: dict[str, object] = {
        "request": {
            "method": request.method,
            "host": request.host,
            "path": request.path,
            "client_ip": request.client_ip,
        },
        "outcome": decision.outcome,
        "reason": decision.reason,
        "trace": trace,
        "mfa_required": mfa,
        "amr": list(methods) if username else [],
    }
    emit(as_json, data, lambda: _text(data))


def _text(data: dict[str, object]) -> str:
    trace = data["trace"]
    assert isinstance(trace, list)
    lines = [f"  {i}. {step}" for i, step in enumerate(trace, 1)]
    return "\n".join([*lines, f"outcome: {data['outcome']} ({data['reason']})"])


def show_decision(ctx: click.Context, decision_id: str, as_json: bool) -> None:
    event = run_store(ctx, lambda store: store.find_decision(decision_id.strip()))
    if event is None:
        click.echo(
            f"authgate: no decision {decision_id!r} in the audit log (decisions are written "
            "within a second or two; ids are shown on the deny page and in the log)",
            err=True,
        )
        sys.exit(1)
    try:
        detail = json.loads(event.detail)
    except ValueError:
        detail = {"reason": event.detail, "trace": []}
    data = {
        "decision": event.decision_id,
        "at": event.at.isoformat(),
        "event": event.event,
        "user": event.actor,
        "app": event.app,
        "request": event.subject,
        "client_ip": event.ip,
        **detail,
    }
    emit(as_json, data, lambda: _decision_text(data))


def _decision_text(data: dict[str, object]) -> str:
    head = [
        f"{k}: {data[k]}"
        for k in (
            "decision",
            "at",
            "event",
            "user",
            "app",
            "request",
            "client_ip",
            "dialect",
            "reason",
        )
        if data.get(k)
    ]
    trace = data.get("trace") or []
    assert isinstance(trace, list)
    return "\n".join([*head, "trace:", *(f"  {i}. {s}" for i, s in enumerate(trace, 1))])
