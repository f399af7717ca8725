"""Redaction: personal data never leaves in clear, other digits are left alone."""

from __future__ import annotations

import logging
from collections import namedtuple
from datetime import date

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from irp.redact import (
    BANK_CARD,
    EMAIL,
    ID_NUMBER,
    PHONE,
    RedactingFilter,
    RedactionPattern,
    Redactor,
    default_redactor,
)

pytestmark = pytest.mark.no_database

# Reference implementations, written independently of irp.redact on purpose.
ID_WEIGHTS = [2 ** (17 - i) % 11 for i in range(17)]


def id_check(body: str) -> str:
    return "10X98765432"[sum(int(c) * w for c, w in zip(body, ID_WEIGHTS, strict=True)) % 11]


def luhn_check_digit(body: str) -> str:
    total = 0
    for i, char in enumerate(reversed(body)):
        n = int(char) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return str(-total % 10)


def luhn_ok(number: str) -> bool:
    return luhn_check_digit(number[:-1]) == number[-1]


@st.composite
def id_numbers(draw: st.DrawFn, valid: bool = True) -> str:
    region = draw(st.integers(110000, 659999))
    born = draw(st.dates(date(1900, 1, 1), date.today()))
    serial = draw(st.integers(0, 999))
    body = f"{region}{born:%Y%m%d}{serial:03d}"
    check = id_check(body)
    if not valid:
        check = draw(st.sampled_from([c for c in "0123456789X" if c != check]))
    if check == "X" and draw(st.booleans()):
        check = "x"
    return body + check


@st.composite
def card_numbers(draw: st.DrawFn, valid: bool = True) -> tuple[str, str]:
    """(digits, as written): 13-19 digits, written contiguous or grouped by spaces/dashes."""
    length = draw(st.integers(13, 19))
    body = draw(st.sampled_from("123456789")) + draw(
        st.text("0123456789", min_size=length - 2, max_size=length - 2)
    )
    check = luhn_check_digit(body)
    if not valid:
        check = draw(st.sampled_from([c for c in "0123456789" if c != check]))
    digits = body + check
    if draw(st.booleans()):
        return digits, digits
    groups, rest = [], digits
    while len(rest) > 6:
        size = draw(st.integers(3, min(6, len(rest) - 3)))
        groups.append(rest[:size])
        rest = rest[size:]
    groups.append(rest)
    written = groups[0]
    for group in groups[1:]:
        written += draw(st.sampled_from(" -")) + group
    return digits, written


mobiles = st.builds(
    lambda second, rest: f"1{second}{rest:09d}",
    st.sampled_from("3456789"),
    st.integers(0, 999_999_999),
)
emails = st.builds(
    lambda local, domain, tld: f"{local}@{domain}.{tld}",
    st.from_regex(r"[a-z][a-z0-9._+-]{0,15}", fullmatch=True),
    st.from_regex(r"[a-z0-9]{1,12}", fullmatch=True),
    st.sampled_from(["com", "cn", "org", "com.cn"]),
)


def kinds(redactor: Redactor, text: str) -> list[str]:
    return [f.kind for f in redactor.findings(text)]


@settings(deadline=None)
@given(id_numbers())
def test_valid_id_numbers_are_masked_as_ids(number: str) -> None:
    redactor = default_redactor()
    text = f"身份证号：{number}，请核实"
    assert kinds(redactor, text) == [ID_NUMBER]
    assert redactor.redact(text) == f"身份证号：{number[:3]}{'*' * 11}{number[-4:]}，请核实"


@settings(deadline=None)
@given(id_numbers(valid=False))
def test_ids_with_a_wrong_check_digit_are_left(number: str) -> None:
    assume(number[-1] in "Xx" or not luhn_ok(number))
    text = f"ID {number} end"
    assert default_redactor().redact(text) == text


def test_id_with_impossible_birth_date_is_left() -> None:
    body = "11010519491331002"  # month 13
    text = f"ref {body}{id_check(body)}"
    assert ID_NUMBER not in kinds(default_redactor(), text)


@settings(deadline=None)
@given(card_numbers())
def test_luhn_valid_cards_keep_only_the_last_four(card: tuple[str, str]) -> None:
    digits, written = card
    redactor = default_redactor()
    text = f"paid with card {written} yesterday"
    assume(kinds(redactor, text) != [ID_NUMBER])  # an 18-digit valid ID wins, by design
    assert kinds(redactor, text) == [BANK_CARD]
    assert redactor.redact(text) == f"paid with card **** **** **** {digits[-4:]} yesterday"


@settings(deadline=None)
@given(card_numbers(valid=False))
def test_luhn_invalid_cards_are_not_masked_as_cards(card: tuple[str, str]) -> None:
    digits, written = card
    text = f"卡号 {written} 已冻结"
    found = default_redactor().findings(text)
    whole = (text.index(written), text.index(written) + len(written))
    assert (BANK_CARD, *whole) not in [(f.kind, f.start, f.end) for f in found]
    if written == digits:  # contiguous: no shorter part can be a candidate either
        assume(not any(f.kind == ID_NUMBER for f in found))
        assert default_redactor().redact(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("请联系张三，手机13812345678，谢谢", "请联系张三，手机138****5678，谢谢"),
        ("Call me at +86 138-1234-5678 tomorrow", "Call me at +86 138****5678 tomorrow"),
        ("手机号：+8613912345678。", "手机号：+86 139****5678。"),
        ("拨打 0086 186 0000 1111 或 86-15912345678", "拨打 0086 186****1111 或 86 159****5678"),
        ("UK +44 20 7946 0958, US +1 415 555 2671.", "UK +442****0958, US +141****2671."),
        ("手机１３８１２３４５６７８", "手机138****5678"),
        ("- **13812345678** (on call)", "- **138****5678** (on call)"),
        ("请发邮件至zhang.san@example.com。", "请发邮件至z***@example.com。"),
        (
            "Contact John.Doe+ir@corp.example.co.uk, thanks",
            "Contact J***@corp.example.co.uk, thanks",
        ),
        ("QQ邮箱 13812345678@qq.com", "QQ邮箱 1***@qq.com"),
        ("备用邮箱：li@x.cn--勿回", "备用邮箱：l***@x.cn--勿回"),
    ],
)
def test_phones_and_emails_in_sentences(text: str, expected: str) -> None:
    assert default_redactor().redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "order 202405061234567 created 2024-05-06 13:45:00, epoch 1714971900123",
        "commit a13812345678f, build v13812345678",
        "incident INC-20240506-0042 affected 12,345 users; +5 -3",
        "",
    ],
)
def test_other_digits_are_left_alone(text: str) -> None:
    assert default_redactor().findings(text) == []
    assert default_redactor().redact(text) == text


def test_date_next_to_a_phone_is_not_mangled() -> None:
    assert default_redactor().redact("2024-05-06 13812345678") == "2024-05-06 138****5678"


@settings(deadline=None)
@given(mobiles, emails, id_numbers(), card_numbers(), st.text(max_size=20))
def test_stuffed_message_leaks_no_original(
    mobile: str, email: str, number: str, card: tuple[str, str], noise: str
) -> None:
    digits, written = card
    message = (
        f"用户{mobile}（邮箱 {email}）报告：身份证 {number} 与银行卡 {written} 被盗用。"
        f" Contact +86 {mobile[:3]} {mobile[3:7]} {mobile[7:]} or {email}. {noise}"
    )
    redacted = default_redactor().redact(message)
    for original in (mobile, email, number, written, digits, mobile[3:7] + " " + mobile[7:]):
        assert original not in redacted
    assert default_redactor().redact(redacted) == redacted


@settings(deadline=None)
@given(st.text())
def test_arbitrary_text_never_raises_and_is_left_when_nothing_found(text: str) -> None:
    redactor = default_redactor()
    redacted = redactor.redact(text)
    if not redactor.findings(text):
        assert redacted == text
    assert redactor.redact(redacted) == redacted


@settings(deadline=None)
@given(st.lists(st.one_of(mobiles, emails, id_numbers(), st.sampled_from(" -+@.x1"))))
def test_redaction_is_idempotent_on_dense_personal_data(parts: list[str]) -> None:
    redactor = default_redactor()
    once = redactor.redact("".join(parts))
    assert redactor.redact(once) == once


def test_configured_pattern_is_masked_with_its_label() -> None:
    redactor = Redactor(
        [
            RedactionPattern(name="employee_id", regex=r"\bEMP-\d{6}\b"),
            RedactionPattern(name="address", regex=r"住址[:：]\S+", label="地址"),
        ]
    )
    text = "EMP-004211 reported; 住址：北京市朝阳区某路1号 电话13812345678"
    assert (
        redactor.redact(text) == "[REDACTED:employee_id] reported; [REDACTED:地址] 电话138****5678"
    )
    assert [f.kind for f in redactor.findings(text)] == ["employee_id", "address", PHONE]


def test_configured_pattern_overlapping_a_builtin_leaves_nothing_in_clear() -> None:
    redactor = Redactor([RedactionPattern(name="contact", regex=r"contact \S+ ext \d+")])
    redacted = redactor.redact("contact 13812345678 ext 4321 now")
    assert redacted == "[REDACTED:contact]138****5678[REDACTED:contact] now"


@pytest.mark.parametrize(
    ("regex", "reason"),
    [("(unclosed", "invalid regex"), ("x*", "empty string")],
)
def test_invalid_pattern_raises_naming_it(regex: str, reason: str) -> None:
    with pytest.raises(ValueError, match=rf"staff_no.*{reason}"):
        RedactionPattern(name="staff_no", regex=regex)
    unchecked = RedactionPattern.model_construct(name="staff_no", regex=regex, label=None)
    with pytest.raises(ValueError, match=rf"staff_no.*{reason}"):
        Redactor([unchecked])


def test_pattern_names_must_be_unique_and_not_builtin() -> None:
    with pytest.raises(ValueError, match="'phone'.*reserved"):
        RedactionPattern(name=PHONE, regex="x")
    twice = [RedactionPattern(name="a", regex="x"), RedactionPattern(name="a", regex="y")]
    with pytest.raises(ValueError, match="'a'.*twice"):
        Redactor(twice)


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_logging_filter_masks_percent_args_and_tracebacks() -> None:
    logger = logging.getLogger("irp.test_redact")
    logger.propagate = False
    handler = ListHandler()
    handler.addFilter(RedactingFilter(default_redactor()))
    logger.addHandler(handler)
    try:
        logger.warning(
            "user %s phone %s card %s", "li.lei@example.cn", 13812345678, "4111111111111111"
        )
        try:
            raise ValueError("lookup failed for 11010519491231002X")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    assert handler.lines[0] == "user l***@example.cn phone 138****5678 card **** **** **** 1111"
    assert "11010519491231002X" not in handler.lines[1]
    assert "110***********002X" in handler.lines[1]


def test_logging_filter_survives_a_broken_format_call() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "a %s %s", ("13812345678",), None)
    assert RedactingFilter().filter(record)
    assert "13812345678" not in record.getMessage()


def test_redact_data_walks_nested_structures() -> None:
    Contact = namedtuple("Contact", "name phone")
    data = {
        "13812345678": ["a@b.com", ("x", 13812345678), {"deep": ["手机13912345678"]}],
        "contact": Contact("Li", "13812345678"),
        "count": 3,
        "none": None,
    }
    assert default_redactor().redact_data(data) == {
        "13812345678": ["a***@b.com", ("x", 13812345678), {"deep": ["手机139****5678"]}],
        "contact": Contact("Li", "138****5678"),
        "count": 3,
        "none": None,
    }


def test_non_string_input_is_refused_with_the_field_name() -> None:
    with pytest.raises(TypeError, match="text"):
        default_redactor().redact(123)  # type: ignore[arg-type]


def test_findings_report_kinds_and_spans() -> None:
    text = "mail a@b.cn or call 13812345678"
    found = default_redactor().findings(text)
    assert [(f.kind, text[f.start : f.end]) for f in found] == [
        (EMAIL, "a@b.cn"),
        (PHONE, "13812345678"),
    ]
