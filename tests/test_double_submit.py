"""Two requests writing the same new row at once (a double click, a second tab) both succeed:
the unique key refuses the later write, which reads again and records against the first's
row. Two real connections to PostgreSQL, the first held between its read and its write while
the second commits (SQLite takes one writer at a time: it cannot race like this)."""

from __future__ import annotations

import threading
from datetime import timedelta
from types import SimpleNamespace

from sqlalchemy import func, select

from factories import make_owner
from helpers import committing, run_in_threads
from portal import db as portal_db
from portal.db import utcnow
from portal.models import ConsentChange, Contact, EmailVersion, Invitation, Merchant
from portal.models import SendingSettings
from portal.models import TestSend, User
from portal.services import accounts, consent, email_design, invitations, promotions
from portal.services import stripe_gateway, test_sends, throttle
from portal.services.accounts import AccountError
from portal.services.settings import settings_for


def _race(app, monkeypatch, module, name, write) -> list[BaseException]:
    """Run `write` in a thread that stops after `module.name` (a step between its read and its
    write) until `write` has also run, and committed, here; the errors of both."""
    reached, go, errors = threading.Event(), threading.Event(), []
    original = getattr(module, name)

    def held(*args, **kwargs):
        result = original(*args, **kwargs)
        if threading.current_thread().name == "first" and not reached.is_set():
            reached.set()
            go.wait(10)
        return result

    monkeypatch.setattr(module, name, held)

    request = committing(app, write, errors)
    first = threading.Thread(target=request, name="first")
    first.start()
    assert reached.wait(10)
    request()
    go.set()
    first.join(10)
    return errors


def test_a_new_address_recorded_twice_at_once_is_one_contact_with_both_changes(
    app, db, monkeypatch, racing
):
    merchant_id = make_owner("Tea", "tea@example.com").merchant_id
    refs = iter(("first", "second"))

    def unsubscribe():
        change = consent.Change(
            merchant_id, "new@example.com", "unsubscribed", "manual", next(refs), utcnow()
        )
        consent.record([change])

    assert _race(app, monkeypatch, consent, "_move_contacts", unsubscribe) == []
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Contact)) == 1
    assert db.scalar(select(func.count()).select_from(ConsentChange)) == 2


def test_an_email_saved_twice_at_once_takes_two_numbers(app, db, monkeypatch, racing):
    merchant_id = make_owner("Tea", "tea@example.com").merchant_id
    settings_for(merchant_id)
    db.commit()

    def save():
        merchant = portal_db.session.get(Merchant, merchant_id)
        settings = portal_db.session.get(SendingSettings, merchant_id)
        email_design.save(merchant, None, 0, email_design.default_design(settings, 0))

    assert _race(app, monkeypatch, email_design, "fields", save) == []
    db.expire_all()
    assert sorted(db.scalars(select(EmailVersion.number))) == [1, 2]


def test_test_emails_requested_at_once_stay_within_the_limit(app, db, racing):
    owner = make_owner("Tea", "tea@example.com")
    settings_for(owner.merchant_id)
    db.commit()
    queued = []

    def click(_n):
        with app.app_context():
            merchant = portal_db.session.get(Merchant, owner.merchant_id)
            user = portal_db.session.get(User, owner.id)
            settings = portal_db.session.get(SendingSettings, owner.merchant_id)
            design = email_design.default_design(settings, 0)
            test = test_sends.request(merchant, user, 0, design)
            portal_db.session.commit()
            queued.append(test is not None)

    assert run_in_threads(click, 16) == []
    # Never more than the limit (some over it may be refused with the ones that pass it).
    assert 1 <= queued.count(True) <= test_sends.LIMIT and len(queued) == 16
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(TestSend)) == queued.count(True)


def test_invitations_to_one_address_sent_at_once_stay_within_the_limit(app, db, racing):
    owners = [make_owner(f"Shop {n}", f"owner{n}@example.com") for n in range(8)]
    sent = []

    def invite(n):
        with app.app_context():
            merchant = portal_db.session.get(Merchant, owners[n].merchant_id)
            inviter = portal_db.session.get(User, owners[n].id)
            try:
                invitations.invite(merchant, inviter, "new@example.com")
                portal_db.session.commit()
                sent.append(True)
            except AccountError:
                sent.append(False)

    assert run_in_threads(invite, 8) == []
    # One at a time under the same keys: exactly the limit's worth, never none.
    assert sent.count(True) == invitations.MAX_PER_ADDRESS and len(sent) == 8


def test_a_refused_test_email_does_not_count_against_the_next(app, db):
    owner = make_owner("Tea", "tea@example.com")
    settings = settings_for(owner.merchant_id)
    db.commit()
    design = email_design.default_design(settings, 0)
    merchant, user = db.get(Merchant, owner.merchant_id), db.get(User, owner.id)
    for _ in range(test_sends.LIMIT):
        assert test_sends.request(merchant, user, 0, design) is not None
        db.commit()
    for _ in range(3):  # refused, and rolled back by the request that ends without a commit
        assert test_sends.request(merchant, user, 0, design) is None
        db.rollback()
    key = test_sends._key(merchant.id)
    assert throttle.count(key, test_sends.WINDOW) == test_sends.LIMIT  # the five sent only


def test_an_invitation_sent_twice_at_once_goes_out_once(app, db, racing):
    owner = make_owner("Ink", "ink@example.com")
    answers = []

    def invite(_n):
        with app.app_context():
            merchant = portal_db.session.get(Merchant, owner.merchant_id)
            inviter = portal_db.session.get(User, owner.id)
            try:
                invitations.invite(merchant, inviter, "new@example.com")
                portal_db.session.commit()
                answers.append("sent")
            except invitations.JustSent:
                answers.append("just sent")

    assert run_in_threads(invite, 3) == []  # three: the address's own daily limit
    assert sorted(answers) == ["just sent"] * 2 + ["sent"]
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Invitation)) == 1
    key = f"invite-merchant:{owner.merchant_id}"
    assert throttle.count(key, invitations.WINDOW) == 1  # the two refused are uncounted


def test_a_sign_up_sent_twice_at_once_makes_one_account_and_words_the_other(
    app, db, monkeypatch, racing
):
    def sign_up():
        accounts.create_merchant("Twice", "twice@example.com", "long enough password")

    errors = _race(app, monkeypatch, accounts, "email_taken", sign_up)
    assert [type(e) for e in errors] == [AccountError]
    assert str(errors[0]) == accounts.EMAIL_TAKEN
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(User)) == 1
    assert db.scalar(select(func.count()).select_from(Merchant)) == 1


def test_promotion_codes_minted_at_once_stay_within_the_daily_cap(app, db, monkeypatch, racing):
    merchant_id = make_owner("Tea", "tea@example.com").merchant_id
    # Stripe's answer is stubbed (the code asked for): what races is the portal's count.
    monkeypatch.setattr(stripe_gateway, "create_promotion_code", lambda *args: args[-1])
    codes = []

    def mint():
        ctx = SimpleNamespace(
            merchant=SimpleNamespace(id=merchant_id),
            settings=SimpleNamespace(coupon_id="co_Tea", promotion_daily_cap=1),
            session=SimpleNamespace(recovery_expires_at=utcnow() + timedelta(hours=1)),
            account=None,
            case=SimpleNamespace(id=1),
        )
        codes.append(promotions.mint(ctx))

    assert _race(app, monkeypatch, stripe_gateway, "create_promotion_code", mint) == []
    assert len(codes) == 2 and len([code for code in codes if code]) == 1
