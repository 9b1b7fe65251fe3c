"""make bench's Node peers: pinned exactly, installed only from the lock file, skipped (saying why) without node."""

from __future__ import annotations

import json
import re

from benchmarks import node_peers


def test_each_peer_is_pinned_to_one_exact_version_and_the_lock_file_holds_it():
    declared = json.loads(node_peers.PACKAGE.read_text())["dependencies"]
    locked = json.loads(node_peers.LOCK.read_text())["packages"]
    assert set(declared) == {peer.package for peer in node_peers.PEERS}
    for peer in node_peers.PEERS:
        version = node_peers.pinned_version(peer.package)
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{peer.package} is not pinned exactly: {version}"
        assert locked[f"node_modules/{peer.package}"]["version"] == version
        assert peer.name == f"{peer.package} {version}"
        assert (node_peers.NODE_DIR / peer.handler).is_file()


def test_without_node_the_peers_are_skipped_with_what_to_install(monkeypatch):
    monkeypatch.setattr(node_peers.shutil, "which", lambda name: None if name == "node" else f"/usr/bin/{name}")
    node, why = node_peers.prepare()
    assert node is None
    assert why.startswith("node not found on PATH: install Node.js 20 or later with npm")


def test_an_install_from_the_same_lock_file_is_not_repeated(monkeypatch, tmp_path):
    lock, stamp = tmp_path / "package-lock.json", tmp_path / "stamp"
    lock.write_text("{}")
    monkeypatch.setattr(node_peers, "LOCK", lock)
    monkeypatch.setattr(node_peers, "STAMP", stamp)
    monkeypatch.setattr(node_peers.shutil, "which", lambda name: f"/usr/bin/{name}")
    ran: list[list[str]] = []

    def run(command, **kwargs):
        ran.append(command)
        return node_peers.subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(node_peers.subprocess, "run", run)
    assert node_peers.prepare() == ("/usr/bin/node", "")  # installs: no stamp yet
    assert node_peers.prepare() == ("/usr/bin/node", "")  # the same lock file: no second install
    lock.write_text('{"changed": true}')
    assert node_peers.prepare() == ("/usr/bin/node", "")  # a changed lock file installs again
    assert [command[:2] for command in ran] == [["/usr/bin/npm", "ci"]] * 2
