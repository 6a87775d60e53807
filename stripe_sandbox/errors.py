"""Stripe-shaped errors: one exception type and the handlers that render it."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException


class StripeError(Exception):
    """An API error that renders as Stripe's `{"error": {...}}` body with its status."""

    def __init__(
        self,
        status: int,
        message: str,
        param: str | None = None,
        type_: str = "invalid_request_error",
        code: str | None = None,
    ):
        super().__init__(message)
        self.status, self.message, self.param = status, message, param
        self.type, self.code = type_, code

    def body(self) -> dict:
        """The JSON body Stripe sends for this error."""
        error = {"type": self.type, "message": self.message}
        if self.param:
            error["param"] = self.param
        if self.code:
            error["code"] = self.code
        return {"error": error}


def bad_param(
    message: str, param: str | None = None, code: str = "parameter_invalid"
) -> StripeError:
    """A 400 invalid_request_error naming the offending parameter."""
    return StripeError(400, message, param=param, code=code)


def missing(param: str) -> StripeError:
    """A 400 for a required parameter that was not sent."""
    return StripeError(
        400, f"Missing required param: {param}.", param=param, code="parameter_missing"
    )


def no_such(kind: str, object_id: str, param: str = "id") -> StripeError:
    """A 404 worded like Stripe's 'No such ...' errors."""
    return StripeError(404, f"No such {kind}: '{object_id}'", param=param, code="resource_missing")


def _is_api_path() -> bool:
    return request.path.startswith(("/v1/", "/oauth/token", "/oauth/deauthorize"))


def _render_http_error(exc: HTTPException):
    if _is_api_path() or request.path.startswith("/_sandbox/checkout"):
        err = StripeError(
            exc.code or 400, f"Unrecognized request URL ({request.method}: {request.path})."
        )
        return jsonify(err.body()), err.status
    return render_template("message.html", title=exc.name, message=exc.description), exc.code


def _render_unexpected(exc: Exception):
    # Any crash is a sandbox bug; still answer in Stripe's shape so clients fail cleanly.
    if isinstance(exc, HTTPException):
        return _render_http_error(exc)
    err = StripeError(500, f"Sandbox internal error: {type(exc).__name__}", type_="api_error")
    return jsonify(err.body()), 500


def register(app: Flask) -> None:
    """Route every error raised in a view to a Stripe-style response."""
    app.register_error_handler(StripeError, lambda e: (jsonify(e.body()), e.status))
    app.register_error_handler(HTTPException, _render_http_error)
    app.register_error_handler(Exception, _render_unexpected)
