"""Read the store's state, and carry out a plan on it with the Store's own use cases.

Every write is one Store transaction that bumps the revision, so running servers pick up
each change at once; an app's fields, bindings and rules change together.
"""

from __future__ import annotations

from authgate.statefile.model import AppState, State, UserState
from authgate.statefile.plan import Change
from authgate.statefile.rules import from_view, split_skip_paths
from authgate.storage.store import Store


async def current_state(store: Store) -> State:
    users = {
        u.username: UserState(
            email=u.email,
            name=u.name,
            groups=u.groups,
            disabled=u.disabled,
            password_hash=u.password_hash,
        )
        for u in await store.list_users()
    }
    apps = {}
    for a in await store.load_apps():
        skip_paths, rules = split_skip_paths([from_view(r) for r in a.rules])
        apps[a.slug] = AppState(
            url=a.external_url,
            name="" if a.name == a.slug else a.name,
            mode=a.mode,
            cookie_domain=a.cookie_domain,
            groups=tuple(sorted(a.bound_groups)),
            users=tuple(sorted(a.bound_users)),
            skip_paths=skip_paths,
            rules=rules,
            strip_cookie=a.strip_cookie,
            jwt_bearer=a.jwt_bearer,
            basic_password=a.basic_password,
            allow_preflight=a.allow_preflight,
            paths=a.paths,
            mfa=a.mfa,
            icon=a.icon,
            description=a.description,
        )
    groups = tuple(name for name, _ in await store.list_groups())
    return State(groups=groups, users=users, apps=apps)


async def _user(store: Store, change: Change, exists: bool) -> None:
    want = change.user
    assert want is not None
    if exists:
        await store.update_user(
            change.name,
            email=want.email,
            name=want.name,
            groups=want.groups,
            disabled=want.disabled,
            password_hash=want.password_hash,  # None: keep the stored one
        )
        return
    # A new disabled user gets its password hash only once disabled: it can never log in.
    await store.add_user(
        change.name,
        email=want.email,
        name=want.name,
        password_hash=None if want.disabled else want.password_hash,
        groups=want.groups,
    )
    if want.disabled:
        await store.update_user(change.name, disabled=True, password_hash=want.password_hash)


async def _app(store: Store, change: Change) -> None:
    want = change.app
    assert want is not None
    await store.update_app(
        change.name,
        url=want.url,
        name=want.name,
        mode=want.mode,
        cookie_domain=want.cookie_domain,
        groups=want.groups,
        users=want.users,
        skip_paths=want.skip_paths,
        rules=want.rules,
        strip_cookie=want.strip_cookie,
        jwt_bearer=want.jwt_bearer,
        basic_password=want.basic_password,
        allow_preflight=want.allow_preflight,
        case_insensitive_paths=want.paths == "case-insensitive",
        require_mfa=want.require_mfa,
        icon=want.icon,
        description=want.description,
        create=change.action == "add",
    )


async def carry_out(store: Store, current: State, changes: list[Change]) -> None:
    """Apply ``changes`` (from ``plan``) in order; each is audited."""
    for change in changes:
        if change.action == "keep":
            continue
        if change.kind == "group" and change.action == "add":
            await store.add_group(change.name)
        elif change.kind == "group":
            await store.delete_group(change.name)
        elif change.kind == "user" and change.action == "delete":
            await store.delete_user(change.name)
        elif change.kind == "user":
            await _user(store, change, change.name in current.users)
        elif change.action == "delete":
            await store.delete_app(change.name)
        else:
            await _app(store, change)
        event = (
            f"{change.kind}_{change.action}d" if change.action != "add" else f"{change.kind}_added"
        )
        await store.audit(
            event, actor="apply", subject=change.name, detail="; ".join(change.details)
        )
