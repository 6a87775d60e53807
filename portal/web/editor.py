"""The email editor: each step's texts and look, a live preview from the one renderer with the
sample cart, test emails to the signed-in user, and the versions saved. Everyone on the team may
edit, preview and send themselves a test; only the owner saves or resets.

Steps are 1-based in URLs ("/email/1" is the first email) and 0-based in the services."""

from __future__ import annotations

from dataclasses import fields

from flask import Blueprint, abort, current_app, flash, make_response, redirect
from flask import render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from redis.exceptions import RedisError
from wtforms import HiddenField, StringField, TextAreaField

from portal import db, jobs
from portal.extensions import rq
from portal.mail import content as texts
from portal.mail import delivery
from portal.models import EmailVersion, TestSendStatus
from portal.services import connections, email_design, email_preview, settings, test_sends
from portal.services.rules import MAX_STEPS
from portal.tenancy import current_merchant, owner_required
from portal.web import editor_words as words
from portal.web.query import query_id
from portal.web.forms import strip, unix_lines

bp = Blueprint("editor", __name__)
HISTORY = 10  # versions listed under the editor
RECENT_TESTS = 5  # test emails listed under the editor
PROMOTION_CODE = "{promotion_code}"
WAITING = (TestSendStatus.QUEUED, TestSendStatus.SENDING)  # the list is asked for again


class EditorForm(FlaskForm):
    subject = StringField("Subject", filters=[strip])
    preheader = StringField("Preheader", filters=[strip])
    headline = StringField("Headline", filters=[strip])
    body = TextAreaField("Body", filters=[unix_lines, strip])
    button_label = StringField("Button label", filters=[strip])
    footer = TextAreaField("Footer", filters=[unix_lines, strip])
    logo_url = StringField("Logo URL", filters=[strip])
    brand_color = StringField("Brand colour", filters=[strip])
    base = HiddenField()  # the version the page showed: a save over a later one is refused

    def design(self) -> email_design.Design:
        """The design as typed; checked by email_design.problems, never here."""
        content = texts.Content(**{f.name: self[f.name].data or "" for f in fields(texts.Content)})
        return email_design.Design(
            content, self.logo_url.data or None, self.brand_color.data or ""
        )

    def show(self, problems: list[tuple[str, str]]) -> None:
        """Put each problem beside its field."""
        for name, message in problems:
            self[name].errors = [*self[name].errors, message]


def _form_for(design: email_design.Design, base: int = 0) -> EditorForm:
    """The form filled from a stored design (version number `base`), whatever was posted."""
    data = {f.name: getattr(design.content, f.name) for f in fields(texts.Content)}
    data.update(logo_url=design.logo_url or "", brand_color=design.brand_color or "", base=base)
    return EditorForm(formdata=None, data=data)


def _step_index(step: int) -> int:
    """The services' 0-based step for the URL's 1-based `step`; 404 beyond the sequence, in
    words for an email the sequence could have but does not (yet)."""
    count = email_design.step_count(settings.settings_for(current_merchant().id))
    if 1 <= step <= count:
        return step - 1
    if 1 <= step <= MAX_STEPS:
        abort(make_response(render_template("editor/off.html", step=step, count=count), 404))
    abort(404)


@bp.route("/email")
@login_required
def index():
    return redirect(url_for("editor.edit", step=1))


@bp.route("/email/<int:step>", methods=["GET", "POST"])
@login_required
def edit(step: int):
    index = _step_index(step)
    if request.method == "POST":  # members may edit and preview, only the owner save
        return _save(index)
    merchant = current_merchant()
    version = email_design.current(merchant.id, index)
    opened = _opened(index, version)
    design = email_design.design_of(opened or version, settings.settings_for(merchant.id), index)
    # The base stays the version in use: saving an older version opened here restores it.
    return _page(index, _form_for(design, version.number if version else 0), opened=opened)


def _opened(index: int, version: EmailVersion | None) -> EmailVersion | None:
    """The earlier version ?version= asks to see in the editor (None: the one in use, or none
    asked); 404 for anything but a version number this merchant's email had."""
    if not request.args.get("version"):
        return None
    number = query_id("version") or abort(404)
    if version is not None and number == version.number:
        return None
    return email_design.numbered(current_merchant().id, index, number) or abort(404)


@owner_required
def _save(index: int):
    form = EditorForm()
    design = form.design()
    if not form.validate_on_submit() or email_design.problems(design):
        return _page(index, form, failed=True), 400
    if same := email_design.same_as_current(current_merchant().id, index, design):
        flash(f"Nothing changed: version {same.number} is still the one in use.", "info")
        return redirect(url_for("editor.edit", step=index + 1))
    if later := email_design.saved_after(current_merchant().id, index, form.base.data):
        flash(email_design.conflict_message(form.base.data, later), "error")
        form.base.data = str(later.number)  # saving again, knowingly, replaces it
        return _page(index, form), 409
    version = email_design.save(current_merchant(), current_user, index, design)
    db.session.commit()
    flash(f"Saved as version {version.number}.", "success")
    if _uses_code(design) and not email_preview.has_promotion(
        settings.settings_for(current_merchant().id), index
    ):
        flash(words.EMPTY_CODE.format(step=index + 1), "info")
    return redirect(url_for("editor.edit", step=index + 1))


@bp.route("/email/<int:step>/reset", methods=["POST"])
@owner_required
def reset(step: int):
    index = _step_index(step)
    merchant = current_merchant()
    sending = settings.settings_for(merchant.id)
    version = email_design.reset(merchant, current_user, sending, index)
    db.session.commit()
    flash(f"Back to the default email, saved as version {version.number}.", "success")
    return redirect(url_for("editor.edit", step=step))


# GET: a no-JS preview or test left this address in the bar; opened again, it is the editor.
@bp.route("/email/<int:step>/preview", methods=["GET", "POST"])
@login_required
def preview(step: int):
    """The preview of the posted values, nothing saved: just the preview region for htmx, the
    whole page for a browser without JavaScript (its Preview button)."""
    index = _step_index(step)
    if request.method == "GET":
        return redirect(url_for("editor.edit", step=step), code=303)
    form = EditorForm()
    if request.headers.get("HX-Request"):
        return render_template("editor/_preview.html", **_preview_context(index, form))
    return _page(index, form)


@bp.route("/email/<int:step>/test", methods=["GET", "POST"])
@login_required
def send_test(step: int):
    """Queue a test email of the posted values (checked as a save would be, not saved) to the
    signed-in user; 400 when the values have problems, 429 over the merchant's limit."""
    index = _step_index(step)
    if request.method == "GET":
        return redirect(url_for("editor.edit", step=step), code=303)
    form = EditorForm()
    design = form.design()
    if email_design.problems(design):
        return _test_answer(
            index, form, "Nothing was sent: first correct the problems the preview lists.", 400
        )
    if test_sends.just_asked(current_user, index, design):  # a double click: nothing more
        again = f"This test email was already queued for {current_user.email}: it goes out once."
        return _test_answer(index, form, again, 200)
    queued = test_sends.request(current_merchant(), current_user, index, design)
    if queued is None:
        return _test_answer(index, form, test_sends.refusal(current_merchant()) or "", 429)
    db.session.commit()
    refused = _enqueue(queued.id)
    if refused:
        return _test_answer(index, form, refused, 503)
    return _test_answer(index, form, f"Test email queued for {current_user.email}.", 200)


@bp.route("/email/tests")
@login_required
def tests():
    """The recent test emails (htmx polls this while one is queued)."""
    step = request.args.get("step", 1, type=int)
    return render_template("editor/_tests.html", **_tests_context(_step_index(step)))


def _enqueue(test_send_id: int) -> str | None:
    """Hand the test email to the worker; what to tell the user when Redis refuses it."""
    try:
        jobs.enqueue_retried(rq.queue("mail"), jobs.send_test_email, test_send_id)
    except RedisError as exc:
        current_app.logger.warning("test email %s not queued: %s", test_send_id, exc)
        test_sends.not_queued(test_send_id)
        db.session.commit()
        return "The test email could not be queued just now: please try again in a minute."
    return None


def _test_answer(index: int, form: EditorForm, notice: str, status: int):
    """The test emails' list for htmx, the whole page (the edits kept) otherwise."""
    if request.headers.get("HX-Request"):
        context = _tests_context(index, notice, refused=status != 200)
        return render_template("editor/_tests.html", **context, oob=True), status
    return _page(index, form, notice=notice, refused=status != 200), status


def _page(index: int, form: EditorForm, *, failed=False, notice=None, refused=False, opened=None):
    merchant = current_merchant()
    sending = settings.settings_for(merchant.id)
    # One more than listed: what the oldest listed changed is read against the one before it.
    versions = email_design.versions(merchant.id, index, HISTORY + 1)
    changed = words.what_changed(versions)
    versions = versions[:HISTORY]
    context = {
        **_tests_context(index, notice, refused),
        **_preview_context(index, form),
        "step_count": email_design.step_count(sending),
        "delay_minutes": email_design.delay_minutes(sending, index),
        "failed": failed,
        "versions": versions,
        "changed": changed,
        "opened": opened,
        "authors": email_design.authors(merchant.id, [*versions, *filter(None, [opened])]),
        "placeholders": words.PLACEHOLDER_WORDS,
        "limits": words.LIMITS,
    }
    return render_template("editor/edit.html", **context)


def _preview_context(index: int, form: EditorForm) -> dict:
    """The form's values rendered with the sample cart, or the problems that stop it (each is
    also put beside its field)."""
    merchant = current_merchant()
    sending = settings.settings_for(merchant.id)
    design = form.design()
    problems = email_design.problems(design)
    form.show(problems)
    promotion = email_preview.has_promotion(sending, index)
    rendered, nameless = None, []
    if not problems:
        sample = email_preview.Sample(current_app.config["PUBLIC_URL"], promotion)
        made = (merchant, sending, connections.connected_account(merchant), design, sample)
        rendered, nameless = email_preview.preview(*made), email_preview.without_name(*made)
    return {
        "form": form,
        "step": index + 1,
        "problems": problems,
        "rendered": rendered,
        "nameless": nameless,
        "sender": sending.sender_name or merchant.name,
        "promotion": promotion,
        "empty_code": not promotion and _uses_code(design),
        "empty_code_words": words.EMPTY_CODE.format(step=index + 1),
    }


def _uses_code(design) -> bool:
    """Whether the texts show {promotion_code}, which is empty in an email without a code."""
    return any(PROMOTION_CODE in getattr(design.content, f.name) for f in fields(design.content))


def _tests_context(index: int, notice: str | None = None, refused: bool = False) -> dict:
    recent = test_sends.recent(current_merchant(), RECENT_TESTS)
    return {
        "step": index + 1,
        "recent_tests": recent,
        "polling": any(t.status in WAITING for t in recent),
        "status_words": words.STATUS_WORDS,
        "outbox_detail": delivery.OUTBOX_DETAIL,
        "notice": notice,
        "refused": refused,
        "limit": test_sends.LIMIT,
        "daily_limit": test_sends.DAILY_LIMIT,
        "own_words": test_sends.OWN_WORDS,
        "window_minutes": int(test_sends.WINDOW.total_seconds() // 60),
    }
