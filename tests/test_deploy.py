"""The systemd units in deploy/: `systemd-analyze verify` where it runs, the settings the
deployment relies on, and a foreground run of the backup unit's command."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from conftest import ROOT

DEPLOY = ROOT / "deploy"
UNITS = ["archivist.service", "archivist@.service", "archivist-backup.service"]
VENV_BIN = "/opt/archivist/.venv/bin"
LOCAL_BIN = str(Path(sys.executable).parent)  # where this checkout's `archivist` is


def unit(name: str) -> dict[str, dict[str, list[str]]]:
    """section -> key -> every value, in order (a unit repeats keys such as Environment=;
    configparser keeps only the last)."""
    sections: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    section = ""
    for raw in (DEPLOY / name).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        sections[section][key.strip()].append(value.strip())
    return sections


def environment(service: dict[str, list[str]]) -> dict[str, str]:
    out = {}
    for line in service["Environment"]:
        for pair in shlex.split(line):
            key, _, value = pair.partition("=")
            out[key] = value
    return out


def verify_available() -> str | None:
    """Why `systemd-analyze verify` cannot be used here, or None."""
    if shutil.which("systemd-analyze") is None:
        return "systemd-analyze is not installed (apt-get install systemd)"
    probe = subprocess.run(["systemd-analyze", "--version"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"systemd-analyze does not run here: {probe.stderr.strip()}"
    return None


def verify(folder: Path, *names: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["systemd-analyze", "verify", *(str(folder / n) for n in names)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def local_copy(tmp_path: Path) -> Path:
    """The units with the venv of /opt/archivist replaced by this checkout's (verify checks
    that ExecStart's program exists), the template as instance 0."""
    folder = tmp_path / "units"
    folder.mkdir()
    for path in DEPLOY.iterdir():
        text = path.read_text().replace(VENV_BIN, LOCAL_BIN)
        (folder / path.name).write_text(text)
    shutil.copy(folder / "archivist@.service", folder / "archivist@0.service")
    return folder


def test_units_pass_systemd_analyze_verify(tmp_path):
    reason = verify_available()
    if reason:
        pytest.skip(reason)
    folder = local_copy(tmp_path)
    names = [*UNITS, "archivist@0.service", "archivist-backup.timer"]
    result = verify(folder, *names)
    # verify exits 0 on unknown keys and bad values: any message about our files is a defect
    assert result.returncode == 0, result.stderr
    assert not [line for line in result.stderr.splitlines() if str(folder) in line], result.stderr

    # the same run does report a misspelt key and a bad value, so the silence above means it
    broken = folder / "archivist.service"
    broken.write_text(
        broken.read_text().replace("PrivateTmp=yes", "PrivateTmpp=yes\nProtectHome=maybe")
    )
    result = verify(folder, "archivist.service")
    assert "Unknown key 'PrivateTmpp'" in result.stderr
    assert "Failed to parse" in result.stderr


@pytest.mark.parametrize("name", ["archivist.service", "archivist@.service"])
def test_bot_units_hardening_and_settings(name):
    service = unit(name)["Service"]
    env = environment(service)
    assert service["User"] == ["archivist"] and service["Group"] == ["archivist"]
    assert service["EnvironmentFile"] == ["/etc/archivist/env"]
    assert service["Restart"] == ["on-failure"]
    assert service["StateDirectory"] == ["archivist"]
    assert env["ARCHIVIST_DATA"] == "/var/lib/archivist"
    assert env["ARCHIVIST_CACHE_DIR"].startswith("/var/lib/archivist/")  # writable: the export
    assert service["ExecStart"] == [f"{VENV_BIN}/archivist bot"]
    for key, value in {
        "ProtectSystem": "strict",
        "PrivateTmp": "yes",
        "NoNewPrivileges": "yes",
        "ProtectHome": "yes",
        "ProtectKernelTunables": "yes",
        "ProtectKernelModules": "yes",
        "ProtectControlGroups": "yes",
        "LockPersonality": "yes",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
    }.items():
        assert service[key] == [value], key
    assert service["ReadWritePaths"] == ["/var/lib/archivist"]
    # torch (the one-time ONNX export, the fallback model) writes code into memory it runs
    assert "MemoryDenyWriteExecute" not in service
    # the reader workers set their memory limit and priority (archivist.sandbox)
    assert "@resources" not in " ".join(service["SystemCallFilter"])
    assert unit(name)["Install"]["WantedBy"] == ["multi-user.target"]


def test_shard_template_takes_its_shards_from_the_instance():
    env = environment(unit("archivist@.service")["Service"])
    assert env["ARCHIVIST_SHARD_IDS"] == "%i"
    assert "ARCHIVIST_SHARD_COUNT" not in env  # the total is the same for all: the env file


def test_backup_timer_runs_the_backup_service():
    timer = unit("archivist-backup.timer")
    assert timer["Timer"]["OnCalendar"] and timer["Timer"]["Persistent"] == ["true"]
    assert timer["Install"]["WantedBy"] == ["timers.target"]
    service = unit("archivist-backup.service")["Service"]
    assert service["Type"] == ["oneshot"]
    assert f"{VENV_BIN}/archivist backup" in service["ExecStart"][0]
    assert service["StateDirectory"] == ["archivist archivist-backup"]


def test_backup_unit_command_runs_in_the_foreground(tmp_path):
    """The backup service's own command lines, with its paths moved under tmp_path, make a
    dated copy that opens as a data folder, and keep recent copies."""
    from archivist.archive import Archive
    from archivist.embedding import DIM, MODEL_NAME, HashingEmbedder

    service = unit("archivist-backup.service")["Service"]
    data, backups = tmp_path / "data", tmp_path / "backups"
    # stands in for the model under its name: `archivist backup` opens the archive, never the model
    embedder = HashingEmbedder(dim=DIM)
    embedder.name = MODEL_NAME
    article = tmp_path / "a.txt"
    article.write_text("Rates held\n\nThe central bank kept its interest rate at 4 percent.\n")
    archive = Archive(data, embedder=embedder)
    try:
        assert len(archive.add_paths([article], collection="default").added) == 1
    finally:
        archive.close()
    backups.mkdir()
    (backups / "20000101-000000").mkdir()  # older than 14 days: removed after the backup
    os.utime(backups / "20000101-000000", (946684800, 946684800))

    def local(text: str) -> str:
        text = text.replace(VENV_BIN, LOCAL_BIN).replace("%%", "%")
        text = text.replace("/var/lib/archivist-backup", str(backups))
        return text.replace("/var/lib/archivist", str(data))

    env = {"PATH": f"{LOCAL_BIN}:/usr/bin:/bin", "HOME": str(tmp_path)}
    env.update({key: local(value) for key, value in environment(service).items()})
    for command in (service["ExecStart"][0], service["ExecStartPost"][0]):
        done = subprocess.run(
            shlex.split(local(command)), env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr

    (copy,) = backups.iterdir()
    assert copy.name[:2] == "20" and copy.name != "20000101-000000"
    restored = Archive(copy, embedder=embedder)
    try:
        assert restored.stats().articles == 1
    finally:
        restored.close()
