"""Report files leave irp through one door: masked, written whole, or a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from irp.errors import ReportNotWritten
from irp.redact import default_redactor
from irp.reporting.report import write_masked

pytestmark = pytest.mark.no_database


def test_files_are_masked_and_the_masked_text_is_returned(tmp_path: Path) -> None:
    folder = tmp_path / "reports" / "INC-1"
    written = write_masked(
        folder, {"report.md": "Reporter: SOC analyst Li Wei, 13812345678"}, default_redactor()
    )
    assert written == {"report.md": "Reporter: SOC analyst Li Wei, 138****5678"}
    assert (folder / "report.md").read_text(encoding="utf-8") == written["report.md"]


def test_a_full_disk_keeps_the_last_report_whole_and_names_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "INC-1"
    folder.mkdir()
    (folder / "report.md").write_text("the report of yesterday", encoding="utf-8")
    (folder / ".report.md.partial").symlink_to("/dev/full")  # every write: ENOSPC

    with pytest.raises(ReportNotWritten) as raised:
        write_masked(folder, {"report.md": "today's report"}, default_redactor())

    assert str(raised.value) == f"{folder / 'report.md'} not written: No space left on device"
    assert (folder / "report.md").read_text(encoding="utf-8") == "the report of yesterday"
    assert sorted(p.name for p in folder.iterdir()) == ["report.md"]


def test_a_file_where_the_folder_should_be_is_named(tmp_path: Path) -> None:
    (tmp_path / "reports").write_text("not a folder")
    folder = tmp_path / "reports" / "INC-1"

    with pytest.raises(ReportNotWritten) as raised:
        write_masked(folder, {"report.md": "text"}, default_redactor())

    assert (
        str(raised.value) == f"{folder} not written: {tmp_path / 'reports'} is a file, not a folder"
    )
