"""The R package's install-time script (`configure`): basilisk's system-dir build and staged installation."""

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake_r_home(tmp_path):
    """An R_HOME whose bin/Rscript records the arguments it is called with."""
    bin_dir = tmp_path / "R" / "bin"
    bin_dir.mkdir(parents=True)
    rscript = bin_dir / "Rscript"
    rscript.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/rscript-args\n')
    rscript.chmod(0o755)
    return tmp_path


def _configure(r_home: Path, package_dir: str, **env) -> subprocess.CompletedProcess:
    environment = {"PATH": "/usr/bin:/bin", "R_HOME": str(r_home / "R"), "R_PACKAGE_DIR": package_dir, **env}
    return subprocess.run(["sh", "configure"], cwd=ROOT, env=environment, capture_output=True, text=True)


def test_description_keeps_staged_installation_so_r_cmd_check_adds_no_note():
    fields = dict(line.split(": ", 1) for line in (ROOT / "DESCRIPTION").read_text().splitlines()
                  if ": " in line and not line.startswith(" "))
    assert "StagedInstall" not in fields


def test_a_staged_system_dir_install_is_refused_with_the_command_that_works(fake_r_home):
    staged = "/lib/R/00LOCK-seqATAC/00new/seqATAC"
    result = _configure(fake_r_home, staged, BASILISK_USE_SYSTEM_DIR="1")
    assert result.returncode == 1
    assert "R CMD INSTALL --no-staged-install" in result.stderr
    assert 'INSTALL_opts = "--no-staged-install"' in result.stderr
    assert not (fake_r_home / "rscript-args").exists()  # nothing built where it would be moved away


@pytest.mark.parametrize("package_dir, env", [
    ("/lib/R/seqATAC", {"BASILISK_USE_SYSTEM_DIR": "1"}),        # non-staged system-dir build
    ("/lib/R/00LOCK-seqATAC/00new/seqATAC", {}),                 # R's default: basilisk builds on first use
])
def test_other_installs_hand_over_to_basilisk(fake_r_home, package_dir, env):
    result = _configure(fake_r_home, package_dir, **env)
    assert result.returncode == 0, result.stderr
    assert (fake_r_home / "rscript-args").read_text().strip() == "-e basilisk::configureBasiliskEnv()"
