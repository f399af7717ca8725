"""Property: whatever an authenticated sender posts, the webhook answers below 500 on the
database it runs on (a 5xx makes Alertmanager retry a poison message for ever). Bodies are
random JSON rich in what databases disagree on (NUL, long text, huge numbers, edge
timestamps), mutated real fixtures, form fields and raw bytes, over real HTTP."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deployments.webhook import CONTENT_TYPES
from irp.settings import database_url_in_use
from tests.webhook.conftest import AUTH

FIXTURES = Path(__file__).parent.parent / "alerts" / "fixtures"
SAMPLES = {
    "alertmanager": ["alertmanager"],
    "grafana": ["grafana"],
    "cloudevents": ["cloudevents"],
    "generic": ["generic", "suricata", "wazuh", "tencent"],
}
EDGES = [
    "\x00",
    "a\x00b",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z",
    "2025-11-03T08:15:30+14:00",
    "9999-12-31T23:59:59-01:00",
    "2025-11-03T08:15:30.5+0800",
    "firing",
    "resolved",
    "alert",
    "network_attack",
    "告警",
    "\ud800",
]
LONG = st.integers(201, 6000).map(lambda n: "y" * n)  # past every column's width
TEXT = st.text(max_size=20) | st.sampled_from(EDGES) | LONG
NUMBER = (
    st.integers()
    | st.sampled_from([10**30, -(10**400), 2**63, 0, -1, 16, 17])
    | st.floats(allow_nan=False, allow_infinity=False)
)
JSON = st.recursive(
    st.none() | st.booleans() | NUMBER | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=5),
    max_leaves=20,
)


def load(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def spots(node: Any) -> list[tuple[Any, Any]]:
    found: list[tuple[Any, Any]] = []
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        found.append((node, key))
        if isinstance(value, dict | list):
            found.extend(spots(value))
    return found


@st.composite
def mutated(draw: st.DrawFn, names: list[str]) -> bytes:
    """A real sample with one to four values replaced or removed."""
    body = copy.deepcopy(load(draw(st.sampled_from(names))))
    for _ in range(draw(st.integers(1, 4))):
        places = spots(body)
        if not places:
            break
        parent, key = draw(st.sampled_from(places))
        if draw(st.booleans()):
            del parent[key]
        else:
            parent[key] = draw(JSON)
    return json.dumps(body).encode()


@st.composite
def poisoned(draw: st.DrawFn, names: list[str]) -> bytes:
    """A real sample whose string values (what lands in text columns) turn hostile: NUL,
    longer than their column, edge timestamps."""
    body = copy.deepcopy(load(draw(st.sampled_from(names))))
    strings = [(p, k) for p, k in spots(body) if isinstance(p[k], str)]
    for parent, key in draw(st.lists(st.sampled_from(strings), min_size=1, max_size=4)):
        hostile = draw(
            st.sampled_from(EDGES) | LONG | st.text(min_size=1).map(lambda t: t + "\x00")
        )
        parent[key] = hostile if draw(st.booleans()) else parent[key] + hostile
    return json.dumps(body).encode()


def bodies(source: str) -> st.SearchStrategy[tuple[bytes, str]]:
    json_type = st.sampled_from(CONTENT_TYPES[source])
    as_json = st.one_of(
        poisoned(SAMPLES[source]),
        mutated(SAMPLES[source]),
        JSON.map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=200),
    )
    choices = st.tuples(as_json, json_type)
    if "application/x-www-form-urlencoded" in CONTENT_TYPES[source]:
        form = st.lists(st.tuples(TEXT, TEXT), max_size=8).map(
            lambda pairs: urlencode(pairs, errors="surrogatepass").encode()
        ) | st.binary(max_size=200)
        choices = choices | st.tuples(form, st.just("application/x-www-form-urlencoded"))
    return choices


@pytest.mark.parametrize("source", list(SAMPLES))
def test_random_bodies_never_get_a_5xx(live: str, source: str) -> None:
    database = database_url_in_use().split(":", 1)[0]
    answers: dict[int, int] = {}
    with httpx.Client(base_url=live, headers=AUTH, timeout=30) as client:

        @settings(
            max_examples=120,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(sent=bodies(source))
        def below_500(sent: tuple[bytes, str]) -> None:
            body, ctype = sent
            answer = client.post(f"/alerts/{source}", content=body, headers={"Content-Type": ctype})
            answers[answer.status_code] = answers.get(answer.status_code, 0) + 1
            assert answer.status_code < 500, (database, body[:300], answer.text)
            if answer.status_code >= 400:
                assert answer.json()["detail"]

        below_500()
    assert answers.get(202, 0) > 0, answers  # the bodies reached storage, not only the parser
