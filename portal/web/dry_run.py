"""Dry runs: try candidate sending settings on past carts. The form starts a background replay
of the rules (nothing is sent); its page follows the job, then compares what would have been
sent and skipped, by reason, with what actually happened."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from redis.exceptions import RedisError
from wtforms import BooleanField, FieldList, FormField
from wtforms.validators import InputRequired

from portal import db, jobs
from portal.extensions import rq
from portal.models import DryRun, DryRunStatus
from portal.services import carts, dry_run, dry_run_views, replay, zone_table
from portal.services.rules import MAX_STEPS, Reason
from portal.tenancy import current_merchant, get_owned_or_404
from portal.web.filters import day, merchant_zone
from portal.web.forms import DayField
from portal.web.settings_form import TEST_MODE_WORDS, DelayForm, RuleFields

bp = Blueprint("dry_run", __name__, url_prefix="/dry-runs")
DEFAULT_DAYS = 30
STATUS_WORDS = {
    DryRunStatus.QUEUED: "Waiting to start",
    DryRunStatus.RUNNING: "Replaying past carts",
    DryRunStatus.DONE: "Finished",
    DryRunStatus.FAILED: "Failed",
}
# Every outcome of a cart, in the order the results list them.
OUTCOMES = {
    replay.EMAILED: "Emailed",
    **{str(reason): words for reason, words in carts.REASONS.items()},
    replay.RECOVERED: "Bought before any email was due",
    str(Reason.SEQUENCE_FINISHED): "Every email failed or bounced",
    replay.WAITING: "First email due after now (for example after quiet hours)",
}


class DryRunForm(RuleFields):
    since = DayField("From", validators=[InputRequired("Choose the first day.")])
    until = DayField("To", validators=[InputRequired("Choose the last day.")])
    steps = FieldList(FormField(DelayForm), min_entries=MAX_STEPS, max_entries=10)
    as_enabled = BooleanField("Treat recovery emails as on")

    def candidate(self) -> tuple[dry_run.Candidate, list[int]]:
        """The typed settings, and the form row each step came from (empty rows left out)."""
        rows = self.step_rows()
        steps = tuple(self.steps[i].minutes() for i in rows)
        candidate = dry_run.Candidate(
            steps=steps, as_enabled=self.as_enabled.data, **self.rule_values()
        )
        return candidate, rows


@bp.context_processor
def _words() -> dict:
    return {
        "period": period_words,
        "steps_words": steps_words,
        "run_zone": run_zone,
        "candidate_of": dry_run.Candidate.of,
    }


def period_words(run: DryRun) -> str:
    """The run's period as the merchant chose it: "Jun 1, 2026 to Jun 30, 2026", in the time
    zone the run was made in (the merchant's may have changed since)."""
    zone = run_zone(run)
    first, after = run.since.astimezone(zone).date(), run.until.astimezone(zone).date()
    return f"{day(first)} to {day(after - timedelta(days=1))}"


def steps_words(steps: list[int]) -> str:
    """When a run's emails go: "at expiry, 1 h, 90 min after expiry", or "No email"."""
    if not steps:
        return "No email"
    later = [f"{m // 60} h" if m % 60 == 0 else f"{m} min" for m in steps if m]
    first = ["at expiry"] if steps[0] == 0 else []
    words = ", ".join(first + later) + (" after expiry" if later else "")
    return words[0].upper() + words[1:]


def run_zone(run: DryRun):
    """The time zone a run was made in: its days and quiet hours are that zone's."""
    return zone_table.zone(run.settings.get("timezone"))


def _today():
    return datetime.now(merchant_zone()).date()


def _form_data(candidate: dry_run.Candidate) -> dict:
    """What the form shows first: the last 30 days, and the stored settings."""
    today = _today()
    steps = [
        {"delay": m // 60, "unit": "hours"} if m and m % 60 == 0 else {"delay": m}
        for m in candidate.steps
    ]
    return {
        **vars(candidate),
        "since": today - timedelta(days=DEFAULT_DAYS - 1),
        "until": today,
        "steps": steps,
        "quiet_start": "" if candidate.quiet_start is None else str(candidate.quiet_start),
        "quiet_end": "" if candidate.quiet_end is None else str(candidate.quiet_end),
    }


def _page(form: DryRunForm, failed: bool = False, refused: str | None = None) -> str:
    return render_template(
        "dry_run/index.html",
        form=form,
        failed=failed,
        refused=refused,
        runs=dry_run_views.recent(current_merchant()),
        status_words=STATUS_WORDS,
        max_days=dry_run.MAX_DAYS,
    )


@bp.route("/", methods=["GET", "POST"])
@login_required
def index():
    if request.method == "POST":
        return _start()
    return _page(DryRunForm(formdata=None, data=_form_data(dry_run.current(current_merchant()))))


def _start():
    """Check the form, then queue the dry run; a refusal shows why, beside the field."""
    form = DryRunForm()
    typed = form.validate_on_submit()
    candidate, rows = form.candidate()
    # Every problem at once: the service's too, even when a field of the form's own is wrong.
    problems = dry_run.problems(candidate, form.since.data, form.until.data, _today())
    if problems or not typed:
        form.show(problems, rows)
        return _page(form, failed=True), 400
    try:
        run = dry_run.start(
            current_merchant(), current_user, candidate, form.since.data, form.until.data
        )
    except dry_run.Refused as refusal:
        db.session.rollback()
        return _page(form, refused=str(refusal)), 409
    db.session.commit()
    _enqueue(run)
    return redirect(url_for(".show", run_id=run.id), 303)


def _enqueue(run: DryRun) -> None:
    """Hand the dry run to the worker; when Redis refuses, the dry run says so."""
    try:
        jobs.enqueue_retried(rq.queue("default"), jobs.run_dry_run, run.id)
    except RedisError:
        dry_run.not_queued(run)
        db.session.commit()


@bp.route("/<id:run_id>")
@login_required
def show(run_id: int):
    return render_template("dry_run/show.html", **_context(run_id))


@bp.route("/<id:run_id>/progress")
@login_required
def progress(run_id: int):
    """The progress and the results alone (htmx polls this while the job runs)."""
    return render_template("dry_run/_progress.html", **_context(run_id))


def _context(run_id: int) -> dict:
    run = get_owned_or_404(DryRun, run_id)
    results = run.results or {}
    kinds = set(results.get("would", {})) | set(results.get("actual", {}))
    return {
        "run": run,
        "running": run.status in dry_run.ACTIVE,
        "candidate": dry_run.Candidate.of(run.settings),
        "results": results,
        "rows": [k for k in OUTCOMES if k in kinds] + sorted(kinds - set(OUTCOMES)),
        "outcomes": OUTCOMES,
        "examples": dry_run_views.examples(run),
        "status_words": STATUS_WORDS,
        "test_mode_words": TEST_MODE_WORDS,
    }
