"""Configuration: strict in production, safe defaults in development, named errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from portal import create_app
from portal.config import Config, ConfigError, load, resolver_address

GOOD_KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="


@pytest.fixture(autouse=True)
def _clean_environ(monkeypatch):
    for name in Config.__dataclass_fields__:
        monkeypatch.delenv(name, raising=False)


def test_production_is_the_default_and_names_every_missing_secret(tmp_path):
    with pytest.raises(ConfigError) as info:
        create_app()
    message = str(info.value)
    for name in (
        "SECRET_KEY",
        "ENCRYPTION_KEY",
        "PUBLIC_URL",
        "SMTP_URL",
        "PORTAL_ENV=production",
    ):
        assert name in message


def test_production_names_only_what_is_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("ENCRYPTION_KEY", GOOD_KEY)
    monkeypatch.setenv("PUBLIC_URL", "https://portal.example.com")
    monkeypatch.setenv("SMTP_URL", "smtp://relay.example.com:587")
    with pytest.raises(ConfigError, match=r"^SECRET_KEY must be set"):
        load(str(tmp_path))


def test_malformed_encryption_key_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="ENCRYPTION_KEY must be"):
        load(str(tmp_path), {"PORTAL_ENV": "development", "ENCRYPTION_KEY": "not-a-key"})


def test_production_emails_without_a_mail_server_are_refused_by_name(monkeypatch, tmp_path):
    for name, value in {"SECRET_KEY": "s" * 40, "ENCRYPTION_KEY": GOOD_KEY}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PUBLIC_URL", "https://portal.example.com")
    with pytest.raises(ConfigError, match=r"^SMTP_URL must be set when PORTAL_ENV=production"):
        load(str(tmp_path))


@pytest.mark.parametrize(
    "url, words",
    [
        ("http://portal.example.com", "PUBLIC_URL must start with https:// in production"),
        ("portal.example.com", "PUBLIC_URL must be the portal's address"),
        ("https://:443", "PUBLIC_URL must be the portal's address"),
        ("https://portal.example.com:44x", "PUBLIC_URL must be the portal's address"),
        ("http://127.0.0.1:5000", None),  # on this machine only: a benchmark, a trial
        ("http://[::1]:5000", None),
        ("https://portal.example.com/", None),
    ],
)
def test_production_wants_https_public_url_but_on_this_machine(monkeypatch, tmp_path, url, words):
    environ = {"SECRET_KEY": "s" * 40, "ENCRYPTION_KEY": GOOD_KEY, "SMTP_URL": "smtp://h:25"}
    for name, value in {**environ, "PUBLIC_URL": url}.items():
        monkeypatch.setenv(name, value)
    if words is None:
        assert load(str(tmp_path))["PUBLIC_URL"] == url
    else:
        with pytest.raises(ConfigError, match=words):
            load(str(tmp_path))


def test_production_cookies_are_secure(monkeypatch, tmp_path):
    for name, value in {
        "SECRET_KEY": "s" * 40,
        "ENCRYPTION_KEY": f"{GOOD_KEY},{GOOD_KEY}",
        "PUBLIC_URL": "https://portal.example.com",
        "SMTP_URL": "smtp://relay.example.com:587",
    }.items():
        monkeypatch.setenv(name, value)
    settings = load(str(tmp_path))
    assert settings["SESSION_COOKIE_SECURE"] and settings["REMEMBER_COOKIE_SECURE"]
    assert settings["SESSION_COOKIE_HTTPONLY"] and settings["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_development_defaults_are_local_and_not_secure_cookies(tmp_path):
    settings = load(str(tmp_path), {"PORTAL_ENV": "development"})
    assert settings["DATABASE_URL"] == f"sqlite:///{tmp_path}/portal.sqlite3"
    assert settings["REDIS_URL"] == "redis://127.0.0.1:6379/0"
    assert settings["SMTP_URL"] == "" and not settings["SESSION_COOKIE_SECURE"]


def test_postgres_urls_use_the_shipped_driver(tmp_path):
    for pasted in ("postgres://u@h/db", "postgresql://u@h/db"):
        settings = load(str(tmp_path), {"PORTAL_ENV": "development", "DATABASE_URL": pasted})
        assert settings["DATABASE_URL"] == "postgresql+psycopg://u@h/db"


def test_proxy_count_must_be_a_number(tmp_path):
    with pytest.raises(ConfigError, match="PROXY_COUNT"):
        load(str(tmp_path), {"PORTAL_ENV": "development", "PROXY_COUNT": "two"})


def test_development_without_stripe_settings_talks_to_the_local_sandbox(tmp_path):
    settings = load(str(tmp_path), {"PORTAL_ENV": "development"})
    assert settings["STRIPE_API_BASE"] == "http://127.0.0.1:12111"
    assert settings["STRIPE_SECRET_KEY"] == "sk_live_sandbox_platform"


def test_any_stripe_setting_turns_the_sandbox_defaults_off(tmp_path):
    settings = load(
        str(tmp_path), {"PORTAL_ENV": "development", "STRIPE_SECRET_KEY": "sk_test_real"}
    )
    assert settings["STRIPE_API_BASE"] == "https://api.stripe.com"
    assert settings["STRIPE_CONNECT_WEBHOOK_SECRET"] == ""


def test_production_never_defaults_to_the_sandbox(monkeypatch, tmp_path):
    for name, value in {
        "SECRET_KEY": "s" * 40,
        "ENCRYPTION_KEY": GOOD_KEY,
        "PUBLIC_URL": "https://portal.example.com",
        "SMTP_URL": "smtp://relay.example.com:587",
    }.items():
        monkeypatch.setenv(name, value)
    settings = load(str(tmp_path))
    assert (
        settings["STRIPE_API_BASE"] == "https://api.stripe.com"
        and settings["STRIPE_SECRET_KEY"] == ""
    )


def test_dns_resolver_and_spf_include_are_optional(tmp_path):
    settings = load(str(tmp_path), {"PORTAL_ENV": "development"})
    assert settings["DNS_RESOLVER"] == "" and settings["SPF_INCLUDE"] == ""
    settings = load(
        str(tmp_path),
        {
            "PORTAL_ENV": "development",
            "DNS_RESOLVER": "127.0.0.1:5353",
            "SPF_INCLUDE": "_spf.portal.example",
        },
    )
    assert (settings["DNS_RESOLVER"], settings["SPF_INCLUDE"]) == (
        "127.0.0.1:5353",
        "_spf.portal.example",
    )


@pytest.mark.parametrize(
    "value, address",
    [
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("[::1]:53", ("::1", 53)),
        ("10.0.0.2", ("10.0.0.2", 53)),
    ],
)
def test_dns_resolver_is_an_ip_address_and_port(value, address):
    assert resolver_address(value) == address


@pytest.mark.parametrize("value", ["dns.example:53", "127.0.0.1:0", "127.0.0.1:99999", "1.2.3:53"])
def test_a_malformed_dns_resolver_is_refused_by_name(tmp_path, value):
    with pytest.raises(ConfigError, match="DNS_RESOLVER must be an IP address and port"):
        load(str(tmp_path), {"PORTAL_ENV": "development", "DNS_RESOLVER": value})


def test_a_malformed_spf_include_is_refused_by_name(tmp_path):
    with pytest.raises(ConfigError, match="SPF_INCLUDE must be"):
        load(str(tmp_path), {"PORTAL_ENV": "development", "SPF_INCLUDE": "include:_spf.x.example"})


def test_the_flask_cli_names_a_missing_setting_in_one_line(tmp_path):
    # The autouse fixture has removed every setting from this environment.
    repo = Path(__file__).resolve().parent.parent
    flask = Path(sys.executable).with_name("flask")
    done = subprocess.run(
        [str(flask), "--app", str(repo / "wsgi.py"), "events", "failed"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.startswith(
        "Error: The portal cannot start: SECRET_KEY, ENCRYPTION_KEY, PUBLIC_URL, SMTP_URL must be"
    )
    assert len(done.stderr.strip().splitlines()) == 1  # not followed by "No such command"


@pytest.mark.parametrize(
    "name, value, words",
    [
        ("SMTP_URL", "smtp://127.0.0.1:2591x", "SMTP_URL: the port must be a number"),
        ("SMTP_URL", "smtp://user:secret-pw@", "SMTP_URL: no host name"),
        ("DATABASE_URL", "not-a-url", "DATABASE_URL must be a PostgreSQL URL"),
        ("DATABASE_URL", "mysqlx://x/y", "DATABASE_URL must be a PostgreSQL URL"),
        ("DATABASE_URL", "mysql://x/y", "DATABASE_URL must be a PostgreSQL URL"),
        ("DATABASE_URL", "postgresql+psycopg2://x/y", "DATABASE_URL must be a PostgreSQL URL"),
        ("MAIL_FROM", "not an address", "MAIL_FROM must be one address"),
        ("MAIL_FROM", "Shop <a@shop.example>\r\nBcc: x@y.example", "MAIL_FROM must be one"),
        ("MAIL_FROM", "a@shop.example, b@shop.example", "MAIL_FROM must be one address"),
        ("REDIS_URL", "redis//oops", "REDIS_URL must start with redis://"),
    ],
)
def test_urls_needed_only_later_are_checked_at_start_by_name(tmp_path, name, value, words):
    with pytest.raises(ConfigError, match=words) as info:
        load(str(tmp_path), {"PORTAL_ENV": "development", name: value})
    assert "secret-pw" not in str(info.value)


def test_an_unreachable_database_is_one_line_from_an_operator_command(tmp_path):
    env = {"PORTAL_ENV": "development", "PATH": "/usr/bin:/bin", "FLASK_APP": "wsgi"}
    env["DATABASE_URL"] = "postgresql://postgres@127.0.0.1:9/none"  # nothing listens on port 9
    done = subprocess.run(
        [sys.executable, "-m", "flask", "events", "failed"],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("Error: The database (DATABASE_URL) cannot be used:")


def test_gunicorn_stops_on_a_bad_setting_in_one_line_with_no_traceback():
    env = {"PORTAL_ENV": "development", "PATH": "/usr/bin:/bin", "SMTP_URL": "smtp://h:25x"}
    root = Path(__file__).resolve().parent.parent
    gunicorn = Path(sys.executable).parent / "gunicorn"
    done = subprocess.run(
        [str(gunicorn), "--no-control-socket", "--bind", "127.0.0.1:0", "-w", "2", "wsgi:app"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = done.stdout + done.stderr
    # No traceback through the portal's code. (gunicorn's arbiter itself now and then prints
    # one of its own HaltServer when it reaps the workers from a signal: not ours to silence.)
    assert done.returncode != 0 and "wsgi.py" not in output and "/portal/" not in output
    assert "The portal cannot start: SMTP_URL: the port must be a number" in output
    assert "App failed to load" in output


def test_a_short_secret_key_is_refused_in_production(tmp_path):
    environ = {"SECRET_KEY": "abc", "ENCRYPTION_KEY": GOOD_KEY, "SMTP_URL": "smtp://h:25"}
    environ.update(PUBLIC_URL="https://portal.example", PORTAL_ENV="production")
    with pytest.raises(ConfigError, match="SECRET_KEY must be 32 characters or more"):
        load(str(tmp_path), environ)
    assert load(str(tmp_path), {**environ, "SECRET_KEY": "s" * 32})["SECRET_KEY"] == "s" * 32
