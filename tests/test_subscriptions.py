"""The subscriptions pages: the list (keyset pages, status tabs, prefix search), a customer's
record, manual changes, and the privacy requests, each scoped to the signed-in merchant."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, func, insert, select, text

from factories import PASSWORD, make_member, make_owner
from helpers import csrf_token
from portal import db as portal_db
from portal.models import (
    CheckoutSession,
    ConsentChange,
    Contact,
    EmailSend,
    ErasedAddress,
    Merchant,
    RecoveryCase,
    StripeEvent,
)
from portal.services import consent, erasure, subscriptions

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
SECRET = "test-secret"


def _contacts(merchant_id: int, emails, status="subscribed", source="checkout_session"):
    rows = [
        dict(merchant_id=merchant_id, email=e, status=status, updated_at=T0, source=source)
        for e in emails
    ]
    portal_db.session.execute(insert(Contact), rows)
    portal_db.session.commit()


def _ledger(merchant_id, email, status, source, ref, when):
    consent.record([consent.Change(merchant_id, email, status, source, ref, when)])
    portal_db.session.commit()


def _checkout(merchant_id, email, session_id, **fields) -> CheckoutSession:
    """A checkout of €27.50 with `email`: expired unpaid after a tick, unless `fields` say
    otherwise (flushed, not committed)."""
    defaults = dict(
        livemode=True,
        created_at=T0,
        expired_at=T0 + timedelta(hours=24),
        status="expired",
        payment_status="unpaid",
        amount_total=2750,
        currency="eur",
        customer_name="Ola Nordmann",
        consent_promotions="opt_in",
        state_at=T0,
    )
    session = CheckoutSession(
        merchant_id=merchant_id, session_id=session_id, email=email, **(defaults | fields)
    )
    portal_db.session.add(session)
    portal_db.session.flush()
    return session


def _cart(merchant_id, email, session_id, sent=True, name="Ola Nordmann"):
    """An expired checkout with its case and, when `sent`, one email sent for it."""
    session = _checkout(merchant_id, email, session_id, customer_name=name)
    case = RecoveryCase(merchant_id=merchant_id, checkout_session_id=session.id, status="done")
    portal_db.session.add(case)
    portal_db.session.flush()
    if sent:
        portal_db.session.add(
            EmailSend(
                merchant_id=merchant_id,
                case_id=case.id,
                step=0,
                to_address=email,
                status="sent",
                message_id=f"<{session_id}@portal.example>",
                sent_at=T0 + timedelta(hours=25),
            )
        )
    portal_db.session.commit()
    return case


def _listing(client, **params) -> str:
    response = client.get("/subscriptions", query_string=params)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _addresses(html: str) -> list[str]:
    found = re.findall(r'<a class="address" href="[^"]+">(.*?)</a>', html)
    return [shown.replace("<wbr>", "") for shown in found]  # break points for narrow columns


def _next(html: str) -> str | None:
    found = re.search(r'href="([^"]+)" rel="next"', html)
    return found and found.group(1).replace("&amp;", "&")


def _prev(html: str) -> str | None:
    found = re.search(r'href="([^"]+)" rel="prev"', html)
    return found and found.group(1).replace("&amp;", "&")


@pytest.fixture
def owner(client, login):
    user = make_owner("Bean Shop", "owner@bean.example")
    login(client, "owner@bean.example", PASSWORD)
    return user


def test_pages_have_no_gaps_or_repeats_even_when_rows_arrive_between_them(client, owner):
    emails = [f"shopper{n:03d}@example.com" for n in range(120)]
    _contacts(owner.merchant_id, emails)
    first = client.get("/subscriptions").get_data(as_text=True)
    seen = _addresses(first)
    assert len(seen) == 50 and seen == sorted(seen)
    _contacts(owner.merchant_id, ["aaa-before@example.com", "shopper050a@example.com"])
    url = _next(first)
    while url:
        html = client.get(url).get_data(as_text=True)
        seen += _addresses(html)
        url = _next(html)
    # Rows added behind the cursor are not shown again; those ahead of it are found once.
    assert len(seen) == len(set(seen)) == 121
    assert set(seen) == set(emails) | {"shopper050a@example.com"}


def test_pages_go_back_the_way_they_came_with_a_search_and_a_status(client, owner):
    _contacts(owner.merchant_id, [f"shopper{n:03d}@example.com" for n in range(120)])
    _contacts(owner.merchant_id, ["other@example.com"])
    _contacts(owner.merchant_id, ["shopperx@example.com"], status="unsubscribed", source="csv")
    pages = [_listing(client, q="shopper", status="subscribed")]
    assert _prev(pages[0]) is None and "First page" not in pages[0]
    while url := _next(pages[-1]):
        pages.append(client.get(url).get_data(as_text=True))
    assert [len(_addresses(p)) for p in pages] == [50, 50, 20]
    back = client.get(_prev(pages[2])).get_data(as_text=True)
    assert _addresses(back) == _addresses(pages[1]) and "First page" in back
    first = client.get(_prev(back)).get_data(as_text=True)
    assert _addresses(first) == _addresses(pages[0]) and _prev(first) is None
    assert _next(first) == _next(pages[0])  # the same page, whichever way it was reached


@pytest.mark.parametrize("cursor", ["", "'", "%", "\U0010ffff", "z" * 5000, "a@b.c' OR 1=1 --"])
def test_any_cursor_gives_a_page(client, owner, cursor):
    _contacts(owner.merchant_id, ["ola@example.com", "zed@example.com"])
    for name in ("before", "after"):
        html = _listing(client, **{name: cursor})
        assert set(_addresses(html)) <= {"ola@example.com", "zed@example.com"}


def test_status_tabs_filter_and_count(client, owner):
    _contacts(owner.merchant_id, ["a@example.com", "b@example.com"])
    _contacts(owner.merchant_id, ["c@example.com"], status="unsubscribed", source="csv")
    html = _listing(client, status="unsubscribed")
    assert _addresses(html) == ["c@example.com"] and "CSV upload" in html
    assert _addresses(_listing(client, status="subscribed")) == ["a@example.com", "b@example.com"]
    assert len(_addresses(_listing(client, status="nonsense"))) == 3  # unknown: all
    assert re.search(r"Subscribed <span class=\"count\">2</span>", html)
    # A checkout's box, ticked or not, reads as such: a buyer who left it unticked did not
    # unsubscribe from anything.
    _contacts(owner.merchant_id, ["d@example.com"], status="unsubscribed")
    listed = _listing(client)
    assert "Checkout: agreed to marketing emails" in listed  # as the address's history says
    assert "Checkout: left the marketing box unticked" in listed
    # A search's tabs count what it finds, as the list below them shows it.
    searched = _listing(client, q="C")
    assert _addresses(searched) == ["c@example.com"]
    tabs = re.findall(r'<span class="count">([^<]*)</span>', searched)
    assert tabs == ["1", "0", "1"]  # All, Subscribed, Unsubscribed


def test_prefix_search_ignores_case_and_treats_wildcards_literally(client, owner):
    _contacts(owner.merchant_id, ["ola@example.com", "olav@example.com", "kari@ola.example"])
    _contacts(owner.merchant_id, ["o_a@example.com", "o%z@example.com"])
    assert _addresses(_listing(client, q="  OLA")) == ["ola@example.com", "olav@example.com"]
    assert _addresses(_listing(client, q="o_")) == ["o_a@example.com"]
    assert _addresses(_listing(client, q="o%")) == ["o%z@example.com"]
    assert "No address starts with" in _listing(client, q="zzz")


@pytest.mark.parametrize("query", ["\U0010ffff", "a\U0010ffff", "\ud7ff"])
def test_a_search_for_any_character_answers(client, owner, query):
    # The last character moved on by one was past Unicode or a surrogate: 500s. (A NUL in any
    # query gets a page in words: test_nul_requests.)
    _contacts(owner.merchant_id, ["ola@example.com"])
    assert _addresses(_listing(client, q=query)) == []


def test_a_form_address_opened_on_its_own_gets_a_page_in_words(client, owner):
    response = client.get("/subscriptions/customer/erase")
    assert response.status_code == 405 and "POST" in response.headers["Allow"]
    assert "Nothing to show here" in response.get_data(as_text=True)


def test_list_query_count_does_not_grow_with_the_list(app, client, owner):
    def queries_for_a_page() -> int:
        count = 0

        def counter(*_args):
            nonlocal count
            count += 1

        engine = app.extensions["db_engine"]
        event.listen(engine, "before_cursor_execute", counter)
        try:
            assert client.get("/subscriptions").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", counter)
        return count

    _contacts(owner.merchant_id, [f"few{n}@example.com" for n in range(10)])
    few = queries_for_a_page()
    _contacts(owner.merchant_id, [f"many{n:05d}@example.com" for n in range(5000)])
    on_postgres = portal_db.session.get_bind().dialect.name == "postgresql"
    # Past the cap, PostgreSQL's planner is asked for an estimate: one statement per such tab.
    assert few <= queries_for_a_page() <= few + (3 if on_postgres else 0)
    if on_postgres:
        portal_db.session.execute(text("ANALYZE contacts"))
        portal_db.session.commit()
    tabs = client.get("/subscriptions").get_data(as_text=True).split('class="status-tabs"')[1]
    all_tab = re.search(r'<span class="count">([^<]*)</span>', tabs).group(1)
    # 5,010 held: an estimate in words, rounded to two figures, or the cap where there is none
    assert all_tab == ("about 5,000" if on_postgres else "1,000+")
    searched = client.get("/subscriptions?q=many").get_data(as_text=True).split("status-tabs")[1]
    assert re.search(r'<span class="count">([^<]*)</span>', searched).group(1) == "1,000+"


def test_customer_page_shows_history_in_words_carts_and_emails(client, owner):
    m = owner.merchant_id
    _ledger(m, "ola@example.com", "subscribed", "checkout_session", "cs_live_1", T0)
    _ledger(m, "ola@example.com", "unsubscribed", "one_click", "x", T0 + timedelta(days=1))
    _cart(m, "ola@example.com", "cs_live_1")
    html = client.get("/subscriptions/customer?email=%20OLA@Example.com").get_data(as_text=True)
    history = html.split("<h2>History</h2>")[1].split("</section>")[0]
    assert history.index("One-click unsubscribe") < history.index("Checkout")  # newest first
    assert "The shopper" in history and "one_click" not in history
    case_id = portal_db.session.scalar(select(RecoveryCase.id))
    assert f'<a href="/carts/{case_id}">Checkout: agreed to marketing emails</a>' in history
    assert "€27.50" in html and "Expired" in html and "Sent" in html
    assert client.get("/subscriptions/customer").status_code == 404
    assert client.get("/subscriptions/customer?email=not-an-address").status_code == 404


def test_customer_page_names_the_checkout_a_recovery_email_opened(client, owner):
    case = _cart(owner.merchant_id, "ola@example.com", "cs_live_1")
    paid = T0 + timedelta(hours=26)
    fields = dict(created_at=paid, expired_at=None, state_at=paid, recovered_from="cs_live_1")
    _checkout(
        owner.merchant_id,
        "ola@example.com",
        "cs_live_2",
        **fields,
        status="complete",
        payment_status="paid",
    )
    portal_db.session.commit()
    html = client.get("/subscriptions/customer?email=ola@example.com").get_data(as_text=True)
    checkouts = html.split("<h2>Checkouts</h2>")[1].split("</section>")[0]
    assert f'Opened from a recovery email for <a href="/carts/{case.id}">the cart of' in checkouts
    emails = html.split("<h2>Emails sent</h2>")[1].split("</section>")[0]
    assert "Not clicked" in emails and ">no<" not in emails


def test_an_address_not_held_yet_can_be_unsubscribed_by_hand(client, owner):
    listing = _listing(client, q="Nobody@Example.com")
    assert "Open nobody@example.com</a> to subscribe, unsubscribe or erase it by hand" in listing
    filtered = _listing(client, q="nobody@example.com", status="unsubscribed")
    assert "No unsubscribed address starts with “nobody@example.com”." in filtered
    page = "/subscriptions/customer?email=nobody@example.com"
    html = client.get(page).get_data(as_text=True)
    assert "Never asked" in html and "Nothing is held about this address yet" in html
    assert 'value="unsubscribed">Unsubscribe</button>' in html
    data = {"email": "nobody@example.com", "status": "unsubscribed"}
    data["csrf_token"] = csrf_token(client, page)
    assert client.post("/subscriptions/customer/status", data=data).status_code == 303
    assert "Unsubscribed" in client.get(page).get_data(as_text=True)


def test_a_manual_change_is_recorded_as_manual_with_the_user(client, owner, login):
    _contacts(owner.merchant_id, ["ola@example.com"])
    member = make_member(owner.merchant_id, "kim@bean.example")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login(client, member.email, PASSWORD)  # any team member may change consent
    page = "/subscriptions/customer?email=ola@example.com"
    data = {"email": "Ola@Example.com", "status": "unsubscribed"}
    response = client.post(
        "/subscriptions/customer/status", data={**data, "csrf_token": csrf_token(client, page)}
    )
    assert response.status_code == 303 and response.location.endswith(page)
    change = portal_db.session.scalars(select(ConsentChange)).one()
    assert (change.source, change.status) == ("manual", "unsubscribed")
    assert change.source_ref.startswith(f"user:{member.id}:")
    html = client.get(page).get_data(as_text=True)
    assert "Changed by hand" in html and "kim@bean.example" in html
    assert "Unsubscribed" in html


def test_a_manual_change_refuses_a_bad_address(client, owner):
    page = "/subscriptions"
    bad = {"email": "not-an-address", "status": "subscribed"}
    response = client.post(
        "/subscriptions/customer/status", data={**bad, "csrf_token": csrf_token(client, page)}
    )
    assert response.status_code == 303
    assert portal_db.session.scalar(select(func.count()).select_from(ConsentChange)) == 0
    with pytest.raises(subscriptions.SubscriptionError):
        subscriptions.change(owner.merchant, owner, "a@example.com", "maybe", T0, "secret")


def test_another_merchants_addresses_never_show(client, owner):
    other = make_owner("Other Shop", "owner@other.example")
    _contacts(other.merchant_id, ["theirs@example.com"])
    _cart(other.merchant_id, "theirs@example.com", "cs_live_theirs")
    _contacts(owner.merchant_id, ["ours@example.com"])
    assert _addresses(_listing(client)) == ["ours@example.com"]
    assert _addresses(_listing(client, q="theirs")) == []
    theirs = {"email": "theirs@example.com"}
    assert (
        client.get("/subscriptions/customer/export.json", query_string=theirs).status_code == 404
    )
    html = client.get("/subscriptions/customer", query_string=theirs).get_data(as_text=True)
    assert "Never asked" in html and "Nothing is held about this address yet" in html
    assert "cs_live_theirs" not in html and "No checkouts with this address" in html


def test_export_holds_everything_about_the_address_and_nothing_else(client, owner):
    m = owner.merchant_id
    other = make_owner("Other Shop", "owner@other.example")
    _ledger(m, "ola@example.com", "subscribed", "checkout_session", "cs_live_1", T0)
    _cart(m, "ola@example.com", "cs_live_1")
    _cart(m, "kari@example.com", "cs_live_2")
    _cart(other.merchant_id, "ola@example.com", "cs_live_other", name="Other Name")
    response = client.get("/subscriptions/customer/export.json?email=ola@example.com")
    assert response.headers["Content-Disposition"].startswith("attachment;")
    data = json.loads(response.get_data(as_text=True))
    assert data["contact"]["status"] == "subscribed"
    assert [c["source_ref"] for c in data["consent_history"]] == ["cs_live_1"]
    assert data["consent_history"][0]["source_in_words"] == "Checkout: agreed to marketing emails"
    [checkout] = data["checkout_sessions"]
    assert checkout["session_id"] == "cs_live_1" and checkout["customer_name"] == "Ola Nordmann"
    assert checkout["amount_total"] == 2750 and checkout["consent_promotions"] == "opt_in"
    assert checkout["recovery_case"]["decision"] == "Emailed"
    assert [(e["status"], e["step"], e["email"]) for e in data["emails_sent"]] == [
        ("Sent", 0, "Email 1")
    ]
    text = response.get_data(as_text=True)
    assert "cs_live_other" not in text and "kari" not in text and "Other Name" not in text


def test_erase_keeps_only_the_hash_and_the_address_is_gone(app, client, owner):
    m = owner.merchant_id
    _ledger(m, "ola@example.com", "subscribed", "checkout_session", "cs_live_1", T0)
    _cart(m, "ola@example.com", "cs_live_1")
    body = json.dumps(
        {
            "customer_email": "OLA@example.com",
            "customer_details": {
                "email": "Ola@Example.com",
                "name": "Ola Nordmann",
                "phone": "+4712345678",
                "address": {"line1": "Storgata 1", "city": "Oslo", "country": "NO"},
            },
            "shipping_details": {"name": "Ola N.", "address": {"line1": "Storgata 1"}},
            "metadata": {"note": "for ola@example.com"},
            "amount_total": 2750,
        }
    )
    portal_db.session.add(
        StripeEvent(
            event_id="evt_1", source="connect", merchant_id=m, type="checkout.session.expired",
            livemode=True, created_at=T0, payload=body, status="processed",
        )
    )  # fmt: skip
    portal_db.session.commit()
    page = "/subscriptions/customer?email=ola@example.com"
    token = csrf_token(client, page)
    refused = client.post(
        "/subscriptions/customer/erase", data={"email": "ola@example.com", "csrf_token": token}
    )
    assert refused.status_code == 400 and "Tick the box" in refused.get_data(as_text=True)
    assert '<details class="erase" id="erase" open>' in refused.get_data(as_text=True)
    assert 'action="/subscriptions/customer/erase#erase"' in client.get(page).get_data(
        as_text=True
    )
    done = client.post(
        "/subscriptions/customer/erase",
        data={"email": "ola@example.com", "confirm": "y", "csrf_token": token},
    )
    assert done.status_code == 303 and done.location.endswith("/subscriptions")
    s = portal_db.session
    s.expire_all()
    assert s.scalar(select(func.count()).select_from(Contact)) == 0
    assert s.scalar(select(func.count()).select_from(ConsentChange)) == 0
    checkout = s.scalars(select(CheckoutSession)).one()
    assert checkout.email is None and checkout.customer_name is None
    assert s.scalars(select(EmailSend)).one().to_address.startswith("erased:")
    scrubbed = s.scalars(select(StripeEvent)).one().payload
    for held in ("ola", "nordmann", "4712345678", "storgata", "oslo"):
        assert held not in scrubbed.lower()
    kept = json.loads(scrubbed)
    assert kept["customer_details"]["email"] == "erased@erased.invalid"
    assert kept["metadata"]["note"] == "for erased@erased.invalid" and kept["amount_total"] == 2750
    assert s.scalars(select(ErasedAddress)).one().merchant_id == m
    secret = app.config["SECRET_KEY"]
    with app.app_context():
        assert erasure.is_erased(m, " OLA@example.com", secret)
        assert not erasure.is_erased(m, "kari@example.com", secret)
    after = client.get(page).get_data(as_text=True)
    assert "This address was erased on request" in after and "Unsubscribe</button>" not in after
    assert "Erased on request" in after and "Erase ola@example.com" not in after
    # A stale tab's form cannot bring the address back.
    again = {"email": "ola@example.com", "status": "subscribed", "csrf_token": token}
    refused = client.post("/subscriptions/customer/status", data=again, follow_redirects=True)
    assert "ola@example.com was erased on request" in refused.get_data(as_text=True)
    assert s.scalar(select(func.count()).select_from(Contact)) == 0
    assert _addresses(_listing(client, q="ola")) == []
    for bad in ("", "x" * 300 + "@example.com"):
        refused = client.post(
            "/subscriptions/customer/erase",
            data={"email": bad, "confirm": "y", "csrf_token": token},
            follow_redirects=True,
        )
        assert "That is not a complete email address: nothing was erased." in refused.get_data(
            as_text=True
        )


def test_an_erased_address_with_a_later_checkout_never_reads_as_subscribed(app, client, owner):
    m = owner.merchant_id
    _ledger(m, "ola@example.com", "subscribed", "checkout_session", "cs_live_1", T0)
    with app.app_context():
        merchant = portal_db.session.get(Merchant, m)
        subscriptions.erase(merchant, "ola@example.com", app.config["SECRET_KEY"])
        portal_db.session.commit()
    _cart(m, "ola@example.com", "cs_live_2", sent=False)  # she checks out again, ticking the box
    # A contact held from before checkouts stopped recording consent for erased addresses.
    _ledger(m, "ola@example.com", "subscribed", "checkout_session", "cs_live_2", T0)
    html = client.get("/subscriptions/customer?email=ola@example.com").get_data(as_text=True)
    status = html.split('id="status-heading"')[1].split("</section>")[0]
    assert "Erased on request: never emailed" in status and "Subscribed" not in status
    assert "What Stripe reported since (a new checkout) is listed below" in status
    assert "only a keyed hash" not in status
    assert "Erase ola@example.com" in html  # erasing again removes what came since


def test_only_the_owner_erases(client, owner, login):
    _contacts(owner.merchant_id, ["ola@example.com"])
    member = make_member(owner.merchant_id, "kim@bean.example")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login(client, member.email, PASSWORD)
    page = "/subscriptions/customer?email=ola@example.com"
    html = client.get(page).get_data(as_text=True)
    assert "Only the owner can erase" in html
    data = {"email": "ola@example.com", "confirm": "y", "csrf_token": csrf_token(client, page)}
    assert client.post("/subscriptions/customer/erase", data=data).status_code == 403
    assert portal_db.session.scalar(select(func.count()).select_from(Contact)) == 1


def test_posts_need_the_csrf_token(client, owner):
    _contacts(owner.merchant_id, ["ola@example.com"])
    data = {"email": "ola@example.com", "status": "unsubscribed", "confirm": "y"}
    assert client.post("/subscriptions/customer/status", data=data).status_code == 400
    assert client.post("/subscriptions/customer/erase", data=data).status_code == 400
    assert portal_db.session.scalar(select(Contact.status)) == "subscribed"


def test_the_list_answers_with_a_trailing_slash_too(client, owner):
    response = client.get("/subscriptions/?q=ola")
    assert response.status_code == 301 and response.location.endswith("/subscriptions?q=ola")
    # Nothing else of the query string reaches url_for: no method, scheme or host of its choosing.
    for query in ("_method=POST", "_external=1", "_scheme=https", "_anchor=x"):
        response = client.get(f"/subscriptions/?q=ola&{query}", headers={"Host": "evil.example"})
        assert response.status_code == 301
        assert response.location == "/subscriptions?q=ola", query


def test_a_shopper_who_unsubscribed_themselves_is_subscribed_again_only_when_they_asked(
    client, owner
):
    _ledger(owner.merchant_id, "ola@example.com", "unsubscribed", "one_click", "e1", T0)
    page = "/subscriptions/customer?email=ola@example.com"
    html = client.get(page).get_data(as_text=True)
    assert "They asked me to subscribe them again" in html
    data = {"email": "ola@example.com", "status": "subscribed"}
    data["csrf_token"] = csrf_token(client, page)
    refused = client.post("/subscriptions/customer/status", data=data, follow_redirects=True)
    assert "unsubscribed themselves: subscribe them again only when they ask" in refused.get_data(
        as_text=True
    )
    assert _status(owner, "ola@example.com") == "unsubscribed"
    asked = client.post("/subscriptions/customer/status", data={**data, "asked_again": "y"})
    assert asked.status_code == 303 and _status(owner, "ola@example.com") == "subscribed"


def _status(owner, email: str) -> str:
    portal_db.session.expire_all()
    contact = portal_db.session.scalar(
        select(Contact).where(Contact.merchant_id == owner.merchant_id, Contact.email == email)
    )
    return contact.status
