"""Optional persistence: the whole store in one JSON file, so a restart keeps accounts,
catalog, sessions and webhook endpoints (deliveries in flight are not kept)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from .state import Record, Store


def snapshot(store: Store) -> str:
    """The store as JSON text (taken under the lock, so it is consistent)."""
    with store.lock:
        records = sorted(store.records.values(), key=lambda r: r.seq)
        data = {
            "offset": store.offset,
            "keys": store.keys,
            "connected": sorted(store.connected),
            "oauth_codes": store.oauth_codes,
            "recovery_tokens": store.recovery_tokens,
            "records": [
                {"obj": r.obj, "account": r.account, "seq": r.seq, "extra": r.extra}
                for r in records
            ],
        }
        return json.dumps(data, sort_keys=True)


def restore(store: Store, text: str) -> None:
    """Replace the store's contents with a snapshot's."""
    data = json.loads(text)
    with store.lock:
        store.offset = data["offset"]
        store.keys = data["keys"]
        store.connected = set(data["connected"])
        store.oauth_codes = data["oauth_codes"]
        store.recovery_tokens = data["recovery_tokens"]
        store.replace_all(
            [Record(r["obj"], r["account"], r["seq"], r["extra"]) for r in data["records"]]
        )


class StateFile:
    """Saves the store to `path` whenever it changed since the last save (atomic rename).
    Safe from several threads: every API request and the clock's ticker save."""

    def __init__(self, store: Store, path: str):
        self.store, self.path, self.last = store, Path(path), ""
        self.lock = threading.Lock()  # one temporary file: two writers would rename each other's

    def load(self) -> bool:
        """Restore from the file if it exists; True when something was loaded."""
        if not self.path.is_file():
            return False
        self.last = self.path.read_text()
        restore(self.store, self.last)
        return True

    def save_if_changed(self) -> bool:
        with self.lock:
            text = snapshot(self.store)
            if text == self.last:
                return False
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_suffix(".tmp")
            temporary.write_text(text)
            os.replace(temporary, self.path)
            self.last = text
            return True


__all__ = ["StateFile", "restore", "snapshot"]
