"""Personal-data redaction: every chat message, report extract and log line leaving irp
passes through a `Redactor`.

Masks keep a hint a responder can use ("the customer whose phone ends in 5678") without
identifying anyone:

- mainland mobile (optional 86 / +86 / 0086 prefix, spaces or dashes): ``138****5678``,
  first 3 and last 4 of the national number, prefix kept (``+86 138****5678``);
- other international ``+CC`` numbers (8-15 digits): ``+442****0958``, last 4 kept, at most the
  first 3 kept and never fewer than 4 digits hidden;
- e-mail: ``a***@example.com``, first character of the local part and the domain;
- 18-character PRC resident ID, only with a valid ISO 7064 MOD 11-2 check character and a
  plausible birth date: ``110***********123X`` (region hint and last 4);
- bank card, 13-19 digits, only when Luhn-valid: ``**** **** **** 1234`` (last 4, as on receipts);
- configured patterns: ``[REDACTED:<label or name>]``.

Digits that are none of these (order numbers, timestamps, hashes) are left alone. Digit runs
touching an ASCII letter are not personal data candidates (hex hashes, ``v1234``), but CJK
text around a number is no boundary. Full-width digits count as digits.

When candidates overlap, the longest wins (ties: e-mail, ID, card, phone); the uncovered rest
of a losing candidate is still starred out, so a partial overlap never leaks digits. Custom
patterns run after the built-ins on the same original text, and the parts of their matches
the built-ins did not cover get the custom label. `redact` repeats until nothing changes (a
mask's visible digits may form a new candidate with a neighbour), which makes it idempotent
unless a custom pattern matches its own label.
"""

from __future__ import annotations

import bisect
import functools
import logging
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Final

from models.redaction import (
    BANK_CARD,
    EMAIL,
    ID_NUMBER,
    PHONE,
    RedactionPattern,
    compile_pattern,
)

# Tie-break between equally long overlapping candidates: lower wins.
_RANK: Final = {EMAIL: 0, ID_NUMBER: 1, BANK_CARD: 2, PHONE: 3}
_MAX_PASSES: Final = 8
_CARD_MASK: Final = "**** **** **** "

_EMAIL_RE = re.compile(
    r"(?<![A-Za-z0-9._%+-])([A-Za-z0-9._%+-]+)"
    r"@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})(?![A-Za-z0-9])"
)
# Digit groups joined by single spaces (incl. no-break and ideographic) or dashes.
_RUN_RE = re.compile(r"\d+(?:[ \u00a0\u3000-]\d+)*")
_GROUP_RE = re.compile(r"\d+")
_ASCII_ALNUM = re.compile(r"[0-9A-Za-z]")
_STAR_OUT = re.compile(r"[\dA-Za-z]")
_WORD = re.compile(r"\w")
_CN_MOBILE = re.compile(r"(0086|86)?(1[3-9]\d{9})")
_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK: Final = "10X98765432"

if TYPE_CHECKING:
    from models.plan import Plan


@dataclass(frozen=True, slots=True)
class Finding:
    """One piece of personal data found in a text: its kind and ``text[start:end]`` span."""

    kind: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class _Candidate:
    kind: str
    start: int
    end: int
    replacement: str
    custom: bool = False


def _luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _valid_id(number: str) -> bool:
    """18 characters, check character valid (ISO 7064 MOD 11-2), birth date plausible."""
    if len(number) != 18 or not number[:17].isdigit() or number[0] == "0":
        return False
    body, check = number[:17], number[17].upper()
    if _ID_CHECK[sum(int(c) * w for c, w in zip(body, _ID_WEIGHTS, strict=True)) % 11] != check:
        return False
    try:
        born = date(int(body[6:10]), int(body[10:12]), int(body[12:14]))
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= date.today()


def _ascii_digits(text: str) -> str:
    return "".join(str(unicodedata.decimal(char)) for char in text)


def _mask_email(match: re.Match[str]) -> str:
    return f"{match.group(1)[0]}***@{match.group(2)}"


def _mask_cn_mobile(prefix: str, plus: bool, national: str) -> str:
    lead = f"{'+' if plus else ''}{prefix} " if prefix else ""
    return f"{lead}{national[:3]}****{national[-4:]}"


def _mask_international(digits: str) -> str:
    keep = max(0, min(3, len(digits) - 8))
    return f"+{digits[:keep]}****{digits[-4:]}"


class Redactor:
    """Finds and masks personal data; see the module docstring for what and how."""

    def __init__(self, patterns: Iterable[RedactionPattern] = ()) -> None:
        self._patterns: list[tuple[RedactionPattern, re.Pattern[str]]] = []
        seen: set[str] = set()
        for pattern in patterns:
            if not isinstance(pattern, RedactionPattern):
                raise TypeError(
                    f"patterns: expected RedactionPattern, got {type(pattern).__name__}"
                )
            if pattern.name in seen:
                raise ValueError(f"redaction pattern {pattern.name!r}: name is used twice")
            seen.add(pattern.name)
            self._patterns.append((pattern, compile_pattern(pattern)))

    def redact(self, text: str) -> str:
        """Return `text` with every finding masked; repeated until stable, so idempotent."""
        if not isinstance(text, str):
            raise TypeError(f"text: expected str, got {type(text).__name__}")
        for _ in range(_MAX_PASSES):
            redacted = self._redact_once(text)
            if redacted == text:
                break
            text = redacted
        return text

    def findings(self, text: str) -> list[Finding]:
        """What one redaction pass over `text` masks, in text order (for tests and counts)."""
        if not isinstance(text, str):
            raise TypeError(f"text: expected str, got {type(text).__name__}")
        return [Finding(c.kind, c.start, c.end) for c in self._resolve(text)]

    def redact_data(self, obj: Any) -> Any:
        """Redact every string inside dicts, lists and tuples; keys and non-strings unchanged."""
        if isinstance(obj, str):
            return self.redact(obj)
        if isinstance(obj, dict):
            return {key: self.redact_data(value) for key, value in obj.items()}
        if isinstance(obj, list):
            return [self.redact_data(item) for item in obj]
        if isinstance(obj, tuple):
            items = [self.redact_data(item) for item in obj]
            return type(obj)(*items) if hasattr(obj, "_fields") else tuple(items)
        return obj

    def _redact_once(self, text: str) -> str:
        parts: list[str] = []
        position = 0
        for piece in self._resolve(text):
            parts.append(text[position : piece.start])
            parts.append(piece.replacement)
            position = piece.end
        parts.append(text[position:])
        return "".join(parts)

    def _resolve(self, text: str) -> list[_Candidate]:
        """Choose non-overlapping spans: longest built-in first, then the custom patterns."""
        builtin = sorted(
            [*_email_candidates(text), *_digit_candidates(text)],
            key=lambda c: (c.start - c.end, _RANK[c.kind], c.start),
        )
        custom = (
            _Candidate(pattern.name, m.start(), m.end(), pattern.replacement, custom=True)
            for pattern, compiled in self._patterns
            for m in compiled.finditer(text)
            if m.end() > m.start()
        )
        starts: list[int] = []
        accepted: list[_Candidate] = []
        for candidate in (*builtin, *custom):
            gaps = _uncovered(candidate.start, candidate.end, starts, accepted)
            pieces: list[_Candidate | None] = [candidate]
            if gaps != [(candidate.start, candidate.end)]:
                pieces = [_remainder(text, candidate, start, end) for start, end in gaps]
            for piece in pieces:
                if piece is not None:
                    index = bisect.bisect_left(starts, piece.start)
                    starts.insert(index, piece.start)
                    accepted.insert(index, piece)
        return accepted


def _uncovered(
    start: int, end: int, starts: list[int], accepted: list[_Candidate]
) -> list[tuple[int, int]]:
    """The parts of ``[start, end)`` no accepted span covers."""
    gaps: list[tuple[int, int]] = []
    cursor = start
    index = max(bisect.bisect_right(starts, start) - 1, 0)
    while index < len(accepted) and accepted[index].start < end:
        taken = accepted[index]
        if taken.end > cursor:
            if taken.start > cursor:
                gaps.append((cursor, taken.start))
            cursor = taken.end
        index += 1
    if cursor < end:
        gaps.append((cursor, end))
    return gaps


def _remainder(text: str, candidate: _Candidate, start: int, end: int) -> _Candidate | None:
    """Mask what is left of a candidate that lost an overlap, so none of it leaks."""
    segment = text[start:end]
    if candidate.custom:
        if not _WORD.search(segment):
            return None
        return _Candidate(candidate.kind, start, end, candidate.replacement, custom=True)
    if not _STAR_OUT.search(segment):
        return None
    return _Candidate(candidate.kind, start, end, _STAR_OUT.sub("*", segment))


def _email_candidates(text: str) -> Iterator[_Candidate]:
    for match in _EMAIL_RE.finditer(text):
        yield _Candidate(EMAIL, match.start(), match.end(), _mask_email(match))


def _digit_candidates(text: str) -> Iterator[_Candidate]:
    """Spans of whole digit groups inside each run that validate as ID, card or phone."""
    for run in _RUN_RE.finditer(text):
        start, end = run.span()
        groups = [g.span() for g in _GROUP_RE.finditer(text, start, end)]
        digits = [_ascii_digits(text[s:e]) for s, e in groups]
        left_ok = start == 0 or not _ASCII_ALNUM.match(text[start - 1])
        plus = start > 0 and text[start - 1] == "+" and (start < 2 or not text[start - 2].isdigit())
        after = text[end : end + 2]
        x_last = after[:1] in ("X", "x") and not _ASCII_ALNUM.match(after[1:2] or " ")
        right_ok = not after or not _ASCII_ALNUM.match(after[0])
        for first in range(len(groups)):
            if first == 0 and not left_ok:
                continue
            joined = ""
            shortest, longest = 19, 0
            for last in range(first, len(groups)):
                joined += digits[last]
                if len(joined) > 19:
                    break
                shortest = min(shortest, len(digits[last]))
                longest = max(longest, len(digits[last]))
                if shortest < 3 and last > first and len(joined) > 15:
                    break  # only a phone fits such grouping, and none is this long
                if not _worth_checking(joined, first == last or shortest >= 3, plus and first == 0):
                    continue
                grouping = _Grouping(first == last, shortest, longest)
                span = (groups[first][0], groups[last][1])
                if last == len(groups) - 1 and x_last:
                    if grouping.fits_id and _valid_id(joined + after[0]):
                        yield _id_candidate(span[0], span[1] + 1, joined + after[0])
                    continue
                if last == len(groups) - 1 and not right_ok:
                    continue
                yield from _classify(span, joined, grouping, plus and first == 0)


def _worth_checking(digits: str, card_or_id_grouping: bool, plus: bool) -> bool:
    """Cheap pre-check that keeps long runs of short digit groups fast."""
    if plus:
        return len(digits) >= 8
    if card_or_id_grouping and len(digits) >= 13:
        return True
    return len(digits) in (11, 13, 15) and digits[0] in "018"


@dataclass(frozen=True, slots=True)
class _Grouping:
    """How a span's digits are grouped; real IDs and cards are not written as "05 06 ..."."""

    single: bool
    shortest: int
    longest: int

    @property
    def fits_id(self) -> bool:
        return self.single or self.shortest >= 3

    @property
    def fits_card(self) -> bool:
        return self.single or (self.shortest >= 3 and self.longest <= 6)


def _id_candidate(start: int, end: int, number: str) -> _Candidate:
    return _Candidate(ID_NUMBER, start, end, f"{number[:3]}{'*' * 11}{number[-4:]}")


def _classify(
    span: tuple[int, int], digits: str, grouping: _Grouping, plus: bool
) -> Iterator[_Candidate]:
    start, end = span
    if len(digits) == 18 and grouping.fits_id and _valid_id(digits):
        yield _id_candidate(start, end, digits)
    if 13 <= len(digits) <= 19 and digits[0] != "0" and grouping.fits_card and _luhn_valid(digits):
        yield _Candidate(BANK_CARD, start, end, _CARD_MASK + digits[-4:])
    mobile = _CN_MOBILE.fullmatch(digits)
    if mobile and (not plus or mobile.group(1) == "86"):
        prefix, national = mobile.group(1) or "", mobile.group(2)
        begin = start - 1 if plus else start
        yield _Candidate(PHONE, begin, end, _mask_cn_mobile(prefix, plus, national))
    elif plus and 8 <= len(digits) <= 15 and digits[0] != "0":
        yield _Candidate(PHONE, start - 1, end, _mask_international(digits))


class RedactingFilter(logging.Filter):
    """Redacts a record's formatted message (and exception/stack text) in place.

    Attach to any logger or handler whose output leaves the process. The args are merged
    first because personal data usually arrives through them (``log.info("user %s", email)``).
    """

    def __init__(self, redactor: Redactor | None = None, name: str = "") -> None:
        super().__init__(name)
        self.redactor = redactor if redactor is not None else default_redactor()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError, KeyError):
            # A broken format call must not crash the caller; keep everything, redacted.
            message = f"{record.msg} {record.args!r}"
        record.msg = self.redactor.redact(message)
        record.args = ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor.redact(record.stack_info)
        return True


@functools.lru_cache(maxsize=1)
def default_redactor() -> Redactor:
    """The shared redactor with only the built-in detectors."""
    return Redactor()


def plan_redactor(plan: Plan) -> Redactor:
    """The built-in detectors plus the plan's own patterns: what masks everything that leaves
    irp for an incident run under `plan` (reports, artifacts, CLI output, gate forms)."""
    return _redactor_with(tuple(plan.notifications.redaction_patterns))


@functools.lru_cache(maxsize=16)
def _redactor_with(patterns: tuple[RedactionPattern, ...]) -> Redactor:
    return Redactor(patterns)
