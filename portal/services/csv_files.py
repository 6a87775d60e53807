"""An uploaded subscription CSV as the portal keeps it: checked and written to the database in
chunks as it arrives (never the whole file in memory), then read back line by line from any
byte offset, for an import that resumes where it stopped.

A file is refused, with a message a person can act on, when it is empty, too big, binary, in
another encoding than UTF-8, separated by semicolons or tabs, or lacks a required column. Lines
ending with a carriage return alone (an old Mac format) are stored ending with LF."""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Iterator
from typing import BinaryIO

from sqlalchemy import insert, select

from portal import db
from portal.models import CsvImportChunk
from portal.services.consent_csv import CSV_MAX_BYTES, HEADER, Columns, RefusedFile
from portal.services.consent_csv import column_name, read_header

CHUNK_BYTES = 1024 * 1024  # every stored chunk but the last holds exactly this many bytes
SAVE_AS = "Save it as “CSV UTF-8 (Comma delimited)” and upload that."
NOT_TEXT = (
    f"This is not a CSV text file: it holds binary data, like an image or a spreadsheet. {SAVE_AS}"
)
UTF16 = f"This file is in UTF-16 (what Excel calls “Unicode Text”), not UTF-8. {SAVE_AS}"
NOT_UTF8 = (
    "This file is not in UTF-8: it was probably saved in an older encoding, such as Excel's "
    f"plain “CSV (Comma delimited)”. {SAVE_AS}"
)
BINARY_SNIFF = 8192  # a NUL byte in a file's first bytes: an image, a spreadsheet, an archive
OTHER_SEPARATORS = {";": "semicolons", "\t": "tabs"}


def store(import_id: int, stream: BinaryIO) -> tuple[int, str]:
    """Write the stream as the import's chunks; (size, sha256 of the bytes received).
    RefusedFile when the file cannot be imported (see the module's docstring)."""
    digest, decoder = hashlib.sha256(), codecs.getincrementaldecoder("utf-8")()
    size = number = lines = 0  # lines: how many the chunks before this one ended
    cr_lines = False
    while chunk := _read_full(stream, CHUNK_BYTES):
        size += len(chunk)
        if size > CSV_MAX_BYTES:
            raise RefusedFile(too_big())
        digest.update(chunk)
        if number == 0:
            if chunk[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
                raise RefusedFile(UTF16)
            cr_lines = b"\r" in chunk and b"\n" not in chunk
        if cr_lines:  # the same number of bytes: every chunk stays CHUNK_BYTES long
            chunk = chunk.replace(b"\r", b"\n")
        text = _decode(decoder, chunk, lines, final=False)
        lines += chunk.count(b"\n")
        if number == 0:
            check_header(text)
            header_only = not text.lstrip("\ufeff").partition("\n")[2].strip()
        db.session.execute(
            insert(CsvImportChunk), {"import_id": import_id, "number": number, "data": chunk}
        )
        number += 1
    if size == 0:
        raise RefusedFile("The file is empty.")
    if number == 1 and header_only:  # one chunk, and nothing after its first line
        raise RefusedFile(
            "The file has its line of column names but no rows under it: nothing to import."
        )
    _decode(decoder, b"", lines, final=True)
    return size, digest.hexdigest()


def too_big() -> str:
    """What to do with a file over the limit."""
    return (
        f"The file is over the {CSV_MAX_BYTES // 2**20} MB limit: split it into smaller files, "
        "each starting with the line of column names, and upload them one after another."
    )


def _read_full(stream: BinaryIO, size: int) -> bytes:
    # A stream may return less than asked before its end: chunks must be full (see CHUNK_BYTES).
    parts, left = [], size
    while left and (part := stream.read(left)):
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _decode(decoder, chunk: bytes, lines_before: int, final: bool) -> str:
    """The chunk as text; RefusedFile naming the line of the first byte that is not text."""
    if (nul := chunk.find(b"\x00")) >= 0:
        # At its start, a binary file; unless a line of text with commas (a header) came first.
        if lines_before == 0 and nul < BINARY_SNIFF and not _header_before(chunk, nul):
            raise RefusedFile(UTF16 if _utf16(chunk[:BINARY_SNIFF]) else NOT_TEXT)
        line = lines_before + chunk.count(b"\n", 0, nul) + 1
        raise RefusedFile(
            f"Line {line} holds binary data (a NUL byte), which a CSV text file never has: "
            f"the file may be damaged. {SAVE_AS}"
        )
    try:
        return decoder.decode(chunk, final)
    except UnicodeDecodeError as exc:
        line = lines_before + chunk.count(b"\n", 0, max(exc.start, 0)) + 1
        raise RefusedFile(f"{NOT_UTF8} (The first such character is on line {line}.)") from exc


def _header_before(chunk: bytes, nul: int) -> bool:
    """Whether a whole first line of UTF-8 text with a comma (a header) comes before `nul`."""
    end = chunk.find(b"\n", 0, nul)
    try:
        return end >= 0 and b"," in chunk[:end] and chunk[:end].decode("utf-8") is not None
    except UnicodeDecodeError:
        return False


def _utf16(start: bytes) -> bool:
    # UTF-16 without its byte order mark: every other byte of the text's ASCII is a NUL.
    even, odd = start[0::2], start[1::2]
    return len(start) >= 8 and (even.count(0) == len(even) or odd.count(0) == len(odd))


def check_header(text: str) -> Columns:
    """The columns named by the first line of `text` (the start of a file, BOM allowed)."""
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise RefusedFile("The file is empty.")
    reader = csv.reader(io.StringIO(text, newline="\n"))
    try:
        cells = next(reader)
    except (csv.Error, StopIteration) as exc:
        raise RefusedFile("The first line of the file is not a CSV header.") from exc
    if reader.line_num > 1:  # a quoted name holds a line break: rows are read line by line
        raise RefusedFile(
            "A column name in the first line holds a line break: put the header on one line."
        )
    names = [column_name(cell) for cell in cells]
    for name in HEADER:
        if names.count(name.lower()) > 1:
            raise RefusedFile(f"The first line names the “{name}” column twice: keep one.")
    try:
        return read_header(cells)
    except RefusedFile:
        first = text.split("\n", 1)[0]
        if not first.strip() or first.strip().lower().startswith("sep="):
            what = "is empty" if not first.strip() else f"is “{first.strip()[:10]}”"
            raise RefusedFile(
                f"The first line {what}: delete it, so that the column names "
                f"({', '.join(HEADER)}) come first."
            ) from None
        for mark, name in OTHER_SEPARATORS.items():
            names = [cell.strip().strip('"').lower() for cell in first.split(mark)]
            if mark in first and HEADER[0].lower() in names:
                raise RefusedFile(
                    f"The columns of this file are separated by {name}, not commas. {SAVE_AS}"
                ) from None
        raise


def columns(import_id: int) -> Columns:
    """The columns of a stored file, from its first line."""
    first = db.session.scalar(
        select(CsvImportChunk.data).where(
            CsvImportChunk.import_id == import_id, CsvImportChunk.number == 0
        )
    )
    return check_header(first.split(b"\n", 1)[0].decode("utf-8-sig"))


class Lines:
    """The stored file's lines from byte `offset` on, decoded a chunk at a time (a line is split
    on LF bytes, never inside a UTF-8 character); `offset_after(n)` is the byte after the first
    n lines handed out, when the n-th was in the latest chunk read."""

    def __init__(self, import_id: int, offset: int) -> None:
        self.import_id, self.offset = import_id, offset
        self.block, self.block_start, self.block_first = b"", offset, 0

    def __iter__(self) -> Iterator[str]:
        number, skip = divmod(self.offset, CHUNK_BYTES)
        carry = b""
        while (data := self._chunk(number)) is not None:
            block = carry + data[skip:]
            cut = block.rfind(b"\n") + 1
            carry, skip, number = block[cut:], 0, number + 1
            if cut:
                yield from self._next_block(block[:cut])
        if carry:
            yield from self._next_block(carry)

    def _next_block(self, block: bytes) -> io.StringIO:
        self.block_first += self.block.count(b"\n")  # only the file's last line has no LF
        self.block_start += len(self.block)
        self.block = block
        text = block.decode("utf-8-sig" if self.block_start == 0 else "utf-8")
        return io.StringIO(text, newline="\n")  # lines end at LF only, which they keep

    def _chunk(self, number: int) -> bytes | None:
        return db.session.scalar(
            select(CsvImportChunk.data).where(
                CsvImportChunk.import_id == self.import_id, CsvImportChunk.number == number
            )
        )

    def offset_after(self, lines: int) -> int:
        taken = lines - self.block_first
        parts = self.block.split(b"\n", taken)[:taken]
        return min(
            self.block_start + sum(map(len, parts)) + taken, self.block_start + len(self.block)
        )
