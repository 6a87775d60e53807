"""Who made each consent change, in words, and for one from a CSV file when it was uploaded:
read from the ledger's references (a manual change's "user:<id>:<time>"; a CSV row's
"import:<id>:<line>", or "<sha256[:16]>:<line>" as uploads were referred to before)."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import func, select

from portal import db
from portal.models import ConsentChange, ConsentSource, CsvImport, Merchant, User

# Who a change from each source comes from, when no team member or upload is named.
FROM = {
    ConsentSource.CHECKOUT_SESSION: "The shopper",
    ConsentSource.CSV: "A CSV upload",
    ConsentSource.UNSUBSCRIBE_LINK: "The shopper",
    ConsentSource.ONE_CLICK: "The shopper's mail app",
    ConsentSource.MANUAL: "A former team member",
    ConsentSource.BOUNCE: "The mail server",
    ConsentSource.COMPLAINT: "The mail server",
}
IMPORT_REF = "import:{}:"  # a CSV row's reference, before its line
ASKED = ":asked"  # ends a manual change's reference when the shopper asked to be subscribed


class Author(NamedTuple):
    """Who made a change, in words; for a CSV row, when its file was uploaded and its import."""

    who: str
    uploaded_at: datetime | None = None
    import_id: int | None = None


def of(merchant: Merchant, changes: list[ConsentChange]) -> list[Author]:
    """Who made each change: the team member's address for a manual one, who uploaded the
    file, its name and the line for a CSV one (with the upload's time and import), else who
    such a source always is."""
    ids = {_user_id(c) for c in changes} - {None}
    stmt = select(User.id, User.email).where(User.merchant_id == merchant.id, User.id.in_(ids))
    users = dict(db.session.execute(stmt).all()) if ids else {}
    uploads = _uploads(merchant, [c.source_ref for c in changes if c.source == ConsentSource.CSV])
    return [
        Author(
            users[_user_id(c)] + (" (the shopper asked)" if c.source_ref.endswith(ASKED) else "")
        )
        if _user_id(c) in users
        else _upload_words(uploads, c.source_ref)
        if c.source == ConsentSource.CSV and _upload_key(c.source_ref) in uploads
        else Author(FROM.get(c.source, "—"))
        for c in changes
    ]


def _upload_key(ref: str) -> str:
    """The upload a CSV row's reference names: its import's "import:<id>", or a file's hash."""
    return ref.rpartition(":")[0]


def _uploads(merchant: Merchant, refs: list[str]) -> dict[str, tuple]:
    """The uploads `refs` name: (file name, uploader, uploaded at, id), by _upload_key; one named
    by its file's hash is that file's first upload (the one that applied its rows)."""
    keys = {_upload_key(ref) for ref in refs}
    ids = {int(k[7:]) for k in keys if k.startswith("import:") and k[7:].isdigit()}
    hashes = keys - {f"import:{i}" for i in ids}
    if not keys:
        return {}
    # Both ways at once: the OR of two indexed lookups, on the merchant's imports only.
    named = CsvImport.id.in_(ids) | func.substr(CsvImport.sha256, 1, 16).in_(hashes)
    stmt = (
        select(
            CsvImport.id, CsvImport.sha256, CsvImport.filename, User.email, CsvImport.created_at
        )
        .outerjoin(User, User.id == CsvImport.user_id)
        .where(CsvImport.merchant_id == merchant.id, named)
        .order_by(CsvImport.id.desc())
    )
    found = {}
    for id_, sha, name, email, at in db.session.execute(stmt):
        found[sha[:16]] = found[f"import:{id_}"] = (name, email, at, id_)
    return found


def _upload_words(uploads: dict, ref: str) -> Author:
    name, email, at, import_id = uploads[_upload_key(ref)]
    line = ref.rpartition(":")[2]
    return Author(f"{email or 'A former team member'}: “{name}”, line {line}", at, import_id)


def _user_id(change: ConsentChange) -> int | None:
    kind, _, rest = change.source_ref.partition(":")
    number = rest.partition(":")[0]
    return (
        int(number)
        if change.source == ConsentSource.MANUAL and kind == "user" and number.isdigit()
        else None
    )
