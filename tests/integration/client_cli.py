"""Run the m2m_client command line as a separate process, the way a user runs it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path


def run_m2m_client(env_file: Path, settings: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Write settings to env_file as KEY=value lines, then run `python -m m2m_client --env-file env_file *args`."""
    env_file.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
    argv = [sys.executable, "-m", "m2m_client", "--env-file", str(env_file), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
