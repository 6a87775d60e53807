"""The Cart Recovery Portal: a multi-tenant Flask app that recovers abandoned Stripe carts."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from portal import config, db
from portal.extensions import csrf, login_manager, rq


def create_app(overrides: dict | None = None) -> Flask:
    """Build the app from the environment (plus `overrides`, for tests). No network or disk I/O."""
    # Imported here, not above: importing one part of the package (its models, a service, the
    # jobs) must not load every page and command with it.
    from portal import cli, web

    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder="../templates",
        static_folder="../static",
    )
    app.config.from_mapping(config.load(app.instance_path, overrides))
    db.init_app(app)
    _init_extensions(app)
    web.register(app)
    cli.register(app)
    return app


def _init_extensions(app: Flask) -> None:
    from portal.services.accounts import load_user

    login_manager.init_app(app)
    login_manager.user_loader(load_user)
    csrf.init_app(app)
    rq.init_app(app)
    proxies = app.config["PROXY_COUNT"]
    if proxies:  # behind N reverse proxies: trust their X-Forwarded-* for the client's address
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
