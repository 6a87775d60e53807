"""WSGI entry point: `gunicorn wsgi:app`, and FLASK_APP for the `flask` CLI."""

from portal import create_app

app = create_app()
