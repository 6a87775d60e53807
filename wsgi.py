"""WSGI entry point: `gunicorn wsgi:app`, and FLASK_APP for the `flask` CLI."""

import sys

from portal import create_app
from portal.config import ConfigError

try:
    app = create_app()
except ConfigError as problem:
    # A missing or malformed setting: the `flask` CLI prints this one line naming it and stops
    # (not a traceback, nor Click's "No such command" for a portal command it could not load);
    # gunicorn prints it once per worker, without a traceback, and stops ("App failed to load").
    message = f"The portal cannot start: {problem}."
    if "gunicorn" in sys.modules:
        from gunicorn.errors import AppImportError

        raise AppImportError(message) from None
    sys.stderr.write(f"Error: {message}\n")
    raise SystemExit(2)
