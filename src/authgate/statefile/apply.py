"""Read the store's state, and carry out a plan on it with the Store's own use cases."""

from __future__ import annotations

from collections.abc import Callable

from authgate.forward.model import AppView
from authgate.statefile import writes
from authgate.statefile.model import AppState, State, UserState
from authgate.statefile.plan import Change
from authgate.storage.store import Store

Notify = Callable[[int], None]


def skip_paths(app: AppView) -> tuple[str, ...]:
    """The app's ``--skip-path`` rules, in order (bypass on a path regex and nothing else)."""
    return tuple(
        r.path_regex.pattern
        for r in app.rules
        if r.action == "bypass"
        and r.path_regex is not None
        and not (r.path_prefix or r.methods or r.networks or r.needs_identity)
    )


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
    apps = {
        a.slug: AppState(
            url=a.external_url,
            name="" if a.name == a.slug else a.name,
            mode=a.mode,
            cookie_domain=a.cookie_domain,
            groups=tuple(sorted(a.bound_groups)),
            users=tuple(sorted(a.bound_users)),
            skip_paths=skip_paths(a),
        )
        for a in await store.load_apps()
    }
    groups = tuple(name for name, _ in await store.list_groups())
    return State(groups=groups, users=users, apps=apps)


async def _user(store: Store, change: Change, have: UserState | None, notify: Notify) -> None:
    want = change.user
    assert want is not None
    name = change.name
    if have is None:
        await store.add_user(
            name,
            email=want.email,
            name=want.name,
            password_hash=want.password_hash,
            groups=want.groups,
        )
        have = UserState(groups=want.groups)
    elif (have.email, have.name) != (want.email, want.name):
        notify(await writes.update_profile(store, name, want.email, want.name))
    for group in want.groups:
        if group not in have.groups:
            await store.add_to_group(name, group)
    for group in have.groups:
        if group not in want.groups:
            await store.remove_from_group(name, group)
    if want.password_hash and want.password_hash != have.password_hash:
        await store.set_password(name, want.password_hash)
    if want.disabled != have.disabled:
        await store.set_disabled(name, want.disabled)


async def _app(store: Store, change: Change, notify: Notify) -> None:
    want = change.app
    assert want is not None
    if change.action == "add":
        await store.add_app(
            change.name,
            url=want.url,
            name=want.name,
            mode=want.mode,
            cookie_domain=want.cookie_domain,
            groups=want.groups,
            users=want.users,
            skip_paths=want.skip_paths,
        )
    else:
        notify(await writes.update_app(store, change.name, want))


async def carry_out(store: Store, current: State, changes: list[Change], notify: Notify) -> None:
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
            await _user(store, change, current.users.get(change.name), notify)
        elif change.action == "delete":
            await store.delete_app(change.name)
        else:
            await _app(store, change, notify)
        event = (
            f"{change.kind}_{change.action}d" if change.action != "add" else f"{change.kind}_added"
        )
        await store.audit(
            event, actor="apply", subject=change.name, detail="; ".join(change.details)
        )
