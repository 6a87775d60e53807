"""Test emails from the editor through the real queue: limits, problems, Redis away, members."""

from __future__ import annotations

import re
from datetime import timedelta

from rq import Queue
from sqlalchemy import func, select, update

from factories import PASSWORD, make_member
from helpers import error_beside, post_form
from portal import jobs
from portal.db import utcnow
from portal.extensions import connect_redis, rq
from portal.models import OutboxMessage, TestSend, ThrottleHit
from portal.services import test_sends
from editor_kit import HTMX, VALID, sent_tests, versions


def test_a_test_email_is_queued_for_the_user_and_sent_by_the_job(
    client, app, db, owner, redis_conn
):
    data = {**VALID, "headline": "Unsaved headline"}
    response = post_form(client, "/email/1/test", data, page="/email/1")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Test email queued for owner@example.com." in page
    assert 'value="Unsaved headline"' in page  # the edits are kept on the page
    [test] = sent_tests(db, owner.merchant_id)
    assert test.to_address == "owner@example.com" and test.status == "queued"
    assert test.design["headline"] == "Unsaved headline" and versions(db, owner.merchant_id) == []
    [job] = Queue("mail", connection=redis_conn).jobs
    assert job.func_name == "portal.jobs.send_test_email" and job.args == (test.id,)
    listing = client.get("/email/tests?step=1").get_data(as_text=True)
    assert "Queued" in listing and 'hx-trigger="every 2s"' in listing and "Refresh" in listing
    db.execute(update(TestSend).where(TestSend.id == test.id).values(status="sending"))
    db.commit()  # a worker has it: the list still asks again
    listing = client.get("/email/tests?step=1").get_data(as_text=True)
    assert "Sending" in listing and 'hx-trigger="every 2s"' in listing
    db.execute(update(TestSend).where(TestSend.id == test.id).values(status="queued"))
    db.commit()

    with app.app_context():
        assert jobs.send_test_email(test.id) == "sent"
    listing = client.get("/email/tests?step=1").get_data(as_text=True)
    assert "In the Outbox" in listing and "Sent" not in listing  # no server: nothing left
    assert "No mail server is set up, so it waits in the" in listing
    assert "every 2s" not in listing  # nothing queued: the polling stops
    sent = db.scalars(select(OutboxMessage)).one()
    assert sent.to_address == "owner@example.com" and sent.subject.startswith("[Test] ")


def test_a_double_click_sends_one_test_email(client, db, owner, redis_conn):
    said = (  # the second submit before the page answered, the same values: told so
        "Test email queued for owner@example.com.",
        "This test email was already queued for owner@example.com: it goes out once.",
    )
    for words in said:
        response = post_form(client, "/email/1/test", VALID, page="/email/1")
        assert words in response.get_data(as_text=True)
    assert len(sent_tests(db, owner.merchant_id)) == 1
    assert Queue("mail", connection=redis_conn).count == 1
    # Changed text is a new test email, sent at once.
    post_form(client, "/email/1/test", {**VALID, "headline": "Changed"}, page="/email/1")
    assert len(sent_tests(db, owner.merchant_id)) == 2


def test_the_answer_reloaded_within_a_minute_sends_nothing_more(client, db, owner):
    """Without JavaScript the answer is the form's POST: reloading it posts it again."""
    post_form(client, "/email/1/test", VALID, page="/email/1")
    for seconds, sent in [(50, 1), (61, 2)]:
        db.execute(update(TestSend).values(created_at=utcnow() - timedelta(seconds=seconds)))
        db.commit()
        post_form(client, "/email/1/test", VALID, page="/email/1")
        assert len(sent_tests(db, owner.merchant_id)) == sent


def test_the_sixth_test_email_in_the_window_is_refused(client, db, owner, redis_conn):
    for n in range(test_sends.LIMIT):
        edited = {**VALID, "headline": f"Try {n}"}  # each a new test, none a double click
        assert post_form(client, "/email/1/test", edited, page="/email/1").status_code == 200
    response = post_form(client, "/email/1/test", VALID, page="/email/1")
    assert response.status_code == 429
    assert "can send 5 test emails every 10 minutes" in response.get_data(as_text=True)
    fragment = post_form(client, "/email/1/test", VALID, page="/email/1", headers=HTMX)
    assert fragment.status_code == 429 and "<html" not in fragment.get_data(as_text=True)
    assert len(sent_tests(db, owner.merchant_id)) == test_sends.LIMIT


def test_a_test_email_with_problems_is_not_sent(client, db, owner, redis_conn):
    response = post_form(client, "/email/1/test", {**VALID, "subject": ""}, page="/email/1")
    assert response.status_code == 400
    assert error_beside(response.get_data(as_text=True), "subject") == "Enter the subject."
    assert (
        sent_tests(db, owner.merchant_id) == [] and Queue("mail", connection=redis_conn).count == 0
    )


def test_when_redis_refuses_the_test_email_fails_with_a_reason(client, db, owner, monkeypatch):
    monkeypatch.setattr(rq, "connection", connect_redis("redis://127.0.0.1:1/0"))
    response = post_form(client, "/email/1/test", VALID, page="/email/1", headers=HTMX)
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert "could not be queued just now" in page
    assert "the portal could not queue it just then" in page and "127.0.0.1" not in page
    assert "Server’s answer" not in page  # the portal's own words, not a mail server's
    [test] = sent_tests(db, owner.merchant_id)
    assert test.status == "failed"
    # Nothing was tried: it does not count against the limit.
    assert test_sends.refusal(owner.merchant) is None
    assert db.scalar(select(func.count()).select_from(ThrottleHit)) == 0


def test_a_member_sends_a_test_to_their_own_address(client, app, db, owner, login, redis_conn):
    make_member(owner.merchant_id, "member@example.com")
    member = app.test_client()
    login(member, "member@example.com", PASSWORD)
    response = post_form(member, "/email/1/test", VALID, page="/email/1", headers=HTMX)
    assert response.status_code == 200 and "member@example.com" in response.get_data(as_text=True)
    assert [t.to_address for t in sent_tests(db, owner.merchant_id)] == ["member@example.com"]


def test_the_test_emails_answer_is_beside_its_button(client, db, owner, redis_conn):
    """On a phone the list of tests is far below the button: the answer is put beside it, out
    of band with htmx, and on the page itself without JavaScript."""
    fragment = post_form(client, "/email/1/test", VALID, page="/email/1", headers=HTMX)
    text = fragment.get_data(as_text=True)
    notice = re.search(r'<p id="test-notice" hx-swap-oob="true"[^>]*>(.*?)</p>', text, re.S)
    assert notice and "Test email queued for owner@example.com." in notice.group(1)
    edited = {**VALID, "headline": "Another"}  # not the same test asked again
    page = post_form(client, "/email/1/test", edited, page="/email/1").get_data(as_text=True)
    button = page.index("Send test email</button>")
    beside = page.index('<p id="test-notice"', button)
    assert page.index("Test email queued for owner@example.com.", beside) < page.index(
        'id="tests"'
    )
    assert page.count('id="test-notice"') == 1
