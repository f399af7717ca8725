"""Bad command lines get the usage and exit 2, in every command group; never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from irp.cli.main import main

pytestmark = pytest.mark.no_database

BAD_USAGE = [
    ["foo"],
    ["notifications", "list"],
    ["metrics", "--bogus"],
    ["alerts", "bogus"],
    ["alerts", "list", "--limit", "0"],
    ["webhook", "--port", "many"],
    ["clocks", "bogus"],
    ["clocks", "stop"],
    ["drills", "bogus"],
    ["drills", "audit", "--bogus"],
    ["plan", "bogus"],
    ["incidents", "show"],
    ["evidence", "add", "INC-1"],
    ["approve"],
    ["drill", "data-breach", "--bogus"],
    ["up", "--bogus"],
]


@pytest.mark.parametrize("argv", BAD_USAGE, ids=" ".join)
def test_bad_usage_prints_usage_and_exits_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"Usage: irp {argv[0]}" in err or "Usage: irp [OPTIONS]" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("argv", [[], ["clocks"], ["notifications"]], ids=repr)
def test_no_arguments_shows_help_and_exits_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    shown = capsys.readouterr()
    assert "Commands" in shown.out + shown.err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["metrics", "--help"]) == 0
    assert "--format" in capsys.readouterr().out


def test_the_console_script_prints_no_traceback() -> None:
    """The installed `irp` entry point, as a person runs it."""
    done = subprocess.run(
        [sys.executable, "-c", "from irp.cli.main import run; run()", "notifications", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "No such command 'list'" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
