"""The Prefect API's secret file: made once with mode 0600, kept across starts."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from irp.prefect_auth import basic_auth_header, load_or_create, read_auth_file

pytestmark = pytest.mark.no_database


def test_made_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "home" / "prefect-auth"
    secret = load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create(path) == secret == read_auth_file(path)
    assert secret != load_or_create(tmp_path / "other" / "prefect-auth")
    assert [p.name for p in path.parent.iterdir()] == ["prefect-auth"]  # no temporary left


def test_a_file_others_can_read_is_narrowed(tmp_path: Path) -> None:
    path = tmp_path / "prefect-auth"
    path.write_text("ops:kept\n")
    path.chmod(0o644)
    assert load_or_create(path) == "ops:kept"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_header_is_what_prefect_checks() -> None:
    assert basic_auth_header("irp:s3cret") == {"Authorization": "Basic aXJwOnMzY3JldA=="}


def test_a_stack_given_its_secret_keeps_no_file(tmp_path: Path) -> None:
    """IRP_PREFECT_AUTH_STRING (from a vault) is used as is; no copy lands on disk."""
    from irp.stack import Stack, StackConfig

    given = Stack(StackConfig(home=tmp_path / "given", auth_string="ops:from-the-vault"))
    assert given.auth_string == "ops:from-the-vault" and given.config.auth_file is None
    assert not (tmp_path / "given").exists()
    made = Stack(StackConfig(home=tmp_path / "made", auth_string=""))
    assert made.config.auth_file == tmp_path / "made" / "prefect-auth"
    assert made.auth_string == read_auth_file(tmp_path / "made" / "prefect-auth")
