"""An uploaded subscription CSV read record by record, a batch of rows at a time, each row
checked by consent_csv.parse_row. A quote left open does not swallow the rows after it: a line
that leaves one open, followed by a line that is a row of its own, is rejected alone."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from portal.mail.values import truncate
from portal.services import addresses
from portal.services.addresses import is_email
from portal.services.consent_csv import FIELD_LIMIT, OPEN_QUOTE, STATUSES, Columns, Reject, Row
from portal.services.consent_csv import parse_row

LEFT_OPEN = (
    "a quote on this line is not closed, so it would take in the rows after it: they are read "
    "on their own, this line is not. Close or remove the quote and upload the line again"
)


@dataclass
class Batch:
    """Up to a batch's worth of data rows read from a file: the valid rows, the rejects, how many
    rows were read (blank lines are none) and the file's line number after the last one."""

    rows: list[Row] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    read: int = 0
    end_line: int = 0
    complete: bool = True  # False: the file ended before the batch was full


class LeftOpen(csv.Error):
    """A line whose quote is not closed while the next line is a row of its own."""

    def __init__(self, line: str) -> None:
        super().__init__(LEFT_OPEN)
        self.line = line.rstrip("\r\n")


class Records:
    """The CSV records of an iterator of lines (each ending in LF, but maybe the last), with the
    file's line number each begins on. A line with no quote and no other carriage return than
    its end's is split on its commas: what the csv module would read, for a fraction of the
    cost (and a cell longer than the module's limit, which it would refuse the whole row for,
    may then stand in a column that is ignored). Any other line is read by the csv module,
    which takes the following lines too while a quoted field goes on. Given the `columns`, a
    line that leaves a quote open (an odd number of them) while the next line reads alone as a
    row is a LeftOpen, and the next line is read on its own: one line looked at ahead, never
    more, so a file of open quotes costs what any other file does."""

    def __init__(self, lines: Iterator[str], first_line: int, columns: Columns | None = None):
        self.lines, self.first_line, self.lines_read = lines, first_line, 0
        self.columns = columns
        self.held: str | None = None  # the line the csv module reads next
        self.ahead: str | None = None  # the next line, looked at but not read yet
        self.reader = csv.reader(self._feed())

    def _feed(self) -> Iterator[str]:
        while True:
            if self.held is not None:
                line, self.held = self.held, None
            elif (line := self._next_line()) is None:
                return
            yield line

    def _next_line(self) -> str | None:
        if self.ahead is not None:
            line, self.ahead = self.ahead, None
        else:
            line = next(self.lines, None)
        if line is not None:
            self.lines_read += 1
        return line

    def __iter__(self) -> Iterator[tuple[int, list[str] | csv.Error]]:
        return self

    def __next__(self) -> tuple[int, list[str] | csv.Error]:
        """(line number, cells), or (line number, error) for a record the csv module rejects."""
        if self.ahead is None:  # inline, not _next_line(): this runs for every line of a file
            line = next(self.lines)  # StopIteration: the end
        else:
            line, self.ahead = self.ahead, None
        number = self.first_line + self.lines_read
        self.lines_read += 1
        body = line[:-2] if line[-2:] == "\r\n" else line[:-1] if line[-1:] == "\n" else line
        if '"' not in body and "\r" not in body:
            return number, body.split(",") if body else []
        if self.columns is not None and body.count('"') % 2:
            if self.ahead is None:
                self.ahead = next(self.lines, None)
            if self.ahead is not None and self._reads_as_row(self.ahead):
                return number, LeftOpen(line)
        self.held = line
        try:
            return number, next(self.reader, [])
        except csv.Error as exc:
            return number, exc

    def _reads_as_row(self, line: str) -> bool:
        """Whether `line`, read alone, holds an address and a status where the columns are."""
        try:
            cells = next(csv.reader([line.rstrip("\r\n")]), [])
        except csv.Error:  # a carriage return inside it, a cell past the module's limit
            return False
        email, status, width = self.columns.email, self.columns.status, self.columns.width
        if len(cells) < width or cells[status].strip().lower() not in STATUSES:
            return False
        return is_email(addresses.normal(cells[email].strip()))


def read_batch(records: Records, columns: Columns, size: int) -> Batch:
    """The next `size` data rows of `records`; a record the csv module cannot read is rejected
    with its error. Per row, only the splitting (see Records) and parse_row run."""
    batch = Batch()
    rows, rejects, read = batch.rows, batch.rejects, 0
    while read < size:
        try:
            line, cells = next(records)
        except StopIteration:
            batch.complete = False
            break
        if type(cells) is LeftOpen:
            rejects.append(Reject(line, truncate(cells.line, 320), LEFT_OPEN))
        elif type(cells) is not list:
            rejects.append(Reject(line, "", unreadable(cells)))
        elif not any(cells):
            continue  # a blank line is no row
        elif type(parsed := parse_row(cells, columns, line)) is Row:
            rows.append(parsed)
        elif not "".join(cells).strip():
            continue  # nor is a line of spaces
        else:
            rejects.append(_spanning(parsed, records.first_line + records.lines_read - 1))
        read += 1
    batch.read, batch.end_line = read, records.first_line + records.lines_read
    return batch


# What the csv module says about a record it cannot read, in words a person can act on.
CSV_ERRORS = {
    "new-line character seen in unquoted field": (
        "a carriage return (CR) inside the row: save the file with ordinary line endings"
    ),
    "field larger than field limit": f"a cell longer than {FIELD_LIMIT:,} characters",
}


def unreadable(error: csv.Error) -> str:
    """A reject's reason for a record the csv module could not read, in words."""
    text = str(error)
    words = next((w for start, w in CSV_ERRORS.items() if text.startswith(start)), text)
    return f"unreadable CSV: {words}"


def _spanning(reject: Reject, last_line: int) -> Reject:
    """A rejected record that ran over several lines says so: most often a quote left open."""
    if last_line <= reject.line:
        return reject
    return replace(
        reject,
        reason=f"{reject.reason.removesuffix(OPEN_QUOTE)} (a quoted cell carries this row on to "
        f"line {last_line}: if it should not, check for a quote that is not closed)",
    )
