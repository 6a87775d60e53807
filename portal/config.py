"""Every setting the portal reads from the environment, in one place (the README's Configuration lists them)."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import re
from dataclasses import asdict, dataclass, field, replace
from email.utils import getaddresses
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from portal.mail.mime import CONTROL
from portal.mail.smtp import parse_smtp_url

# Development-only values: never used when PORTAL_ENV is anything but development/testing.
_DEV_SECRET_KEY = "development-only-secret-key-do-not-deploy"
_DEV_ENCRYPTION_KEY = base64.urlsafe_b64encode(b"development-only-key-32-bytes!!!").decode()
RELAXED_ENVS = ("development", "testing")
SANDBOX_URL = "http://127.0.0.1:12111"
# In development with no Stripe settings at all, the portal talks to the local sandbox
# (`flask sandbox`) with its well-known platform keys: it can never reach real Stripe by accident.
SANDBOX_DEFAULTS = {
    "STRIPE_SECRET_KEY": "sk_live_sandbox_platform",
    "STRIPE_TEST_SECRET_KEY": "sk_test_sandbox_platform",
    "STRIPE_CLIENT_ID": "ca_sandbox_platform",
    "STRIPE_CONNECT_WEBHOOK_SECRET": "whsec_development_sandbox",
    "STRIPE_API_BASE": SANDBOX_URL,
    "STRIPE_CONNECT_BASE": SANDBOX_URL,
}
# Without SMTP_URL emails would go to the development outbox and count as sent: never in production.
REQUIRED_IN_PRODUCTION = ("SECRET_KEY", "ENCRYPTION_KEY", "PUBLIC_URL", "SMTP_URL")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


SECRET_KEY_MIN = 32  # it signs sessions and unsubscribe links: a short one can be guessed
# The database drivers requirements.txt installs: any other fails at the first query.
SHIPPED_DRIVERS = frozenset({"postgresql+psycopg", "sqlite+pysqlite"})


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message names the variable and what to do."""


@dataclass(frozen=True)
class Config:
    """The environment variables of the operator contract, with their defaults.

    `PORTAL_ENV` defaults to production, so a deployment that forgets it is strict, not lax.
    """

    PORTAL_ENV: str = "production"
    DATABASE_URL: str = ""
    REDIS_URL: str = "redis://127.0.0.1:6379/0"
    SECRET_KEY: str = ""
    ENCRYPTION_KEY: str = ""
    PUBLIC_URL: str = ""
    SMTP_URL: str = ""
    MAIL_FROM: str = "Cart Recovery <no-reply@localhost>"
    STRIPE_SECRET_KEY: str = ""
    STRIPE_TEST_SECRET_KEY: str = ""  # optional: reads connected accounts' test-mode sessions
    STRIPE_CLIENT_ID: str = ""
    STRIPE_CONNECT_WEBHOOK_SECRET: str = ""
    STRIPE_API_BASE: str = "https://api.stripe.com"
    STRIPE_CONNECT_BASE: str = "https://connect.stripe.com"
    PROXY_COUNT: str = "0"  # reverse proxies in front of gunicorn whose X-Forwarded-* we trust
    DNS_RESOLVER: str = ""  # host:port of the resolver for sending-domain checks; "": the system's
    SPF_INCLUDE: str = ""  # the SPF record the operator's mail relay publishes, for include:
    extra: dict = field(default_factory=dict, compare=False)

    @classmethod
    def from_environ(cls, environ: dict, instance_path: str) -> "Config":
        """Read the known variables; fill development defaults only where they are safe."""
        names = [n for n in cls.__dataclass_fields__ if n != "extra"]
        values = {n: environ[n].strip() for n in names if environ.get(n, "").strip()}
        values["DATABASE_URL"] = _driver_url(
            values.get("DATABASE_URL") or _sqlite_default(instance_path)
        )
        if values.get("PORTAL_ENV", cls.PORTAL_ENV) in RELAXED_ENVS:
            values.setdefault("SECRET_KEY", _DEV_SECRET_KEY)
            values.setdefault("ENCRYPTION_KEY", _DEV_ENCRYPTION_KEY)
            values.setdefault("PUBLIC_URL", "http://127.0.0.1:5000")
        # Tests stay hermetic: only development reaches for a sandbox on the well-known port.
        if values.get("PORTAL_ENV") == "development" and not any(
            n in values for n in SANDBOX_DEFAULTS
        ):
            values.update(SANDBOX_DEFAULTS)
        return cls(**values)

    @property
    def is_production(self) -> bool:
        return self.PORTAL_ENV not in RELAXED_ENVS

    def check(self) -> None:
        """Raise ConfigError naming every missing or malformed variable at once."""
        problems = []
        if self.is_production:
            missing = [n for n in REQUIRED_IN_PRODUCTION if not getattr(self, n)]
            if missing:
                problems.append(
                    f"{', '.join(missing)} must be set when PORTAL_ENV={self.PORTAL_ENV} "
                    "(set PORTAL_ENV=development for a local, non-public run)"
                )
        if self.ENCRYPTION_KEY and not _valid_fernet_keys(self.ENCRYPTION_KEY):
            problems.append(
                "ENCRYPTION_KEY must be one or more comma-separated url-safe base64 keys of "
                '32 bytes (make one with: python -c "import base64,os;'
                'print(base64.urlsafe_b64encode(os.urandom(32)).decode())")'
            )
        if self.is_production and 0 < len(self.SECRET_KEY) < SECRET_KEY_MIN:
            problems.append(
                f"SECRET_KEY must be {SECRET_KEY_MIN} characters or more of random text in "
                'production (make one with: python -c "import secrets;'
                'print(secrets.token_urlsafe(48))")'
            )
        if not self.PROXY_COUNT.isdigit():
            problems.append(
                "PROXY_COUNT must be a whole number (0 when nothing proxies the portal)"
            )
        problems += _dns_problems(self) + _url_problems(self)
        if problems:
            raise ConfigError("; ".join(problems))

    def flask_settings(self) -> dict:
        """The mapping handed to app.config: every variable plus the derived Flask settings."""
        settings = {k: v for k, v in asdict(self).items() if k != "extra"}
        settings["PROXY_COUNT"] = int(self.PROXY_COUNT)
        secure = self.is_production
        settings.update(
            SESSION_COOKIE_SECURE=secure,
            SESSION_COOKIE_HTTPONLY=True,
            SESSION_COOKIE_SAMESITE="Lax",
            REMEMBER_COOKIE_SECURE=secure,
            REMEMBER_COOKIE_HTTPONLY=True,
            REMEMBER_COOKIE_SAMESITE="Lax",
            WTF_CSRF_TIME_LIMIT=None,  # tokens live as long as the session, not an hour
            # Every form but the CSV upload (which raises its own limit) is a few KB of text.
            MAX_CONTENT_LENGTH=2 * 1024 * 1024,
            TESTING=self.PORTAL_ENV == "testing",
        )
        settings.update(self.extra)
        return settings


def _sqlite_default(instance_path: str) -> str:
    return f"sqlite:///{Path(instance_path) / 'portal.sqlite3'}"


def _driver_url(url: str) -> str:
    """PostgreSQL URLs as operators paste them, pointed at the psycopg 3 driver we ship."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def _valid_fernet_keys(value: str) -> bool:
    try:
        return all(len(base64.urlsafe_b64decode(k.strip())) == 32 for k in value.split(","))
    except (binascii.Error, ValueError):
        return False


# What follows "include:" in an SPF record: a DNS name, which (unlike a host name) may hold "_".
_SPF_NAME = re.compile(r"[A-Za-z0-9_-]{1,63}(\.[A-Za-z0-9_-]{1,63})+")


def resolver_address(value: str) -> tuple[str, int] | None:
    """(IP address, port) of a DNS_RESOLVER value ("127.0.0.1:5353", "[::1]:53", "10.0.0.2"),
    None when empty; ValueError when it is not an IP address with an optional port."""
    if not value:
        return None
    host, port = value, "53"
    if value.startswith("["):  # [IPv6]:port
        host, _, rest = value[1:].partition("]")
        port = rest.removeprefix(":") or "53"
    elif value.count(":") == 1:
        host, port = value.split(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"bad port {port!r}")
    return str(ipaddress.ip_address(host)), int(port)


def _dns_problems(config: Config) -> list[str]:
    problems = []
    try:
        resolver_address(config.DNS_RESOLVER)
    except ValueError:
        problems.append(
            "DNS_RESOLVER must be an IP address and port, such as 127.0.0.1:5353 or [::1]:53 "
            "(leave it empty to use the system's resolvers)"
        )
    if config.SPF_INCLUDE and not _SPF_NAME.fullmatch(config.SPF_INCLUDE):
        problems.append(
            "SPF_INCLUDE must be the domain name your mail relay asks senders to include, "
            "such as _spf.relay.example (without the include: prefix)"
        )
    return problems


def _url_problems(config: Config) -> list[str]:
    """The URLs a process needs only later (a first email, a first job), checked at start: a
    mistake found at the first send would fail every send until someone reads the log."""
    problems = _public_url_problems(config)
    if config.SMTP_URL:
        try:
            parse_smtp_url(config.SMTP_URL)
        except ValueError as error:  # names SMTP_URL, never the password
            problems.append(str(error))
    try:
        url = make_url(config.DATABASE_URL)
        driver = f"{url.get_backend_name()}+{url.get_driver_name()}"
        if driver not in SHIPPED_DRIVERS:
            raise ArgumentError(f"{driver} is not a database and driver the portal ships")
    except (ArgumentError, NoSuchModuleError, ImportError) as error:
        problems.append(
            "DATABASE_URL must be a PostgreSQL URL such as postgresql://user@host:5432/portal "
            f"(or a sqlite:/// file): {str(error).splitlines()[0][:200]}"
        )
    problems += _mail_from_problems(config.MAIL_FROM)
    if not config.REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
        problems.append("REDIS_URL must start with redis://, rediss:// or unix://")
    return problems


def _mail_from_problems(value: str) -> list[str]:
    """MAIL_FROM goes into the From of every email: one plain address, maybe with a name."""
    found = getaddresses([value])
    address = found[0][1] if len(found) == 1 else ""
    local, _, domain = address.rpartition("@")
    if CONTROL.search(value) or not (local and domain and address.isascii()) or " " in address:
        return [
            "MAIL_FROM must be one address, maybe with a name, on one line, such as "
            "Cart Recovery <no-reply@portal.example>"
        ]
    return []


def _public_url_problems(config: Config) -> list[str]:
    """Emails' links and one-click unsubscribes (RFC 8058 wants https) and the Secure cookies
    need https in production; plain http only on this machine (a benchmark, a trial)."""
    if not config.PUBLIC_URL:
        return []
    try:
        parts = urlsplit(config.PUBLIC_URL)
        parts.port  # raises on a port that is not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        return ["PUBLIC_URL must be the portal's address, such as https://portal.example.com"]
    if config.is_production and parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        return [
            "PUBLIC_URL must start with https:// in production (emails' unsubscribe links and "
            "the portal's Secure cookies need it; put a TLS-terminating proxy in front)"
        ]
    return []


def load(instance_path: str, overrides: dict | None = None) -> dict:
    """The checked Flask settings from os.environ, with `overrides` (tests) applied last."""
    overrides = dict(overrides or {})
    environ = {
        **os.environ,
        **{k: str(v) for k, v in overrides.items() if k in Config.__dataclass_fields__},
    }
    extra = {k: v for k, v in overrides.items() if k not in Config.__dataclass_fields__}
    config = replace(Config.from_environ(environ, instance_path), extra=extra)
    config.check()
    return config.flask_settings()
