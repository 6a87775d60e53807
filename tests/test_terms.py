"""The cart-recovery terms page: reading, the owner's acceptance, versions, and tenancy."""

from __future__ import annotations

from datetime import timedelta, timezone

import pytest
from jinja2 import ChoiceLoader, DictLoader
from sqlalchemy import func, select

from factories import PASSWORD, make_member, make_owner
from helpers import post_form, run_in_threads
from portal import db as portal_db
from portal.db import utcnow
from portal.models import Merchant, TermsAcceptance
from portal.services import terms

NEXT_VERSION = "2027-01-01"


def accept_form(version: str = terms.CURRENT_VERSION) -> dict:
    return {"version": version}


def acceptances(db) -> list[TermsAcceptance]:
    return list(db.scalars(select(TermsAcceptance).order_by(TermsAcceptance.id)))


@pytest.fixture
def next_version(app, monkeypatch):
    """A newer version is released, its text served from memory (no file in templates/)."""
    texts = DictLoader({terms.text_template(NEXT_VERSION): "<p>The newer terms text.</p>"})
    monkeypatch.setattr(app.jinja_env, "loader", ChoiceLoader([texts, app.jinja_env.loader]))
    monkeypatch.setattr(terms, "CURRENT_VERSION", NEXT_VERSION)


def test_page_shows_the_current_text_version_and_that_it_is_not_accepted(client, login):
    make_owner("Acme Tea", "ada@example.com")
    login(client, "ada@example.com", PASSWORD)
    page = client.get("/terms").get_data(as_text=True)
    effective = terms.effective_date(terms.CURRENT_VERSION)
    assert "What you are responsible for" in page and "A true postal address" in page
    assert (
        terms.CURRENT_VERSION in page
        and f"{effective:%b} {effective.day}, {effective.year}" in page
    )
    assert "Not accepted" in page and "Accept these terms" in page
    assert "Recovery emails are sent only after the owner accepts" in page


def test_owner_accepts_once_with_user_ip_version_and_time(client, login, db):
    owner = make_owner("Acme Tea", "ada@example.com")
    client.environ_base["REMOTE_ADDR"] = "203.0.113.9"  # before login: the session is bound to it
    login(client, "ada@example.com", PASSWORD)
    before = utcnow()
    first = post_form(client, "/terms/accept", accept_form(), page="/terms")
    assert first.status_code == 302 and first.headers["Location"] == "/terms"
    effective = terms.effective_date(terms.CURRENT_VERSION)
    said = client.get("/terms").get_data(as_text=True)  # the day, not the version's id
    assert f"You accepted the terms of {effective:%b} {effective.day}, {effective.year}." in said
    again = post_form(client, "/terms/accept", accept_form(), page="/terms")
    assert again.status_code == 302
    [row] = acceptances(db)
    assert (row.merchant_id, row.user_id, row.ip, row.version) == (
        owner.merchant_id,
        owner.id,
        "203.0.113.9",
        terms.CURRENT_VERSION,
    )
    assert before - timedelta(seconds=1) <= row.accepted_at <= utcnow()
    page = client.get("/terms").get_data(as_text=True)
    assert "Accepted" in page and "ada@example.com" in page and "203.0.113.9" in page
    at = row.accepted_at.astimezone(timezone.utc)
    assert f"{at:%b} {at.day}, {at.year}, {at:%H:%M} UTC" in page
    assert "Accept these terms" not in page
    assert not terms.needs_acceptance(db.get(Merchant, owner.merchant_id))
    # The page then points to what is left to set up (this merchant has no Stripe yet).
    assert 'Next step: <a href="/connect">Connect Stripe</a>' in page


def test_a_members_post_is_403_and_stores_nothing(client, login, db):
    owner = make_owner("Acme Tea", "ada@example.com")
    make_member(owner.merchant_id, "bo@example.com")
    login(client, "bo@example.com", PASSWORD)
    page = client.get("/terms").get_data(as_text=True)
    assert "What you are responsible for" in page
    assert "Only the owner can accept" in page and "ada@example.com" in page
    assert "Accept these terms" not in page
    response = post_form(client, "/terms/accept", accept_form(), page="/terms")
    assert response.status_code == 403
    assert "Only the owner can do this" in response.get_data(as_text=True)
    assert acceptances(db) == []


def test_logged_out_visitors_are_sent_to_log_in(client, db):
    response = client.get("/terms")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    post = post_form(client, "/terms/accept", accept_form(), page="/login")
    assert post.status_code == 302 and post.headers["Location"].startswith("/login")
    assert acceptances(db) == []


def test_accepting_needs_the_csrf_token(client, login, db):
    make_owner("Acme Tea", "ada@example.com")
    login(client, "ada@example.com", PASSWORD)
    response = client.post("/terms/accept", data=accept_form())
    assert response.status_code == 400
    assert "That form could not be accepted" in response.get_data(as_text=True)
    assert acceptances(db) == []


def test_a_form_for_another_version_accepts_nothing(client, login, db):
    make_owner("Acme Tea", "ada@example.com")
    login(client, "ada@example.com", PASSWORD)
    for version in ("2020-01-01", ""):
        response = post_form(client, "/terms/accept", accept_form(version), page="/terms")
        assert response.status_code == 302 and response.headers["Location"] == "/terms"
    assert "The terms changed while you were reading" in client.get("/terms").get_data(
        as_text=True
    )
    assert acceptances(db) == []


def test_a_new_version_needs_acceptance_again(client, login, db, next_version, monkeypatch):
    owner = make_owner("Acme Tea", "ada@example.com")
    merchant = db.get(Merchant, owner.merchant_id)
    terms.accept(merchant, owner, "192.0.2.1", "2026-11-01")
    db.commit()
    assert terms.needs_acceptance(merchant) and not terms.has_accepted_current(merchant)
    login(client, "ada@example.com", PASSWORD)
    page = client.get("/terms").get_data(as_text=True)
    assert "The newer terms text." in page and "Jan 1, 2027" in page
    assert "These terms have changed" in page and "recovery emails are paused" in page
    assert "Nov 1, 2026" in page  # the version accepted before stays listed, as its day
    post_form(client, "/terms/accept", accept_form(NEXT_VERSION), page="/terms")
    assert not terms.needs_acceptance(merchant) and terms.has_accepted_current(merchant)
    assert [row.version for row in acceptances(db)] == ["2026-11-01", NEXT_VERSION]
    page = client.get("/terms").get_data(as_text=True)
    assert "These terms have changed" not in page and "Accept these terms" not in page


def test_a_merchant_that_never_accepted_needs_acceptance(db):
    owner = make_owner()
    assert terms.needs_acceptance(db.get(Merchant, owner.merchant_id))


def test_another_merchants_acceptance_never_shows(client, login, db):
    alice = make_owner("Alice Shop", "alice@example.com")
    terms.accept(db.get(Merchant, alice.merchant_id), alice, "198.51.100.7")
    db.commit()
    bob = make_owner("Bob Shop", "bob@example.com")
    login(client, "bob@example.com", PASSWORD)
    page = client.get("/terms").get_data(as_text=True)
    assert "alice" not in page.lower() and "198.51.100.7" not in page
    assert "Not accepted" in page and "Versions Bob Shop accepted" not in page
    assert terms.needs_acceptance(db.get(Merchant, bob.merchant_id))
    assert terms.standing(db.get(Merchant, bob.merchant_id)).history == []


def test_a_departed_acceptor_is_named_as_such(client, login, db):
    owner = make_owner("Acme Tea", "ada@example.com")
    member = make_member(owner.merchant_id, "cy@example.com")
    terms.accept(db.get(Merchant, owner.merchant_id), member, "192.0.2.3")
    db.delete(member)
    db.commit()
    login(client, "ada@example.com", PASSWORD)
    page = client.get("/terms").get_data(as_text=True)
    assert "by a former team member" in page and "cy@example.com" not in page


def test_concurrent_acceptances_keep_one_row(app, db):
    if portal_db.bound_engine().dialect.name != "postgresql":
        pytest.skip("SQLite has one writer: concurrent writers fail as locked, whatever the code")
    owner = make_owner()

    def accept(_n: int) -> None:
        with app.app_context():
            merchant = portal_db.session.get(Merchant, owner.merchant_id)
            terms.accept(merchant, None, "192.0.2.4")
            portal_db.session.commit()

    assert run_in_threads(accept, 4) == []
    assert db.scalar(select(func.count()).select_from(TermsAcceptance)) == 1


def test_an_acceptance_that_lost_a_race_returns_the_first(db, monkeypatch):
    owner = make_owner()
    merchant = db.get(Merchant, owner.merchant_id)
    first = terms.accept(merchant, owner, "192.0.2.5")
    db.commit()
    real_lookup, lookups = terms._acceptance, []

    def lookup_before_the_other_commit(merchant, version):
        lookups.append(version)
        return None if len(lookups) == 1 else real_lookup(merchant, version)

    monkeypatch.setattr(terms, "_acceptance", lookup_before_the_other_commit)
    second = terms.accept(merchant, owner, "192.0.2.6")
    db.commit()
    assert second.id == first.id and second.ip == "192.0.2.5"
    assert db.scalar(select(func.count()).select_from(TermsAcceptance)) == 1
