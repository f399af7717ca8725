"""Bodies decoded into values both databases store alike; the raw body kept faithfully."""

from __future__ import annotations

import pytest

from irp.alerts.storable import (
    NUL_REPLACEMENT,
    BodyError,
    RawBody,
    decode_form,
    decode_json,
    storable,
)

pytestmark = pytest.mark.no_database


def test_nul_is_replaced_in_values_and_keys_at_any_depth() -> None:
    body = {"a\x00": ["x\x00y", {"k": "\x00"}], "n": 1, "ok": "fine"}
    value, altered = storable(body)
    assert altered
    assert value == {
        f"a{NUL_REPLACEMENT}": [f"x{NUL_REPLACEMENT}y", {"k": NUL_REPLACEMENT}],
        "n": 1,
        "ok": "fine",
    }
    assert storable({"ok": ["fine", 1, None]}) == ({"ok": ["fine", 1, None]}, False)


def test_decode_json_replaces_nul_and_says_so() -> None:
    decoded = decode_json(b'{"title": "disk\\u0000full"}')
    assert decoded.data == {"title": f"disk{NUL_REPLACEMENT}full"}
    assert decoded.altered
    plain = decode_json(b'{"title": "a \\\\u0000 backslash, not NUL"}')
    assert plain.data == {"title": "a \\u0000 backslash, not NUL"}
    assert not plain.altered


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"a": NaN}', "NaN is not valid JSON"),
        (b'{"a": -Infinity}', "-Infinity is not valid JSON"),
        (b'{"a": 1e400}', "number 1e400 is out of range"),
        (b'{"a": ' + b"1" * 5000 + b"}", "a number has too many digits"),
        (b'{"a": "\\ud800"}', "not valid Unicode (a lone surrogate escape)"),
        (b"{not json", "not valid JSON: Expecting property name"),
        (b"\xff\xfe\x00", "not"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ],
)
def test_decode_json_refuses_what_no_database_stores(body: bytes, reason: str) -> None:
    with pytest.raises(BodyError) as info:
        decode_json(body)
    assert str(info.value).startswith(reason)


def test_huge_integers_are_kept() -> None:
    assert decode_json(b'{"n": ' + b"9" * 400 + b"}").data == {"n": int("9" * 400)}


def test_decode_form() -> None:
    decoded = decode_form(b"alertName=cpu+high&x=1&x=2&empty=&nul=%00&zh=%E5%88%86%E9%92%9F")
    assert decoded.data == {
        "alertName": "cpu high",
        "x": ["1", "2"],
        "empty": "",
        "nul": NUL_REPLACEMENT,
        "zh": "分钟",
    }
    assert decoded.altered
    assert decode_form(b"\xff=\xfe").data == {"\ufffd": "\ufffd"}
    with pytest.raises(BodyError, match="more than 1000 form fields"):
        decode_form(b"&".join(b"f%d=1" % i for i in range(1001)))


@pytest.mark.parametrize(
    ("body", "encoding"),
    [
        (b'{"title": "\\u0000"}', "utf-8"),
        ("告警=1".encode(), "utf-8"),
        (b"a=\x00", "base64"),
        (b"\xff\xfe{}", "base64"),
    ],
)
def test_raw_body_round_trips(body: bytes, encoding: str) -> None:
    raw = RawBody.of(body)
    assert raw.encoding == encoding
    assert "\x00" not in raw.text
    assert raw.to_bytes() == body
