"""The operator's commands, run through Flask's CLI runner against the real database."""

from __future__ import annotations

from sqlalchemy import func, select

from portal.models import Merchant, User


def test_merchants_create(app, db):
    result = app.test_cli_runner().invoke(
        args=[
            "merchants",
            "create",
            "--email",
            "Op@Example.com",
            "--password",
            "long password!",
            "--name",
            "Op Shop",
        ]
    )
    assert result.exit_code == 0, result.output
    user = db.scalar(select(User))
    assert "Created merchant" in result.output
    assert (user.email, user.role, user.merchant.name) == ("op@example.com", "owner", "Op Shop")


def test_merchants_create_refuses_duplicates_and_short_passwords(app, db):
    runner = app.test_cli_runner()
    args = ["merchants", "create", "--email", "op@example.com", "--name", "Op Shop", "--password"]
    assert runner.invoke(args=args + ["long password!"]).exit_code == 0
    duplicate = runner.invoke(args=args + ["long password!"])
    assert duplicate.exit_code == 1 and "already exists" in duplicate.output
    short = runner.invoke(
        args=[
            "merchants",
            "create",
            "--email",
            "x@example.com",
            "--name",
            "X",
            "--password",
            "short",
        ]
    )
    assert short.exit_code == 2 and "this has 5 characters, 10 are needed" in short.output
    one = runner.invoke(args=[*args[:3], "z@example.com", "--name", "Z", "--password", "x"])
    assert one.exit_code == 2 and "this has 1 character, 10 are needed" in one.output
    args = ["merchants", "create", "--email", "y@example.com", "--name", "Y", "--password"]
    control = runner.invoke(args=[*args, "long enough\x1b[31m"])
    assert control.exit_code == 2 and "control character" in control.output
    assert db.scalar(select(func.count()).select_from(Merchant)) == 1


def test_merchants_create_takes_only_an_address_mail_reaches(app, db, monkeypatch):
    runner = app.test_cli_runner()
    said = {
        "not-an-address": "Give a whole address, like owner@shop.example.",
        "op@printer.local": "printer.local cannot be reached from the internet.",
        "öp@shop.example": "plain ASCII letters",
    }
    for email, says in said.items():
        args = ["merchants", "create", "--email", email, "--name", "Op", "--password"]
        result = runner.invoke(args=[*args, "long password!"])
        assert result.exit_code == 2 and says in result.output, result.output
    monkeypatch.setitem(app.config, "PORTAL_ENV", "production")
    args = ["merchants", "create", "--email", "op@shop.test", "--name", "Op", "--password"]
    result = runner.invoke(args=[*args, "long password!"])
    assert result.exit_code == 2 and "shop.test is a reserved name" in result.output
    assert db.scalar(select(func.count()).select_from(Merchant)) == 0
