"""``authgate app …``"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import click

from authgate.cli.command import emit, fail, json_option, run_store, table
from authgate.errors import NotFoundError
from authgate.forward.hosts import canonical_host, within_domain
from authgate.forward.model import AppView
from authgate.storage.store import BindingChange, Store
from authgate.storage.store.names import icon_problem, one_line

PATHS = click.Choice(["case-sensitive", "case-insensitive"])
PATHS_HELP = "case-insensitive: every path rule matches in any letter case (IIS, Windows)."
MFA_HELP = "Ask for a second factor (TOTP, passkey) before this app; default: AUTHGATE_REQUIRE_MFA."
ICON_HELP = "Launcher icon: an https:// (or http://) image URL, or a data:image/… URL."
DESCRIPTION_HELP = "Launcher: one line about the app."
JWT_BEARER_HELP = (
    "Also hand the app its X-authentik-jwt as Authorization: Bearer (for apps that verify "
    "JWTs); the client's own Authorization never reaches the app."
)

REAL_PW_IN_BASIC_HELP = (
    "Accept Authorization: Basic with the user's real password for this app (for clients "
    "that can only send a password); refused when the app or the user needs a second factor."
)


def _describe(app: AppView) -> dict[str, object]:
    return {
        "slug": app.slug,
        "name": app.name,
        "url": app.external_url,
        "host": app.host,
        "mode": app.mode,
        "cookie_domain": app.cookie_domain,
        "groups": sorted(app.bound_groups),
        "users": sorted(app.bound_users),
        "rules": [r.describe() for r in app.rules],
        "strip_cookie": app.strip_cookie,
        "jwt_bearer": app.jwt_bearer,
        "basic_password": app.basic_password,
        "allow_preflight": app.allow_preflight,
        "paths": app.paths,
        "mfa": app.mfa,
        "icon": app.icon,
        "description": app.description,
    }


def check_icon(icon: str | None) -> str | None:
    """An icon URL the launcher can show; "" removes it."""
    if not icon:
        return icon
    problem = icon_problem(icon.strip())
    if problem:
        fail(f"--icon {icon[:60]!r} {problem}")
    return icon.strip()


def check_description(text: str | None) -> str | None:
    if text is not None and len(one_line(text, 10_000)) > 300:
        fail("--description is longer than 300 characters")
    return None if text is None else one_line(text)


def check_url(url: str) -> str:
    parts = urlsplit(url.strip())
    host = canonical_host(parts.netloc) if parts.netloc and "@" not in parts.netloc else None
    if parts.scheme not in ("http", "https") or host is None:
        fail(f"--url {url!r} is not an absolute http(s) URL such as https://grafana.example.com")
    assert host is not None
    return f"{parts.scheme}://{host}"


@click.group()
def app() -> None:
    """Manage the applications authgate protects."""


@app.command("add")
@click.argument("slug")
@click.option("--url", required=True, help="The app's external URL, as users open it.")
@click.option("--name", default="", help="Display name (default: the slug).")
@click.option("--group", "groups", multiple=True, help="Only members of this group (repeat).")
@click.option("--user", "users", multiple=True, help="Only this user (repeat).")
@click.option("--skip-path", "skip_paths", multiple=True, help="Regex of paths open without login.")
@click.option("--mode", type=click.Choice(["single", "domain"]), default="single")
@click.option("--cookie-domain", default="", help="Domain mode: the parent domain to share.")
@click.option("--strip-cookie", is_flag=True, help="Hand the app a Cookie without authgate's.")
@click.option("--allow-preflight", is_flag=True, help="Let CORS preflights through unsigned.")
@click.option("--jwt-bearer", is_flag=True, help=JWT_BEARER_HELP)
@click.option("--basic-password", is_flag=True, help=REAL_PW_IN_BASIC_HELP)
@click.option("--paths", type=PATHS, default="case-sensitive", show_default=True, help=PATHS_HELP)
@click.option("--require-mfa/--no-require-mfa", default=None, help=MFA_HELP)
@click.option("--icon", default="", help=ICON_HELP)
@click.option("--description", default="", help=DESCRIPTION_HELP)
@json_option
@click.pass_context
def add(
    ctx: click.Context,
    slug: str,
    url: str,
    name: str,
    groups: tuple[str, ...],
    users: tuple[str, ...],
    skip_paths: tuple[str, ...],
    mode: str,
    cookie_domain: str,
    strip_cookie: bool,
    allow_preflight: bool,
    jwt_bearer: bool,
    basic_password: bool,
    paths: str,
    require_mfa: bool | None,
    icon: str,
    description: str,
    as_json: bool,
) -> None:
    """Register an app so that authgate answers for its host (one app per host)."""
    origin = check_url(url)
    domain = cookie_domain.strip().lower().strip(".")
    if mode == "domain":
        if not domain or canonical_host(domain) != domain:
            fail("--mode domain needs --cookie-domain, e.g. --cookie-domain example.com")
        if not within_domain(urlsplit(origin).hostname or "", domain):
            fail(f"the app's host must lie within --cookie-domain {domain}")
    elif domain:
        fail("--cookie-domain only applies with --mode domain")
    for regex in skip_paths:
        try:
            re.compile(regex)
        except re.error as exc:
            fail(f"--skip-path {regex!r} is not a valid regular expression: {exc}")

    async def action(store: Store) -> AppView:
        created = await store.add_app(
            slug,
            url=origin,
            name=name,
            mode=mode,
            cookie_domain=domain,
            groups=groups,
            users=users,
            skip_paths=skip_paths,
            strip_cookie=strip_cookie,
            allow_preflight=allow_preflight,
            jwt_bearer=jwt_bearer,
            basic_password=basic_password,
            case_insensitive_paths=paths == "case-insensitive",
            require_mfa=require_mfa,
            icon=check_icon(icon) or "",
            description=check_description(description) or "",
        )
        await store.audit("app_added", subject=slug, detail=origin)
        return created

    created = run_store(ctx, action)
    emit(as_json, _describe(created), f"added app {slug} for {created.host}")


@app.command("list")
@json_option
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """List apps."""
    apps = run_store(ctx, lambda store: store.load_apps())
    rows = [
        [a.slug, a.external_url, a.mode, a.paths, _switches(a) or "-", _bound(a) or "(any user)"]
        for a in apps
    ]
    emit(
        as_json,
        [_describe(a) for a in apps],
        lambda: table(rows, ["slug", "url", "mode", "paths", "options", "bound"]),
    )


def _switches(app: AppView) -> str:
    """The switches an app has on, in one cell: 'strip_cookie, jwt_bearer'."""
    names = ("strip_cookie", "jwt_bearer", "basic_password", "allow_preflight")
    return ", ".join(name for name in names if getattr(app, name))


def _bound(app: AppView) -> str:
    """Who may use an app, in one cell: 'group staff, user bob'."""
    return ", ".join(
        [f"group {g}" for g in sorted(app.bound_groups)]
        + [f"user {u}" for u in sorted(app.bound_users)]
    )


@app.command("show")
@click.argument("slug")
@json_option
@click.pass_context
def show(ctx: click.Context, slug: str, as_json: bool) -> None:
    """Show one app with its bindings and rules."""
    found = run_store(ctx, lambda store: store.get_app(slug))
    data = _describe(found)

    def text() -> str:
        lines = [f"{k}: {v}" for k, v in data.items() if k != "rules"]
        rules = data["rules"]
        assert isinstance(rules, list)
        lines.append("rules:" + ("" if rules else " (none)"))
        lines += [f"  {i}. {r}" for i, r in enumerate(rules, 1)]
        return "\n".join(lines)

    emit(as_json, data, text)


@app.command("delete")
@click.argument("slug")
@json_option
@click.pass_context
def delete(ctx: click.Context, slug: str, as_json: bool) -> None:
    """Delete an app and its sessions."""

    async def action(store: Store) -> None:
        await store.delete_app(slug)
        await store.audit("app_deleted", subject=slug)

    run_store(ctx, action)
    emit(as_json, {"app": slug, "deleted": True}, f"deleted app {slug}")


@app.command("set")
@click.argument("slug")
@click.option("--name", default=None, help="Display name.")
@click.option("--url", default=None, help="New external URL (a host no other app has).")
@click.option("--strip-cookie/--keep-cookie", default=None, help="Hide authgate's cookie.")
@click.option("--allow-preflight/--no-allow-preflight", default=None, help="CORS preflights.")
@click.option("--jwt-bearer/--no-jwt-bearer", default=None, help=JWT_BEARER_HELP)
@click.option("--basic-password/--no-basic-password", default=None, help=REAL_PW_IN_BASIC_HELP)
@click.option("--paths", type=PATHS, default=None, help=PATHS_HELP)
@click.option("--require-mfa/--no-require-mfa", default=None, help=MFA_HELP)
@click.option("--mfa-default", is_flag=True, help="Follow AUTHGATE_REQUIRE_MFA again.")
@click.option("--icon", default=None, help=ICON_HELP + " Empty removes it.")
@click.option("--description", default=None, help=DESCRIPTION_HELP)
@click.option("--add-group", "add_groups", multiple=True, help="Bind this group (repeat).")
@click.option("--remove-group", "remove_groups", multiple=True, help="Unbind this group.")
@click.option("--add-user", "add_users", multiple=True, help="Bind this user (repeat).")
@click.option("--remove-user", "remove_users", multiple=True, help="Unbind this user.")
@json_option
@click.pass_context
def set_(
    ctx: click.Context,
    slug: str,
    name: str | None,
    url: str | None,
    strip_cookie: bool | None,
    allow_preflight: bool | None,
    jwt_bearer: bool | None,
    basic_password: bool | None,
    paths: str | None,
    require_mfa: bool | None,
    mfa_default: bool,
    icon: str | None,
    description: str | None,
    add_groups: tuple[str, ...],
    remove_groups: tuple[str, ...],
    add_users: tuple[str, ...],
    remove_users: tuple[str, ...],
    as_json: bool,
) -> None:
    """Change an app's name, URL, switches or bindings: all of it, or nothing on an error.
    Running servers apply the change on their next request."""
    origin = check_url(url) if url else None
    change = _binding_change(add_groups, remove_groups, add_users, remove_users)
    if mfa_default and require_mfa is not None:
        fail("--mfa-default and --require-mfa/--no-require-mfa exclude each other")
    icon, description = check_icon(icon), check_description(description)

    async def action(store: Store) -> AppView:
        try:
            changed = await store.set_app_options(
                slug,
                bindings=change,
                name=name,
                external_url=origin,
                strip_cookie=strip_cookie,
                allow_preflight=allow_preflight,
                jwt_bearer=jwt_bearer,
                basic_password=basic_password,
                case_insensitive_paths=None if paths is None else paths == "case-insensitive",
                require_mfa=require_mfa,
                mfa_default=mfa_default,
                icon=icon,
                description=description,
            )
        except NotFoundError as exc:
            if exc.kind == "app":
                raise
            fail(f"{exc}: nothing changed (authgate {exc.kind} list shows them)")
        await store.audit("app_changed", subject=slug, detail="; ".join(_details(change)))
        return changed

    changed = run_store(ctx, action)
    if change is not None and not changed.has_bindings:
        click.echo(
            f"authgate: app {slug} now has no bindings: any signed-in user may use it", err=True
        )
    emit(as_json, _describe(changed), f"updated app {slug} (bound: {_bound(changed) or 'anyone'})")


def _binding_change(
    add_groups: tuple[str, ...],
    remove_groups: tuple[str, ...],
    add_users: tuple[str, ...],
    remove_users: tuple[str, ...],
) -> BindingChange | None:
    """The bindings to change, or None; a name both added and removed is refused."""
    for kind, added, removed in (
        ("group", add_groups, remove_groups),
        ("user", add_users, remove_users),
    ):
        both = sorted(set(added) & set(removed))
        if both:
            fail(f"--add-{kind} and --remove-{kind} both name {both[0]!r}")
    if not (add_groups or remove_groups or add_users or remove_users):
        return None
    return BindingChange(add_groups, remove_groups, add_users, remove_users)


def _details(change: BindingChange | None) -> list[str]:
    if change is None:
        return []
    return (
        [f"+group {g}" for g in change.add_groups]
        + [f"-group {g}" for g in change.remove_groups]
        + [f"+user {u}" for u in change.add_users]
        + [f"-user {u}" for u in change.remove_users]
    )


def _register_rules() -> None:
    from authgate.cli.rules import rule

    app.add_command(rule)


_register_rules()
