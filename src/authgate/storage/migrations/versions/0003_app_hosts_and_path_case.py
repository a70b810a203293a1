"""one app per host and per cookie domain (unique keys); case-insensitive paths per app

Revision ID: 0003
Revises: 0002

``host_key`` is the canonical host of an app's URL, ``domain_key`` the cookie domain of a
domain-mode app (NULL otherwise); both are unique. A store that already holds two apps for
one host (or two domain-mode apps for one cookie domain) is not refused: the oldest app
keeps the key, the later ones get NULL, and the server refuses that host with an error
naming both apps until one is moved (``authgate serve`` and ``authgate doctor`` report it).
"""

import sqlalchemy as sa
from alembic import op

from authgate.forward.hosts import canonical_host

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _host(url: str) -> str:
    rest = url.partition("://")[2]
    netloc = rest.split("/", 1)[0]
    return canonical_host(netloc) or netloc.lower()


def _fill_keys() -> None:
    apps = sa.table(
        "applications",
        sa.column("id", sa.Integer()),
        sa.column("external_url", sa.String()),
        sa.column("mode", sa.String()),
        sa.column("cookie_domain", sa.String()),
        sa.column("host_key", sa.String()),
        sa.column("domain_key", sa.String()),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(apps.c.id, apps.c.external_url, apps.c.mode, apps.c.cookie_domain).order_by(
            apps.c.id
        )
    ).all()
    hosts: set[str] = set()
    domains: set[str] = set()
    for app_id, url, mode, cookie_domain in rows:
        host = _host(url)
        domain = cookie_domain.strip(".").lower() if mode == "domain" and cookie_domain else ""
        values = {
            "host_key": host if host not in hosts else None,
            "domain_key": domain if domain and domain not in domains else None,
        }
        hosts.add(host)
        domains.add(domain)
        bind.execute(sa.update(apps).where(apps.c.id == app_id).values(**values))


def upgrade() -> None:
    with op.batch_alter_table("applications") as batch:
        batch.add_column(
            sa.Column(
                "case_insensitive_paths", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch.add_column(sa.Column("host_key", sa.String(length=300), nullable=True))
        batch.add_column(sa.Column("domain_key", sa.String(length=253), nullable=True))
    _fill_keys()
    with op.batch_alter_table("applications") as batch:
        batch.create_unique_constraint("uq_applications_host_key", ["host_key"])
        batch.create_unique_constraint("uq_applications_domain_key", ["domain_key"])


def downgrade() -> None:
    with op.batch_alter_table("applications") as batch:
        batch.drop_constraint("uq_applications_domain_key", type_="unique")
        batch.drop_constraint("uq_applications_host_key", type_="unique")
        batch.drop_column("domain_key")
        batch.drop_column("host_key")
        batch.drop_column("case_insensitive_paths")
