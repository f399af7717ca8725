"""The key that hashes codes and signs links: from the environment (`IRP_IDENTITY_KEY`) or a
file made once under IRP_HOME with mode 0600. Never logged, never printed."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from irp.errors import InvalidInput
from irp.settings import Settings, get_settings

KEY_FILE = "identity.key"
PRIVATE = 0o600


def key_file(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).resolved_home / "run" / KEY_FILE


def identity_key(settings: Settings | None = None) -> bytes:
    """The environment's key, else the home's key file (created with mode 0600 on first use;
    one found readable by others is refused, not used)."""
    settings = settings or get_settings()
    if settings.identity_key is not None:
        return settings.identity_key.get_secret_value().encode()
    path = key_file(settings)
    if not path.exists():
        _create(path)
    if path.stat().st_mode & 0o077:
        raise InvalidInput(f"{path}: readable by others; `chmod 600` it (it signs gate links)")
    return path.read_bytes().strip()


def _create(path: Path) -> None:
    """Write a new key beside `path`, then link it in: two processes starting at once agree on
    one key, and nobody reads a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE)
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_urlsafe(32))
    try:
        os.link(draft, path)
    except FileExistsError:
        pass
    finally:
        draft.unlink()
