"""Decode alert bodies into values both databases store alike, and keep the raw body.

PostgreSQL cannot hold NUL in text (psycopg refuses it) while SQLite can; a body with one
would be retried for ever by its sender if storing it failed. So NUL becomes U+FFFD in every
string and key before anything is parsed or stored, on both databases, and the body as
received is kept on the alert row (`RawBody`) so nothing is lost.
"""

from __future__ import annotations

import base64
import json
import math
import re
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl

NUL = "\x00"
NUL_REPLACEMENT = "\ufffd"
MAX_FORM_FIELDS = 1000

# Unpaired surrogates are not text (JSON may escape one, UTF-8 cannot encode it): checked
# exactly only when the raw body holds such an escape.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class BodyError(ValueError):
    """A body that cannot be decoded; the message says why, for a 400 naming `body`."""


@dataclass(frozen=True)
class RawBody:
    """The body exactly as received: text when it is UTF-8 without NUL, else base64."""

    text: str
    encoding: Literal["utf-8", "base64"]

    @classmethod
    def of(cls, body: bytes) -> RawBody:
        if b"\x00" not in body:
            try:
                return cls(body.decode("utf-8"), "utf-8")
            except UnicodeDecodeError:
                pass
        return cls(base64.b64encode(body).decode("ascii"), "base64")

    def to_bytes(self) -> bytes:
        return base64.b64decode(self.text) if self.encoding == "base64" else self.text.encode()


@dataclass(frozen=True)
class Decoded:
    """A decoded body; `altered` when NUL had to be replaced to store it."""

    data: Any
    altered: bool


def storable(value: Any) -> tuple[Any, bool]:
    """`value` with NUL replaced by U+FFFD in every string and key, and whether any was."""
    if isinstance(value, str):
        return (value.replace(NUL, NUL_REPLACEMENT), True) if NUL in value else (value, False)
    if isinstance(value, list):
        items = [storable(item) for item in value]
        return [v for v, _ in items], any(changed for _, changed in items)
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        altered = False
        for key, item in value.items():
            new_key, key_changed = storable(key)
            new_item, item_changed = storable(item)
            out[new_key] = new_item
            altered = altered or key_changed or item_changed
        return out, altered
    return value, False


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise BodyError(f"number {text[:40]} is out of range")
    return number


def _no_constant(name: str) -> Any:
    raise BodyError(f"{name} is not valid JSON")


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(item) for item in value)
    return False


def decode_json(body: bytes) -> Decoded:
    """JSON -> values: no NaN or Infinity (PostgreSQL's json refuses them), numbers in range,
    NUL replaced. Raises BodyError."""
    try:
        data = json.loads(body, parse_constant=_no_constant, parse_float=_finite)
    except BodyError:
        raise
    except RecursionError:
        raise BodyError("nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise BodyError(f"not valid JSON: {exc}") from None
    except UnicodeError:
        raise BodyError("not UTF-8 text") from None
    except ValueError:  # int() refuses more than sys.get_int_max_str_digits() digits
        raise BodyError("a number has too many digits") from None
    if _SURROGATE_ESCAPE.search(body) and _has_lone_surrogate(data):
        raise BodyError("not valid Unicode (a lone surrogate escape)")
    if b"\\u0000" not in body:
        return Decoded(data, False)
    data, altered = storable(data)
    return Decoded(data, altered)


def decode_form(body: bytes) -> Decoded:
    """application/x-www-form-urlencoded -> a dict; a repeated name gives a list of values."""
    try:
        pairs = parse_qsl(
            body.decode("utf-8", "replace"),
            keep_blank_values=True,
            max_num_fields=MAX_FORM_FIELDS,
            errors="replace",
        )
    except ValueError:
        raise BodyError(f"more than {MAX_FORM_FIELDS} form fields") from None
    form: dict[str, Any] = {}
    for name, value in pairs:
        if name in form:
            previous = form[name]
            form[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            form[name] = value
    data, altered = storable(form)
    return Decoded(data, altered)
