"""Read and write DIR/okta.env: KEY=VALUE lines, private to the user (mode 0600)."""

from __future__ import annotations

import os
from pathlib import Path

ENV_FILE = "okta.env"


def read_env(path: Path) -> dict[str, str]:
    """Return the KEY=VALUE pairs of an env file, or an empty dict if there is none."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    pairs = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def write_private(path: Path, text: str) -> None:
    """Replace a file atomically; the new file is created with mode 0600 before anything is written."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, path)


def write_env(path: Path, values: dict[str, str]) -> None:
    """Replace the env file atomically, private to the user."""
    lines = [f"{key}={value}\n" for key, value in values.items()]
    write_private(
        path, "# Written by okta_local (a development tool). Holds secrets: keep it private.\n" + "".join(lines)
    )
