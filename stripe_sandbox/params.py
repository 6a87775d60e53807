"""Stripe's form encoding: bracket keys (`a[b][0][c]=v`) into nested dicts and lists, and typed getters."""

from __future__ import annotations

import re
from typing import Any, Iterable

from .errors import bad_param, missing

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")


def parse_pairs(pairs: Iterable[tuple[str, str]]) -> dict:
    """Nested dict/list tree for the pairs; malformed or conflicting keys raise a 400."""
    root: dict = {}
    for key, value in pairs:
        match = _KEY.match(key)
        if not match:
            raise bad_param(f"Invalid parameter name: '{key}' (malformed brackets).", key)
        segments = [match.group(1)] + _SEGMENT.findall(match.group(2))
        _insert(root, segments, value, key)
    return _listify(root)


def _insert(node: dict, segments: list[str], value: str, key: str) -> None:
    for position, segment in enumerate(segments):
        if segment == "":
            # `expand[]=a&expand[]=b` appends, as Rack/Stripe read it.
            segment = str(len(node))
        last = position == len(segments) - 1
        existing = node.get(segment)
        if last:
            if isinstance(existing, dict):
                raise bad_param(f"Invalid parameter: '{key}' conflicts with a nested value.", key)
            node[segment] = value
            return
        if existing is None:
            existing = node[segment] = {}
        if not isinstance(existing, dict):
            raise bad_param(f"Invalid parameter: '{key}' conflicts with a scalar value.", key)
        node = existing


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {k: _listify(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


class Params:
    """Typed, validated access to one (possibly nested) parameter dict."""

    def __init__(self, data: Any, prefix: str = ""):
        if not isinstance(data, dict):
            raise bad_param(f"Invalid object for {prefix or 'parameters'}.", prefix or None)
        self.data, self.prefix = data, prefix

    def name(self, key: str) -> str:
        """The full bracket name of `key`, as Stripe reports it in `param`."""
        return f"{self.prefix}[{key}]" if self.prefix else key

    def has(self, key: str) -> bool:
        """True when the key was sent with a non-empty value."""
        return self.data.get(key) not in (None, "", {}, [])

    def check_known(self, allowed: Iterable[str]) -> None:
        """Reject keys Stripe would not accept here, so typos fail loudly."""
        allowed = set(allowed) | {"expand"}
        for key in self.data:
            if key not in allowed:
                raise bad_param(
                    f"Received unknown parameter: {self.name(key)}",
                    self.name(key),
                    code="parameter_unknown",
                )

    def _raw(self, key: str, required: bool) -> Any:
        if not self.has(key):
            if required:
                raise missing(self.name(key))
            return None
        return self.data[key]

    def str(
        self,
        key: str,
        required: bool = False,
        default: str | None = None,
        choices: Iterable[str] | None = None,
    ) -> str | None:
        """A string value, optionally one of `choices`."""
        value = self._raw(key, required)
        if value is None:
            return default
        if not isinstance(value, str):
            raise bad_param(f"Invalid string: {self.name(key)} must be a string.", self.name(key))
        if choices is not None and value not in choices:
            options = ", ".join(f"`{c}`" for c in choices)
            raise bad_param(f"Invalid {self.name(key)}: must be one of {options}", self.name(key))
        return value

    def int(
        self,
        key: str,
        required: bool = False,
        default: int | None = None,
        low: int | None = None,
        high: int | None = None,
    ) -> int | None:
        """An integer value within [low, high] when given."""
        value = self.str(key, required)
        if value is None:
            return default
        if not re.fullmatch(r"-?\d{1,18}", value):
            raise bad_param(f"Invalid integer: {value}", self.name(key))
        number = int(value)
        if (low is not None and number < low) or (high is not None and number > high):
            raise bad_param(f"Invalid {self.name(key)}: {number} is out of range.", self.name(key))
        return number

    def float(self, key: str, required: bool = False) -> float | None:
        """A decimal value."""
        value = self.str(key, required)
        if value is None:
            return None
        try:
            return float(value)
        except ValueError:
            raise bad_param(f"Invalid decimal: {value}", self.name(key)) from None

    def bool(self, key: str, default: bool | None = None) -> bool | None:
        """A boolean sent as `true`/`false`."""
        value = self.str(key)
        if value is None:
            return default
        if value not in ("true", "false"):
            raise bad_param(f"Invalid boolean: {value}", self.name(key))
        return value == "true"

    def sub(self, key: str) -> "Params":
        """The nested dict under `key` (empty when absent)."""
        value = self.data.get(key)
        if value in (None, ""):
            return Params({}, self.name(key))
        if not isinstance(value, dict):
            raise bad_param(f"Invalid object: {self.name(key)} must be a hash.", self.name(key))
        return Params(value, self.name(key))

    def items(self, key: str) -> list["Params"]:
        """The array of hashes under `key`."""
        value = self._raw(key, False) or []
        if not isinstance(value, list):
            raise bad_param(f"Invalid array: {self.name(key)} must be an array.", self.name(key))
        return [Params(v, f"{self.name(key)}[{i}]") for i, v in enumerate(value)]

    def strings(self, key: str) -> list[str]:
        """The array of strings under `key` (a single string counts as one)."""
        value = self._raw(key, False) or []
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad_param(
                f"Invalid array: {self.name(key)} must be an array of strings.", self.name(key)
            )
        return value

    def metadata(self) -> dict:
        """The `metadata` hash as plain strings."""
        value = self.data.get("metadata") or {}
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise bad_param("Invalid metadata: must be a hash of strings.", "metadata")
        return dict(value)
