"""The pure rules of codes and links, as tables: what is accepted, and why the rest is not."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from irp.identity import codes
from irp.identity.codes import Binding, Check

KEY = b"k" * 32
NOW = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
BOUND = Binding("INC-1A2B3C4D", "gate:activation", 1, "cio_on_duty")
CODE = "04711815"
HASH = codes.code_hash(KEY, BOUND, CODE)
LATER = NOW + timedelta(minutes=15)


@pytest.mark.parametrize(
    ("presented", "binding", "expires_at", "used_at", "now", "expected"),
    [
        (CODE, BOUND, LATER, None, NOW, Check.ok),
        (f" {CODE} ", BOUND, LATER, None, NOW, Check.ok),
        ("04711816", BOUND, LATER, None, NOW, Check.wrong),
        ("", BOUND, LATER, None, NOW, Check.wrong),
        (CODE, replace(BOUND, round=2), LATER, None, NOW, Check.wrong),
        (CODE, replace(BOUND, person="ciso_on_duty"), LATER, None, NOW, Check.wrong),
        (CODE, replace(BOUND, subject="gate:signoff"), LATER, None, NOW, Check.wrong),
        (CODE, replace(BOUND, incident_id="INC-00000000"), LATER, None, NOW, Check.wrong),
        (CODE, BOUND, LATER, NOW, NOW, Check.used),
        (CODE, BOUND, NOW, None, NOW, Check.expired),
        (CODE, BOUND, LATER, None, LATER + timedelta(seconds=1), Check.expired),
        ("04711816", BOUND, NOW, NOW, NOW, Check.wrong),  # a guess learns nothing about the row
    ],
)
def test_a_code_is_good_once_for_its_binding_until_it_expires(
    presented: str,
    binding: Binding,
    expires_at: datetime,
    used_at: datetime | None,
    now: datetime,
    expected: Check,
) -> None:
    found = codes.check_code(
        KEY, binding, presented, HASH, expires_at=expires_at, used_at=used_at, now=now
    )
    assert found is expected


def test_no_row_is_a_wrong_code() -> None:
    check = codes.check_code(KEY, BOUND, CODE, None, expires_at=None, used_at=None, now=NOW)
    assert check is Check.wrong


def test_codes_are_eight_digits_and_differ() -> None:
    made = {codes.new_code() for _ in range(50)}
    assert all(len(c) == 8 and c.isdigit() for c in made)
    assert len(made) > 45


def test_the_hash_is_keyed_and_never_the_code() -> None:
    assert CODE not in HASH and len(HASH) == 64
    assert codes.code_hash(b"x" * 32, BOUND, CODE) != HASH


def _tampered(token: str) -> list[str]:
    body, _, signature = token.partition(".")
    flipped = ("A" if body[5] != "A" else "B").join((body[:5], body[6:]))
    return [
        f"{flipped}.{signature}",
        f"{body}.{signature[:-2]}",
        body,
        f"{body}.",
        "",
        "not-a-token",
        codes.sign_link(b"y" * 32, 7, BOUND, LATER),
    ]


def test_a_signed_link_reads_back_and_any_tampering_is_refused() -> None:
    token = codes.sign_link(KEY, 7, BOUND, LATER)
    assert codes.is_link_token(token) and not codes.is_link_token(CODE)
    claim = codes.read_link(KEY, token)
    assert claim is not None
    assert (claim.row_id, claim.binding, claim.expires_at) == (7, BOUND, LATER)
    for bad in _tampered(token):
        assert codes.read_link(KEY, bad) is None, bad
