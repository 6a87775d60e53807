"""The email editor's versions: each save, reset, conflicts, steps, and who may save."""

from __future__ import annotations

import html
import re

from factories import PASSWORD, make_member, make_owner
from helpers import csrf_token, post_form
from portal.mail.content import DEFAULT_CONTENT
from portal.services import onboarding, settings
from portal.web.editor import HISTORY
from editor_kit import TEXT_FIELDS, VALID, frames, sent_tests, text_part, versions


def test_owner_and_member_see_the_editor_of_the_first_email(client, app, owner, login):
    assert client.get("/email").headers["Location"].endswith("/email/1")
    page = client.get("/email/1").get_data(as_text=True)
    assert set(frames(page)) == {"frame-desktop", "frame-mobile"}
    assert 'value="You left something in your cart at {merchant_name}"' in page
    assert 'maxlength="150"' in page and ">Save</button>" in page
    assert "Reset to the default email" in page and "owner@example.com" in page
    assert page.count('data-insert="{cart_total}"') == len(TEXT_FIELDS)
    assert 'hx-post="/email/1/preview"' in page and "htmx-2.0.11.min.js" in page

    make_member(owner.merchant_id, "member@example.com")
    other = app.test_client()
    login(other, "member@example.com", PASSWORD)
    page = other.get("/email/1").get_data(as_text=True)
    assert "Only the account’s owner can save changes" in page
    assert ">Save</button>" not in page and "Reset to the default email" not in page
    assert len(frames(page)) == 2 and "Send test email" in page


def test_each_save_is_a_new_version(client, db, owner):
    assert not _email_step_done(db, owner)
    home = html.unescape(client.get("/").get_data(as_text=True))
    assert "Until you save it, a clear default email" in home
    response = post_form(client, "/email/1", VALID, follow_redirects=True)
    assert "Saved as version 1." in response.get_data(as_text=True)
    response = post_form(client, "/email/1", {**VALID, "headline": "Come back"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/email/1")
    stored = versions(db, owner.merchant_id)
    assert [(v.number, v.headline, v.is_reset) for v in stored] == [
        (1, DEFAULT_CONTENT.headline, False),
        (2, "Come back", False),
    ]
    assert stored[0].brand_color == "#0f7b4b" and stored[1].created_by_id == owner.id
    page = client.get("/email/1").get_data(as_text=True)
    assert 'value="Come back"' in page and "In use" in page and "owner@example.com" in page
    assert _changed(page) == ["Headline", "First version"]  # what each changed, newest first
    assert _email_step_done(db, owner)
    home = html.unescape(client.get("/").get_data(as_text=True))  # the step says it is done
    assert "Until you save it" not in home and "Your saved email is the one that goes out" in home
    # Saving what is already in use adds no copy to the history (a colour's case aside).
    again = {**VALID, "headline": "Come back", "brand_color": "#0F7B4B"}
    response = post_form(client, "/email/1", again, follow_redirects=True)
    assert "Nothing changed: version 2 is still the one in use." in response.get_data(as_text=True)
    assert len(versions(db, owner.merchant_id)) == 2


def _email_step_done(db, owner) -> bool:
    db.expire_all()
    merchant = db.get(type(owner.merchant), owner.merchant_id)
    return next(s for s in onboarding.checklist(merchant) if s.key == "email").done


def test_reset_saves_the_default_as_a_new_version(client, db, owner):
    post_form(client, "/email/1", {**VALID, "headline": "Mine"})
    response = post_form(client, "/email/1/reset", {}, page="/email/1", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Back to the default email, saved as version 2." in page
    assert f'value="{DEFAULT_CONTENT.headline}"' in page and "reset to default" in page
    latest = versions(db, owner.merchant_id)[-1]
    assert latest.is_reset and latest.headline == DEFAULT_CONTENT.headline


def test_a_member_may_not_save_or_reset(client, app, db, owner, login):
    make_member(owner.merchant_id, "member@example.com")
    member = app.test_client()
    login(member, "member@example.com", PASSWORD)
    assert post_form(member, "/email/1", VALID).status_code == 403
    refused = post_form(member, "/email/1/reset", {}, page="/email/1")
    assert refused.status_code == 403  # and the page says whose change it is
    assert "saving or resetting the recovery email" in refused.get_data(as_text=True)
    assert versions(db, owner.merchant_id) == []


def test_steps_beyond_the_sequence_are_not_found(client, db, owner):
    for path in ("/email/0", "/email/2", "/email/4", "/email/tests?step=2"):
        assert client.get(path).status_code == 404, path
    assert post_form(client, "/email/2/preview", VALID, page="/email/1").status_code == 404
    assert post_form(client, "/email/2/test", VALID, page="/email/1").status_code == 404
    sending = settings.settings_for(owner.merchant_id)
    sending.steps = [
        {"delay_minutes": 0, "promotion": False},
        {"delay_minutes": 1440, "promotion": True},
    ]
    db.commit()
    page = client.get("/email/2").get_data(as_text=True)
    assert "Email 2" in page and "Follow-up 1" not in page and "Your cart is still here" in page
    assert "THANKS-7K2Q" in text_part(page)  # the sample promotion code of a step with one
    off = client.get("/email/3")
    assert off.status_code == 404
    words = html.unescape(off.get_data(as_text=True))
    assert "Email 3 is not in your sequence" in words and "Your sequence has 2 emails." in words
    assert "is not in your sequence" not in client.get("/email/4").get_data(as_text=True)


def test_another_merchant_sees_and_changes_none_of_it(client, app, db, owner, login, redis_conn):
    post_form(client, "/email/1", {**VALID, "headline": "Acme own words"})
    post_form(client, "/email/1/test", VALID, page="/email/1")
    rival = make_owner("Rival", "rival@example.com")
    other = app.test_client()
    login(other, "rival@example.com", PASSWORD)
    page = other.get("/email/1").get_data(as_text=True)
    assert "Acme own words" not in page and "owner@example.com" not in page
    assert "Not saved yet" in page and "No test email sent yet." in page
    assert "owner@example.com" not in other.get("/email/tests?step=1").get_data(as_text=True)
    post_form(other, "/email/1", {**VALID, "headline": "Rival words"})
    post_form(other, "/email/1/reset", {}, page="/email/1")
    assert [v.number for v in versions(db, rival.merchant_id)] == [1, 2]
    assert [v.headline for v in versions(db, owner.merchant_id)] == ["Acme own words"]
    assert len(sent_tests(db, owner.merchant_id)) == 1


def test_a_save_over_a_version_saved_meanwhile_is_refused_and_keeps_the_text(client, db, owner):
    assert 'name="base" type="hidden" value="0"' in client.get("/email/1").get_data(as_text=True)
    mine = {**VALID, "base": "0", "headline": "My headline"}
    theirs = {**VALID, "base": "0", "subject": "Their subject"}
    assert post_form(client, "/email/1", theirs).status_code == 302  # another tab saves first
    refused = post_form(client, "/email/1", mine)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 409 and "version 1 was saved while you were editing" in page
    assert 'value="My headline"' in page and 'name="base" type="hidden" value="1"' in page
    assert [v.subject for v in versions(db, owner.merchant_id)] == ["Their subject"]
    again = post_form(client, "/email/1", {**mine, "base": "1"})  # saved knowingly
    assert again.status_code == 302
    assert [v.headline for v in versions(db, owner.merchant_id)][-1] == "My headline"
    twice = post_form(client, "/email/1", {**mine, "base": "1"}, follow_redirects=True)
    assert "Nothing changed: version 2 is still the one in use" in twice.get_data(as_text=True)


def test_a_save_whose_page_version_is_missing_or_crafted_is_refused_not_written_over(
    client, db, owner
):
    """A browser always sends the version its page showed; a request without one, or with
    one that names no version in use, must not replace what is stored unseen."""
    assert post_form(client, "/email/1", {**VALID, "base": ""}).status_code == 302  # none yet
    for base in ["", "garbage", "-1", "0", "2", "9" * 400, "１"]:
        refused = post_form(client, "/email/1", {**VALID, "base": base, "headline": "Crafted"})
        page = refused.get_data(as_text=True)
        assert refused.status_code == 409, base
        # Only a page made before version 1 ("0") was edited while version 1 was saved.
        claims_later = "version 1 was saved while you were editing" in page
        assert claims_later == (base == "0"), base
        assert claims_later or "did not say which version it was editing" in page, base
    bare = {"csrf_token": csrf_token(client, "/email/1"), **VALID}
    refused = client.post("/email/1", data={**bare, "headline": "Crafted"})
    assert refused.status_code == 409
    assert "did not say which version it was editing" in refused.get_data(as_text=True)
    assert [v.number for v in versions(db, owner.merchant_id)] == [1]
    assert (
        post_form(client, "/email/1", {**VALID, "base": "1", "headline": "Mine"}).status_code
        == 302
    )


def test_an_earlier_version_opens_in_the_editor_and_saving_it_restores_it(
    client, app, db, owner, login
):
    post_form(client, "/email/1", {**VALID, "headline": "First words"})
    post_form(client, "/email/1", {**VALID, "headline": "Second words"})
    page = html.unescape(client.get("/email/1").get_data(as_text=True))
    assert 'href="/email/1?version=1"' in page and "You are looking at version" not in page
    opened = html.unescape(client.get("/email/1?version=1").get_data(as_text=True))
    assert 'value="First words"' in opened and "Second words" not in opened.split("Versions")[0]
    assert (
        "You are looking at version 1, saved" in opened
        and "The email in use is version 2" in opened
    )
    assert "it is saved as version 3" in opened and 'name="base" type="hidden" value="2"' in opened
    restored = post_form(
        client, "/email/1", {**VALID, "headline": "First words"}, "/email/1?version=1"
    )
    assert restored.status_code == 302
    assert [v.headline for v in versions(db, owner.merchant_id)][-1] == "First words"
    assert client.get("/email/1?version=3").status_code == 200  # the one in use: the editor
    assert "You are looking at" not in client.get("/email/1?version=3").get_data(as_text=True)
    assert client.get("/email/1?version=99").status_code == 404
    for malformed in ("abc", "0", "-1", "1.5", "9" * 30, "1" * 5000, "１", " 1", "1_0"):
        assert client.get(f"/email/1?version={malformed}").status_code == 404, malformed[:9]
    none_asked = client.get("/email/1?version=")  # an empty field: the one in use
    assert none_asked.status_code == 200
    assert "You are looking at" not in none_asked.get_data(as_text=True)
    assert client.get("/email/2?version=1").status_code == 404  # no such email, or version
    make_owner("Rival", "rival@example.com")
    other = app.test_client()
    login(other, "rival@example.com", PASSWORD)
    assert other.get("/email/1?version=1").status_code == 404  # the rival has no version 1


def test_the_versions_list_says_what_each_version_changed(client, owner):
    first = {**VALID, "base": "0"}
    second = {**first, "subject": "New subject", "body": "New body", "brand_color": "#123456"}
    third = {**second, "button_label": "Back to my cart"}
    for number, form in enumerate([first, second, third]):
        assert post_form(client, "/email/1", {**form, "base": str(number)}).status_code == 302
    page = html.unescape(client.get("/email/1").get_data(as_text=True))
    assert _changed(page) == ["Button label", "Subject, body and colour", "First version"]
    for number in range(3, 3 + HISTORY):  # the oldest listed is read against one not listed
        again = {**third, "headline": f"Take {number}", "base": str(number)}
        assert post_form(client, "/email/1", again).status_code == 302
    page = html.unescape(client.get("/email/1").get_data(as_text=True))
    assert _changed(page) == ["Headline"] * HISTORY


def _changed(page: str) -> list[str]:
    return re.findall(r'<td data-label="Changed" class="words">([^<]*)</td>', page)
