"""Rendered emails against their snapshots, and the sample cart the editor previews.

Snapshots live in tests/data/snapshots/;
`UPDATE_SNAPSHOTS=1 pytest tests/rendering/test_rendering_snapshots.py`
writes them afresh (the snapshot tests then skip, naming each file written) instead of comparing.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from portal.mail.content import DEFAULT_CONTENT
from portal.mail.rendering import EmailContext, RenderedEmail, render
from portal.models import Merchant, SendingSettings
from portal.services import email_preview
from portal.services.email_design import Design
from rendering_kit import Document, button, snapshot_ctx

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOTS = ROOT / "tests" / "data" / "snapshots"


# The preview's sample cart (email_preview), rendered by the same renderer


def sample_email(with_promotion: bool) -> tuple[EmailContext, RenderedEmail]:
    merchant = Merchant(name="Acme Goods")
    settings = SendingSettings(
        postal_address="12 Main St\nSpringfield", locale="en_US", timezone="UTC", steps=[]
    )
    design = Design(DEFAULT_CONTENT, None, "#4f46e5")
    sample = email_preview.Sample("https://portal.test/", with_promotion)
    ctx = email_preview.sample_context(merchant, settings, None, design, sample)
    return ctx, email_preview.preview(merchant, settings, None, design, sample)


def test_the_sample_cart_is_realistic_and_renders_like_a_real_email():
    ctx, email = sample_email(with_promotion=True)
    assert 3 <= len(ctx.items) <= 5 and ctx.total == sum(item.amount for item in ctx.items)
    assert any(item.quantity > 1 for item in ctx.items)
    assert any(item.image_url is None for item in ctx.items)
    assert ctx.recovery_link.startswith("https://portal.test/r/")
    assert ctx.unsubscribe_url.startswith("https://portal.test/unsubscribe/")
    assert ctx.recovery_expires_at > datetime.now(timezone.utc) + timedelta(days=7)
    for item in ctx.items:
        if item.image_url:  # the pictures are the portal's own, and they exist
            path = item.image_url.removeprefix("https://portal.test/")
            assert (ROOT / path).is_file(), path
    assert email.subject == "You left something in your cart at Acme Goods"
    assert "Use code THANKS-7K2Q at checkout." in email.text
    assert button(email)["href"] == ctx.recovery_link and ctx.unsubscribe_url in email.text
    assert Document(email.html).text.count("$121.00") == 1  # the total, once


def test_the_sample_has_a_code_only_when_the_step_has_one():
    _, email = sample_email(with_promotion=False)
    assert "Use code" not in email.text and "Use code" not in email.html
    settings = SendingSettings(
        steps=[{"delay_minutes": 0}, {"delay_minutes": 60, "promotion": True}]
    )
    assert [email_preview.has_promotion(settings, step) for step in range(3)] == [
        False,
        True,
        False,
    ]


@pytest.mark.parametrize(
    "name, one_item, part",
    [
        ("recovery.html", False, "html"),
        ("recovery.txt", False, "text"),
        ("recovery_one_item.html", True, "html"),
        ("recovery_one_item.txt", True, "text"),
    ],
)
def test_snapshot(name, one_item, part):
    rendered = getattr(render(snapshot_ctx(one_item=one_item)), part)
    path = SNAPSHOTS / name
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rendered.encode("utf-8"))
        pytest.skip(f"UPDATE_SNAPSHOTS=1: wrote {path.relative_to(ROOT)} ({len(rendered)} chars)")
    assert path.is_file(), f"no snapshot {path}: run with UPDATE_SNAPSHOTS=1 to write it"
    expected = path.read_bytes().decode("utf-8")  # as written: no newline translation
    if rendered != expected:
        at = next(
            (i for i, (a, b) in enumerate(zip(rendered, expected)) if a != b),
            min(len(rendered), len(expected)),
        )
        pytest.fail(
            f"{name} differs from the snapshot at character {at}:\n"
            f"  rendered: {rendered[max(at - 80, 0) : at + 80]!r}\n"
            f"  snapshot: {expected[max(at - 80, 0) : at + 80]!r}\n"
            "If the change is wanted, run with UPDATE_SNAPSHOTS=1 and review the diff."
        )
