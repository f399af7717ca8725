"""Personal data in a reporter, a summary, a description, a gate's approver and comments never
leaves irp in clear: not in the report files, the drill evidence, the Prefect artifacts and run
logs, nor in what the CLI prints (text and JSON)."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Any

import pytest

from flows.registry import FLOWS
from irp.cli.main import main
from irp.settings import get_settings
from models.enums import IncidentType
from tests.factories import make_intake
from tests.flows.answerer import BREACH_GROUPS, Answer, Answerer, closing

pytestmark = [pytest.mark.usefixtures("prefect_api"), pytest.mark.slow]

REPORTER = "SOC analyst Li Wei, 13812345678"
CLEAR = (
    "13812345678",
    "li.wei@example.com",
    "11010519491231002X",
    "6222021234567890128",
    "6222 0212 3456 7890 128",
)
MASKED = ("138****5678", "l***@example.com", "110***********002X", "**** **** **** 0128")


def _assert_masked(where: str, text: str, *, shows: tuple[str, ...] = MASKED) -> None:
    leaked = [value for value in CLEAR if value in text]
    assert leaked == [], f"{where} leaks {leaked}"
    missing = [value for value in shows if value not in text]
    assert missing == [], f"{where} lacks the masked {missing}"


def test_every_exit_masks_what_people_typed(capsys: pytest.CaptureFixture[str]) -> None:
    """A data-breach drill whose people put personal data everywhere they can type."""
    intake = make_intake(
        IncidentType.data_breach,
        reporter=REPORTER,
        summary="Order export leak, first seen by li.wei@example.com",
        description="Resident ID 11010519491231002X and card 6222 0212 3456 7890 128 exposed",
    )
    answers = [
        Answer("activation", "approve", "13812345678", comment="call me on 13812345678"),
        Answer(
            "activation",
            "approve",
            "cio",
            comment="card 6222021234567890128 was used; ask li.wei@example.com",
        ),
        Answer("user_notice", "approve", "legal_counsel"),
        *closing(
            BREACH_GROUPS,
            Answer("signoff", "approve", "ciso", comment="owner 11010519491231002X confirmed"),
        ),
    ]
    with Answerer(answers, deadline_s=180) as answerer:
        incident_id = FLOWS[IncidentType.data_breach](intake=intake, drill=True)
    assert answerer.errors == [] and answerer.exit_codes == [2] + [0] * (len(answers) - 1)

    folder = get_settings().reports_dir / incident_id
    for name in ("report.md", "report.html", "timeline.csv"):
        _assert_masked(name, (folder / name).read_text(encoding="utf-8"))
    _assert_masked("drill-record.md", (folder / "drill-record.md").read_text(), shows=MASKED[:2])
    _assert_masked("drill-record.html", (folder / "drill-record.html").read_text(), shows=())
    _assert_masked("scorecard.csv", (folder / "scorecard.csv").read_text(), shows=())

    with (folder / "timeline.csv").open(encoding="utf-8") as handle:
        actors = {row["kind"]: row["actor"] for row in csv.DictReader(handle)}
    assert actors["reported"] == "SOC analyst Li Wei, 138****5678"
    assert actors["gate_refused"] == "138****5678"

    _assert_artifacts_masked(incident_id)
    _assert_cli_masked(incident_id, capsys)


def _assert_artifacts_masked(incident_id: str) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    prefix = ArtifactFilterKey(like_=f"{incident_id.lower()}-%")
    with get_client(sync_client=True) as client:
        artifacts = {
            a.key: a for a in client.read_artifacts(artifact_filter=ArtifactFilter(key=prefix))
        }
    key = incident_id.lower()
    assert {f"{key}-report", f"{key}-measures", f"{key}-drill-record"} <= set(artifacts)
    _assert_masked("report artifact", str(artifacts[f"{key}-report"].data))
    _assert_masked("measures artifact", json.dumps(artifacts[f"{key}-measures"].data), shows=())
    _assert_masked("evidence artifact", str(artifacts[f"{key}-drill-record"].data), shows=())


def _assert_cli_masked(incident_id: str, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["incidents", "show", incident_id]) == 0
    _assert_masked("incidents show", capsys.readouterr().out, shows=MASKED[:1])

    assert main(["incidents", "show", incident_id, "--json"]) == 0
    detail: dict[str, Any] = json.loads(capsys.readouterr().out)
    _assert_masked("incidents show --json", json.dumps(detail, ensure_ascii=False))
    assert detail["reporter"] == "SOC analyst Li Wei, 138****5678"
    assert detail["id"] == incident_id and detail["report"].endswith("report.md")

    assert main(["incidents", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["reporter"] for r in rows] == ["SOC analyst Li Wei, 138****5678"]
    _assert_masked("incidents list --json", json.dumps(rows), shows=MASKED[:2])

    assert main(["incidents", "list"]) == 0
    _assert_masked("incidents list", capsys.readouterr().out, shows=())


@pytest.mark.no_database
def test_run_logs_sent_to_prefect_are_masked() -> None:
    from prefect import flow, get_run_logger
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.runtime import flow_run

    import tasks.common  # noqa: F401  (every irp flow imports it: it masks the run loggers)

    @flow
    def says_too_much() -> str:
        get_run_logger().warning("reporter %s, card %s", REPORTER, "6222021234567890128")
        return str(flow_run.get_id())

    run_id = says_too_much()
    deadline = time.monotonic() + 30
    messages: list[str] = []
    while time.monotonic() < deadline and not any("reporter" in m for m in messages):
        with get_client(sync_client=True) as client:
            logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])))
        messages = [log.message for log in logs]
        time.sleep(0.2)
    said = next(m for m in messages if "reporter" in m)
    assert said == "reporter SOC analyst Li Wei, 138****5678, card **** **** **** 0128"


def test_a_report_of_a_plan_with_its_own_pattern_masks_that_too(tmp_path: Path) -> None:
    from tests.factories import plan_data, write_plan

    data = plan_data()
    data["notifications"]["redaction_patterns"] = [
        {"name": "employee", "regex": r"EMP-\d{4}", "label": "employee id"}
    ]
    plan = write_plan(tmp_path, data)
    incident_id = FLOWS[IncidentType.system_failure](
        intake=make_intake(IncidentType.system_failure, reporter="EMP-1024, 13812345678"),
        drill=True,
        auto_approve=True,
        plan_file=str(plan),
    )
    text = (get_settings().reports_dir / incident_id / "timeline.csv").read_text()
    assert "EMP-1024" not in text and "[REDACTED:employee id], 138****5678" in text
    _assert_masked("timeline.csv", text, shows=MASKED[:1])
