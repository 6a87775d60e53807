"""WSGI entry point: `gunicorn wsgi:app`, and FLASK_APP for the `flask` CLI."""

from flask.cli import NoAppException

from portal import create_app
from portal.config import ConfigError

try:
    app = create_app()
except ConfigError as problem:
    # A missing or malformed setting: the `flask` CLI prints this one line naming it (not a
    # traceback, then a command list without the portal's commands); gunicorn stops on it.
    raise NoAppException(f"The portal cannot start: {problem}.") from None
