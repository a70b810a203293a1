import stat
from pathlib import Path

import pytest

from authgate.config import load_settings
from authgate.errors import ConfigError


def test_defaults_write_nothing_and_leave_the_keys_to_the_store(tmp_path: Path) -> None:
    settings = load_settings({"AUTHGATE_DATA_DIR": str(tmp_path / "d")})
    assert settings.port == 9000
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.outpost_prefix == "/outpost.goauthentik.io"
    assert settings.secret_keys == () and settings.jwt_key_file is None
    assert not (tmp_path / "d").exists()  # no key file made: the keys live in the store


def test_a_secret_key_file_overrides_with_its_lines_newest_first(tmp_path: Path) -> None:
    key_file = tmp_path / "secret"
    key_file.write_text("# mounted from a Kubernetes Secret\nnew-key\n\nold-key\n")
    key_file.chmod(0o440)
    pem = tmp_path / "jwt.pem"
    env = {
        "AUTHGATE_DATA_DIR": str(tmp_path / "d"),
        "AUTHGATE_SECRET_KEY_FILE": str(key_file),
        "AUTHGATE_JWT_KEY_FILE": str(pem),
    }
    settings = load_settings(env)
    assert [k.reveal() for k in settings.secret_keys] == ["new-key", "old-key"]
    assert settings.jwt_key_file == pem
    assert "Secret('**********')" in repr(settings.secret_keys[0])
    assert "new-key" not in repr(settings)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o440  # only read, never rewritten


def test_a_missing_secret_key_file_is_one_line_and_not_made(tmp_path: Path) -> None:
    missing = tmp_path / "secret"
    with pytest.raises(ConfigError) as caught:
        load_settings(
            {"AUTHGATE_DATA_DIR": str(tmp_path), "AUTHGATE_SECRET_KEY_FILE": str(missing)}
        )
    assert caught.value.problems == [f"secret key file {missing}: No such file or directory"]
    assert not missing.exists()


def test_every_bad_setting_is_named_at_once(tmp_path: Path) -> None:
    env = {
        "AUTHGATE_DATA_DIR": str(tmp_path),
        "AUTHGATE_PORT": "http",
        "AUTHGATE_PUBLIC_URL": "auth.example.com",
        "AUTHGATE_SESSION_LIFETIME": "forever",
    }
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    text = "\n".join(caught.value.problems)
    assert "AUTHGATE_PORT" in text
    assert "AUTHGATE_PUBLIC_URL" in text
    assert "AUTHGATE_SESSION_LIFETIME" in text


def test_yaml_file_and_env_override(tmp_path: Path) -> None:
    config = tmp_path / "authgate.yaml"
    config.write_text("port: 9100\nsession_lifetime: 2h\npublic_url: https://auth.example.com/\n")
    settings = load_settings({"AUTHGATE_DATA_DIR": str(tmp_path), "AUTHGATE_PORT": "9200"}, config)
    assert settings.port == 9200
    assert settings.session_lifetime == 7200
    assert settings.public_url == "https://auth.example.com"
    assert settings.public_secure


@pytest.mark.parametrize(
    ("text", "needle"),
    [("port: [1, 2\n", "not valid YAML"), ("- a\n- b\n", "mapping"), ("colour: red\n", "unknown")],
)
def test_broken_config_file_gives_one_clear_line(tmp_path: Path, text: str, needle: str) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings({"AUTHGATE_DATA_DIR": str(tmp_path)}, config)
    assert needle in str(caught.value)


def test_trusted_proxies(tmp_path: Path) -> None:
    settings = load_settings(
        {"AUTHGATE_DATA_DIR": str(tmp_path), "AUTHGATE_TRUSTED_PROXIES": "10.1.0.0/16, ::1"}
    )
    assert settings.is_trusted_proxy("10.1.2.3")
    assert not settings.is_trusted_proxy("127.0.0.1")
    assert not settings.is_trusted_proxy("not-an-ip")
    default = load_settings({"AUTHGATE_DATA_DIR": str(tmp_path)})
    assert default.is_trusted_proxy("127.0.0.1") and default.is_trusted_proxy("10.0.0.5")
    assert not default.is_trusted_proxy("8.8.8.8")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:////var/lib/authgate/a.db", "sqlite+aiosqlite:////var/lib/authgate/a.db"),
        ("postgres://u:p@db/authgate", "postgresql+asyncpg://u:p@db/authgate"),
        ("postgresql+asyncpg://u@db/a", "postgresql+asyncpg://u@db/a"),
    ],
)
def test_database_urls_get_the_async_driver(tmp_path: Path, url: str, expected: str) -> None:
    env = {"AUTHGATE_DATA_DIR": str(tmp_path), "AUTHGATE_DATABASE_URL": url}
    assert load_settings(env).database_url == expected


def test_unsupported_database_is_named_without_its_password(tmp_path: Path) -> None:
    env = {"AUTHGATE_DATA_DIR": str(tmp_path), "AUTHGATE_DATABASE_URL": "mysql://u:hunter2@db/x"}
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    assert "AUTHGATE_DATABASE_URL" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_public_url_with_a_path_is_refused(tmp_path: Path) -> None:
    env = {"AUTHGATE_DATA_DIR": str(tmp_path), "AUTHGATE_PUBLIC_URL": "https://example.com/auth"}
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    assert "without a path" in str(caught.value)


def test_a_server_needs_the_public_url(tmp_path: Path) -> None:
    env = {"AUTHGATE_DATA_DIR": str(tmp_path / "d"), "AUTHGATE_PORT": "0"}
    with pytest.raises(ConfigError) as caught:
        load_settings(env, require_public_url=True)
    assert len(caught.value.problems) == 2  # the port and the public URL, at once
    (missing,) = [p for p in caught.value.problems if not p.startswith("AUTHGATE_PORT")]
    assert "AUTHGATE_PUBLIC_URL" in missing and "public_url" in missing
    assert "AUTHGATE_PUBLIC_URL=https://auth.example.com" in missing
    assert not (tmp_path / "d").exists()


def test_the_public_url_may_come_from_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "authgate.yaml"
    config.write_text("public_url: https://auth.example.com\n")
    env = {"AUTHGATE_DATA_DIR": str(tmp_path)}
    settings = load_settings(env, config, require_public_url=True)
    assert settings.public_url == "https://auth.example.com"


def test_an_empty_public_url_is_not_a_public_url(tmp_path: Path) -> None:
    env = {"AUTHGATE_DATA_DIR": str(tmp_path), "AUTHGATE_PUBLIC_URL": " "}
    with pytest.raises(ConfigError, match="AUTHGATE_PUBLIC_URL"):
        load_settings(env, require_public_url=True)


def test_the_worker_entry_point_needs_the_public_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What granian or uvicorn import in each worker refuses too, also when started directly."""
    from authgate.server import app_from_environment

    monkeypatch.delenv("AUTHGATE_PUBLIC_URL", raising=False)
    monkeypatch.delenv("AUTHGATE_CONFIG", raising=False)
    monkeypatch.setenv("AUTHGATE_DATA_DIR", str(tmp_path))
    with pytest.raises(ConfigError, match="AUTHGATE_PUBLIC_URL"):
        app_from_environment()


def test_an_unreadable_secret_key_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "secret.key").write_bytes(b"\xff\xfe\x00binary")
    env = {
        "AUTHGATE_DATA_DIR": str(tmp_path),
        "AUTHGATE_SECRET_KEY_FILE": str(tmp_path / "secret.key"),
    }
    with pytest.raises(ConfigError, match="not a text file"):
        load_settings(env)


def test_mfa_default_and_mail_settings(tmp_path: Path) -> None:
    base = {"AUTHGATE_DATA_DIR": str(tmp_path)}
    assert load_settings(base).require_mfa is False
    settings = load_settings(
        {
            **base,
            "AUTHGATE_REQUIRE_MFA": "yes",
            "AUTHGATE_SMTP_URL": "smtp://mailer:s3cret@mail.lan:587",
            "AUTHGATE_SMTP_FROM": "sso@example.com",
        }
    )
    assert settings.require_mfa is True
    assert settings.smtp_url == "smtp://mailer:s3cret@mail.lan:587"
    assert "s3cret" not in repr(settings)
    with pytest.raises(ConfigError) as caught:
        load_settings({**base, "AUTHGATE_REQUIRE_MFA": "maybe", "AUTHGATE_SMTP_URL": "mail.lan"})
    text = "\n".join(caught.value.problems)
    assert "AUTHGATE_REQUIRE_MFA" in text and "AUTHGATE_SMTP_URL" in text


def test_health_metrics_and_log_settings(tmp_path: Path) -> None:
    base = {"AUTHGATE_DATA_DIR": str(tmp_path)}
    plain = load_settings(base)
    assert plain.degraded_grace == 300 and plain.log_format == "text"
    assert plain.may_read_metrics("127.0.0.1") and plain.may_read_metrics("::1")
    assert plain.may_read_metrics("10.1.2.3")  # a trusted proxy network (the pod network)
    assert not plain.may_read_metrics("203.0.113.7") and not plain.may_read_metrics("junk")
    env = {
        **base,
        "AUTHGATE_DEGRADED_GRACE": "3s",
        "AUTHGATE_LOG_FORMAT": "JSON",
        "AUTHGATE_METRICS_ALLOW": "10.0.0.0/8",
    }
    tuned = load_settings(env)
    assert tuned.degraded_grace == 3 and tuned.log_format == "json"
    assert tuned.may_read_metrics("10.9.9.9") and not tuned.may_read_metrics("127.0.0.1")
    with pytest.raises(ConfigError) as caught:
        load_settings({**base, "AUTHGATE_LOG_FORMAT": "xml", "AUTHGATE_DEGRADED_GRACE": "soon"})
    assert "AUTHGATE_LOG_FORMAT" in str(caught.value)
    assert "AUTHGATE_DEGRADED_GRACE" in str(caught.value)


def test_redis_prefix_and_change_feed(tmp_path: Path) -> None:
    base = {"AUTHGATE_DATA_DIR": str(tmp_path)}
    default = load_settings(base)
    assert (default.redis_prefix, default.change_feed) == ("authgate:", "auto")
    chosen = load_settings(
        {**base, "AUTHGATE_REDIS_PREFIX": "tenant-a:", "AUTHGATE_CHANGE_FEED": "POLL"}
    )
    assert (chosen.redis_prefix, chosen.change_feed) == ("tenant-a:", "poll")
    with pytest.raises(ConfigError) as caught:
        load_settings({**base, "AUTHGATE_REDIS_PREFIX": "a b*", "AUTHGATE_CHANGE_FEED": "push"})
    text = "\n".join(caught.value.problems)
    assert "AUTHGATE_REDIS_PREFIX" in text and "AUTHGATE_CHANGE_FEED" in text


def test_feed_follows_the_settings() -> None:
    from authgate.storage.changes import NoFeed, PostgresFeed, change_feed
    from authgate.storage.redis.changes import RedisFeed

    pg = "postgresql+asyncpg://u:secret@db/authgate"
    assert isinstance(change_feed("sqlite+aiosqlite:///x.db"), NoFeed)
    feed = change_feed(pg)
    assert isinstance(feed, PostgresFeed) and feed.dsn == "postgresql://u:secret@db/authgate"
    assert isinstance(change_feed(pg, "redis://r:6379/0", "t:"), RedisFeed)
    assert isinstance(change_feed(pg, "redis://r:6379/0", "t:", mode="poll"), NoFeed)
