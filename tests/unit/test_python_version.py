"""Which Python 3.13 `make venv` builds with: any installed 3.13.x, found as the Makefile's FIND_PY313 finds it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAKE = shutil.which("make")


def find_py313(cwd: Path, path: str, **env: str) -> str:
    """Run the Makefile's FIND_PY313 with only `path` to search, as `make venv` runs it."""
    assert MAKE is not None, "make is needed to build the venv"
    result = subprocess.run(
        [MAKE, "--no-print-directory", "-f", str(ROOT / "Makefile"), "--eval", "show: ; @$(FIND_PY313)", "show"],
        cwd=cwd,
        env={"PATH": path, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.stdout.strip()


def tools_only(tmp_path: Path) -> str:
    """A PATH with the shell tools FIND_PY313 uses and no python3.13 or pyenv on it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("ls", "sort", "tail"):
        found = shutil.which(tool)
        assert found is not None, tool
        (bin_dir / tool).symlink_to(found)
    return str(bin_dir)


def test_python_version_names_the_minor_version_not_a_patch_release():
    # `pyenv install 3.13` installs the newest 3.13.x; a pinned 3.13.0 would then be "not installed".
    assert (ROOT / ".python-version").read_text().strip() == "3.13"


def test_without_python313_on_path_the_newest_3_13_in_pyenvs_folder_is_used(tmp_path):
    pyenv_root = tmp_path / "pyenv"
    for version in ("3.12.9", "3.13.2", "3.13.10"):
        bin_dir = pyenv_root / "versions" / version / "bin"
        bin_dir.mkdir(parents=True)
        (bin_dir / f"python{version[:4]}").symlink_to(sys.executable)
    (tmp_path / "work").mkdir()

    found = find_py313(tmp_path / "work", tools_only(tmp_path), PYENV_ROOT=str(pyenv_root))

    assert found == str(pyenv_root / "versions" / "3.13.10" / "bin" / "python3.13")


def test_a_python313_on_path_is_used_by_the_interpreter_it_runs(tmp_path):
    path = tools_only(tmp_path)
    (Path(path) / "python3.13").symlink_to(sys.executable)  # what a pyenv shim or a distribution's link is

    found = find_py313(tmp_path, path, PYENV_ROOT=str(tmp_path / "no-pyenv"))

    # The interpreter's own path (for a pyenv shim: the real interpreter, not the shim), which is a 3.13
    ran = subprocess.run([found, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True)
    assert ran.stdout.strip() == "(3, 13)"


def test_none_found_is_empty(tmp_path):
    assert find_py313(tmp_path, tools_only(tmp_path), PYENV_ROOT=str(tmp_path / "no-pyenv")) == ""


@pytest.mark.skipif(shutil.which("pyenv") is None, reason="pyenv is not installed here: nothing of its to check")
def test_the_installed_pyenv_reads_the_prefix_as_its_newest_3_13():
    result = subprocess.run(
        ["pyenv", "version-name"],  # noqa: S607 - the user's pyenv, as their shell finds it
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "PYENV_VERSION"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("3.13.")
