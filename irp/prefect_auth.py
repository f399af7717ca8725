"""The Prefect API's secret: Prefect's basic-auth string (`user:password`), which the server
enforces (PREFECT_SERVER_API_AUTH_STRING) and every client presents (PREFECT_API_AUTH_STRING).

Prefect's open-source server has no login of its own: without this, anyone who reaches the API
can resume a paused gate. `irp up` makes one on its first start and keeps it in a file only its
owner can read; clients find the file through stack.json, which names it but never holds it.
"""

from __future__ import annotations

import base64
import os
import secrets
import stat
from pathlib import Path

AUTH_FILE_NAME = "prefect-auth"
AUTH_USER = "irp"
AUTH_VARIABLE = "IRP_PREFECT_AUTH_STRING"
"""Given, the stack uses this secret and writes no file (an external secret store)."""
FILE_MODE = 0o600


def auth_file(home: Path) -> Path:
    return home / AUTH_FILE_NAME


def read_auth_file(path: Path) -> str | None:
    """The secret in `path`, or None when there is no such file (or it is empty)."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return text or None


def load_or_create(path: Path) -> str:
    """The secret kept in `path`; on the first start a new random one, written with mode 0600
    before any byte of it is. A file others could read is narrowed to 0600."""
    existing = read_auth_file(path)
    if existing is not None:
        if stat.S_IMODE(path.stat().st_mode) != FILE_MODE:
            path.chmod(FILE_MODE)
        return existing
    secret = f"{AUTH_USER}:{secrets.token_urlsafe(32)}"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(secret + "\n")
    tmp.replace(path)
    return secret


def basic_auth_header(auth_string: str) -> dict[str, str]:
    """The header Prefect's server checks, for plain HTTP calls to its API."""
    token = base64.b64encode(auth_string.encode("utf-8")).decode("ascii")
    return {"Authorization": f"Basic {token}"}
