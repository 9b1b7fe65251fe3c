"""The client commands the README and the docs show work as printed, after the README's two commands: they run the
venv's Python (or the installed client's `m2m-client`), and the CLI's own parser accepts their arguments."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from m2m_client.__main__ import build_parser

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(?:bash|sh|shell)\n(.*?)^```", re.MULTILINE | re.DOTALL)
RUNNERS = (".venv/bin/python -m m2m_client", "m2m-client")


def client_commands() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for block in FENCE.findall(page.read_text(encoding="utf-8")):
            for line in block.splitlines():
                command = line.split("  #", 1)[0].strip()
                if "m2m_client" in command or command.startswith("m2m-client"):
                    found.append((page.name, command))
    return found


COMMANDS = client_commands()


def test_the_docs_show_client_commands():
    assert len(COMMANDS) >= 10, COMMANDS  # the README's tour, the client page, operating clients


@pytest.mark.parametrize(("page", "command"), COMMANDS, ids=[f"{p}:{c}" for p, c in COMMANDS])
def test_each_client_command_runs_as_printed(page, command):
    runner = next((r for r in RUNNERS if command.startswith(r + " ")), None)
    assert runner, f"{page}: {command!r} needs the venv (.venv/bin/python -m m2m_client) or m2m-client"
    build_parser().parse_args(shlex.split(command[len(runner) :]))  # exits (fails the test) on a bad argument
