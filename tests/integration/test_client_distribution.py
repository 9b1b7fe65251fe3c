"""The client library as a caller team gets it: clients/python built into a wheel on its own, installed in a clean
venv with nothing but its declared dependencies, and run from outside the repository against the local Okta.

Offline: the wheel is built with this venv's setuptools (no build isolation), and the dependencies are the
installed distributions of this venv (same pins), copied file by file from their RECORDs, so the clean venv holds
exactly the client and what its metadata asks for, and `pip check` can vouch for it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from email.parser import HeaderParser
from importlib import metadata
from pathlib import Path

import jwt
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from okta_local.testing import LocalOkta

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "clients" / "python"
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]


def run(argv: list[str | Path], **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=300, check=False, **kwargs)
    assert result.returncode == 0, f"{argv}\n{result.stdout}\n{result.stderr}"
    return result


def wheel_metadata(wheel: Path) -> list[tuple[str, str]]:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return HeaderParser().parsestr(archive.read(name).decode()).items()


def closure(requirements: list[str]) -> list[metadata.Distribution]:
    """The installed distributions these requirements need, their own requirements included (no extras)."""
    found: dict[str, metadata.Distribution] = {}
    pending = [Requirement(text) for text in requirements]
    while pending:
        requirement = pending.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(requirement.name)
        if name in found:
            continue
        found[name] = dist = metadata.distribution(requirement.name)
        assert requirement.specifier.contains(dist.version, prereleases=True), (requirement, dist.version)
        pending += [Requirement(text) for text in dist.requires or []]
    return list(found.values())


def copy_installed(dist: metadata.Distribution, site_packages: Path) -> None:
    """Put an installed distribution's files (its code and its .dist-info) into another venv's site-packages."""
    for file in dist.files or []:
        if file.parts[0] == ".." or "__pycache__" in file.parts:
            continue  # console scripts live outside site-packages; caches are rebuilt
        target = site_packages / file
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(dist.locate_file(file), target)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A copy of clients/python alone: the build must not reach for anything else of the repository.
    source = tmp_path_factory.mktemp("client-source") / "python"
    shutil.copytree(CLIENT, source, ignore=shutil.ignore_patterns("*.egg-info", "build", "__pycache__"))
    out = tmp_path_factory.mktemp("wheels")
    run([*PIP, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "--wheel-dir", out, source])
    (built,) = out.glob("okta_m2m_client-*.whl")
    return built


@pytest.fixture(scope="module")
def clean_venv(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    venv = tmp_path_factory.mktemp("caller") / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv])
    python = venv / "bin" / "python"
    run([*PIP, "--python", python, "install", "--no-deps", "--no-index", wheel])
    purelib = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    requires = [value for key, value in wheel_metadata(wheel) if key == "Requires-Dist"]
    for dist in closure(requires):
        copy_installed(dist, purelib)
    return venv


def test_the_wheel_asks_for_requests_and_the_dpop_libraries_and_nothing_else(wheel):
    info = wheel_metadata(wheel)
    assert [value for key, value in info if key == "Requires-Dist"] == [
        "requests<3,>=2.32",
        "pyjwt<3,>=2.10",
        "cryptography>=44",
    ]
    assert dict(info)["Name"] == "okta-m2m-client"
    with zipfile.ZipFile(wheel) as archive:
        packages = {name.split("/")[0] for name in archive.namelist() if not name.startswith("okta_m2m_client-")}
        assert packages == {"m2m_client"}
        assert "m2m_client/py.typed" in archive.namelist()


def test_the_clean_venv_holds_the_client_and_its_dependencies_only(clean_venv):
    python = clean_venv / "bin" / "python"
    run([*PIP, "--python", python, "check"])  # every requirement of every installed distribution is met
    listed = json.loads(run([*PIP, "--python", python, "list", "--format", "json"]).stdout)
    names = {canonicalize_name(entry["name"]) for entry in listed}
    assert names == {
        *("okta-m2m-client", "requests", "urllib3", "idna", "charset-normalizer", "certifi"),
        *("pyjwt", "cryptography", "cffi", "pycparser"),  # DPoP proofs: ES256 with a P-256 key of its own
    }


def test_the_installed_cli_gets_a_token_from_outside_the_repository(clean_venv, tmp_path):
    with LocalOkta(tmp_path / "okta") as okta:
        env_file = tmp_path / "client.env"
        env_file.write_text(
            f"ISSUER={okta.issuer}\nCLIENT_ID={okta.env['CLIENT_ID']}\n"
            f"CLIENT_SECRET={okta.env['CLIENT_SECRET']}\nDEFAULT_SCOPE=hello\n"
        )
        # -I: no PYTHONPATH, no user site, no current folder; the console script is the package's entry point
        for argv in (
            [clean_venv / "bin" / "python", "-I", "-m", "m2m_client", "--env-file", env_file, "token"],
            [clean_venv / "bin" / "m2m-client", "--env-file", env_file, "token"],
        ):
            token = run(argv, cwd=tmp_path, env={"PATH": "/usr/bin:/bin"}).stdout.strip()
            key = jwt.PyJWKClient(okta.jwks_uri).get_signing_key_from_jwt(token).key
            claims = jwt.decode(token, key, algorithms=["RS256"], audience="api://default", issuer=okta.issuer)
            assert claims["cid"] == okta.env["CLIENT_ID"] and claims["scp"] == ["hello"]


def test_the_installed_library_is_the_wheels_not_the_repositorys(clean_venv, tmp_path):
    where = run([clean_venv / "bin" / "python", "-I", "-c", "import m2m_client; print(m2m_client.__file__)"])
    assert Path(where.stdout.strip()).is_relative_to(clean_venv)
