"""Background work whose worker died under it: an import or a dry run still marked running
that has not moved for STALL. Its job is queued again; it resumes from its cursor, and should
the first job in fact still be moving, the cursor check lets only one of them go on."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select

from portal import db
from portal.models import CsvImport, DryRun, DryRunStatus, ImportStatus

# A batch takes about a second: five minutes without one is a process that is gone.
STALL = timedelta(minutes=5)


def claim_stalled(now: datetime) -> tuple[list[int], list[int]]:
    """The ids of the running imports and dry runs that have not moved for STALL, each marked
    as moved now, so that the next sweep gives its new job STALL again. The caller commits,
    then queues them."""
    before = now - STALL
    imports = _stalled(CsvImport, ImportStatus.RUNNING, before)
    runs = _stalled(DryRun, DryRunStatus.RUNNING, before)
    for row in (*imports, *runs):
        row.touched_at = now
    return [row.id for row in imports], [row.id for row in runs]


def _stalled(model, running: str, before: datetime) -> list:
    return list(
        db.session.scalars(
            select(model)
            .where(
                model.status == running,
                or_(model.touched_at < before, model.touched_at.is_(None)),
            )
            .with_for_update(skip_locked=True)
        )
    )
