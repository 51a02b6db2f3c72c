"""Shared pytest fixtures."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

# In CI the repository is cloned with the project's shared/ folder beside it.
SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Folder of the real scATAC fixtures (example_counts.h5ad, atac_small_peaks.h5ad)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real fixtures not found: {SHARED_DATA} (the shared/ folder beside the repo)")
    return SHARED_DATA


@pytest.fixture
def one_torch_thread():
    """One torch thread for the test (tiny models only lose from thread start-up on a busy machine)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def torchrun_two_processes():
    """Run a script under ``torch.distributed.run`` as 2 CPU processes (one thread each); assert it succeeds."""

    def run(script: Path) -> subprocess.CompletedProcess:
        completed = subprocess.run(
            [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(script)],
            capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        assert completed.returncode == 0, completed.stderr[-3000:]
        return completed

    return run
