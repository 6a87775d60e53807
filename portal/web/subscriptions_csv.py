"""Subscriptions as CSV in Stripe's format: the download (any team member), and the upload (the
owner), which stores the file and hands it to a job; the import's page follows the job."""

from __future__ import annotations


from flask import (
    Blueprint,
    Response,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user, login_required
from redis.exceptions import RedisError
from werkzeug.exceptions import RequestEntityTooLarge

from portal import db, jobs
from portal.db import utcnow
from portal.extensions import csrf, rq
from portal.models import CsvImport, ImportStatus
from portal.services import consent_csv, consent_export, csv_files, csv_imports, stalled
from portal.tenancy import current_merchant, get_owned_or_404, owner_required
from portal.web.query import query_id
from portal.web.filters import merchant_zone

bp = Blueprint("subscriptions_csv", __name__)
SHOWN_REJECTS = 100
# The form around the file may add a little to the request beyond the file itself.
UPLOAD_LIMIT = consent_csv.CSV_MAX_BYTES + 1024 * 1024
STATUS_WORDS = {
    ImportStatus.QUEUED: "Waiting to start",
    ImportStatus.RUNNING: "Importing",
    ImportStatus.DONE: "Finished",
    ImportStatus.FAILED: "Failed",
}


@bp.route("/subscriptions/export.csv")
@login_required
def export():
    """Every address's status in Stripe's CSV format, streamed as it is read."""
    merchant = current_merchant()
    name = f"subscriptions-{utcnow().astimezone(merchant_zone()):%Y-%m-%d}.csv"
    return Response(
        stream_with_context(consent_export.export_chunks(merchant)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.route("/subscriptions/import")
@login_required
def upload():
    return _upload_page()


IMPORTS_SHOWN = 10  # imports listed a page


def _upload_page(error: str | None = None, status: int = 200):
    before = query_id("before")
    imports = csv_imports.recent(current_merchant(), IMPORTS_SHOWN + 1, before)
    return render_template(
        "subscriptions_csv/upload.html",
        error=error,
        imports=imports[:IMPORTS_SHOWN],
        older=imports[IMPORTS_SHOWN - 1].id if len(imports) > IMPORTS_SHOWN else None,
        before=before,
        status_words=STATUS_WORDS,
        limit_mb=consent_csv.CSV_MAX_BYTES // 2**20,
    ), status


@bp.post("/subscriptions/import")
@csrf.exempt  # checked below, once the larger body limit of an upload is in place
@login_required
@owner_required
def start():
    """Store the uploaded file and queue its import; a refused file shows why, beside the form."""
    request.max_content_length = UPLOAD_LIMIT
    # Receiving the file may take minutes: no transaction may stay open meanwhile (on SQLite a
    # form's first query takes the write lock, which would hold every other writer until then).
    db.session.rollback()
    try:
        csrf.protect()
        upload = request.files.get("file")
    except RequestEntityTooLarge:
        return _upload_page(csv_files.too_big(), 413)
    if upload is None or not upload.filename:
        return _upload_page("Choose a CSV file to upload.", 400)
    try:
        imp = csv_imports.start_import(
            current_merchant(), current_user, upload.filename, upload.stream
        )
    except consent_csv.RefusedFile as refusal:
        db.session.rollback()
        return _upload_page(str(refusal), 400)
    db.session.commit()
    _enqueue(imp)
    return redirect(url_for(".show", import_id=imp.id), 303)


def _enqueue(imp: CsvImport) -> None:
    """Hand the import to the worker; when Redis refuses, the import says so (upload again)."""
    try:
        jobs.enqueue_retried(rq.queue("default"), jobs.process_csv_import, imp.id)
    except RedisError:
        error = "The import could not be queued just now: please upload the file again."
        csv_imports.finish(imp, ImportStatus.FAILED, error)
        db.session.commit()


@bp.route("/subscriptions/imports/<id:import_id>")
@login_required
def show(import_id: int):
    return render_template("subscriptions_csv/show.html", **_progress_context(import_id))


@bp.route("/subscriptions/imports/<id:import_id>/progress")
@login_required
def progress(import_id: int):
    """The progress and the rejected rows alone (htmx polls this while the job runs)."""
    return render_template("subscriptions_csv/_progress.html", **_progress_context(import_id))


def _progress_context(import_id: int) -> dict:
    imp = get_owned_or_404(CsvImport, import_id)
    running = imp.status in (ImportStatus.QUEUED, ImportStatus.RUNNING)
    moved = imp.touched_at or imp.created_at
    return {
        "imp": imp,
        "running": running,
        # Minutes without progress: a stopped worker's import is started again by itself.
        "still_minutes": int((utcnow() - moved).total_seconds() // 60) if running else 0,
        "stall_minutes": int(stalled.STALL.total_seconds() // 60),
        "rejects": csv_imports.rejects(imp, limit=SHOWN_REJECTS),
        "shown_rejects": SHOWN_REJECTS,
        "status_words": STATUS_WORDS,
        "erased_reason": csv_imports.ERASED,
    }


@bp.route("/subscriptions/imports/<id:import_id>/rejects.csv")
@login_required
def rejects(import_id: int):
    """Every rejected row of an import, in Stripe's format (its address, status and date cells)
    followed by its line and the reason."""
    imp = get_owned_or_404(CsvImport, import_id)
    name = f"import-{imp.id}-rejected-rows.csv"
    return Response(
        stream_with_context(consent_export.reject_chunks(imp)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
