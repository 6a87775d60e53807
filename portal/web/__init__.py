"""Blueprints, one module per area: parse -> call a service -> commit -> redirect."""
from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError

from portal import db


def register(app: Flask) -> None:
    from portal.web import auth, carts, health, home, links, outbox, team, webhooks

    for module in (auth, carts, health, home, links, outbox, team):
        app.register_blueprint(module.bp)
    app.wsgi_app = webhooks.WebhookReceiver(app, app.wsgi_app)  # answered before Flask: see there
    _register_error_pages(app)


def _register_error_pages(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return render_template("errors/csrf.html", reason=error.description), 400

    @app.errorhandler(404)
    def not_found(_error):
        return render_template("errors/404.html"), 404

    @app.errorhandler(OperationalError)
    def database_unavailable(_error):
        db.session.rollback()
        # Rendered without context processors: they would load current_user from the database.
        return app.jinja_env.get_template("errors/503.html").render(), 503

    @app.errorhandler(500)
    def server_error(_error):
        return render_template("errors/500.html"), 500
