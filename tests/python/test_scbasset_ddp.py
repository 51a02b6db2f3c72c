"""scBasset under torchrun: a 2-process gloo (CPU) DDP run follows the single-process loss curve."""

import json
from pathlib import Path

import numpy as np
import pytest
from seqatac.models import ScBasset
from test_scbasset import FIT, SMALL, planted_data

SCRIPT = """
import json, sys
sys.path.insert(0, {tests!r})
import torch.distributed as dist
from seqatac.models import ScBasset
from test_scbasset import FIT, SMALL, planted_data

adata, genome, _ = planted_data(n_peaks=400, n_cells=40)
model = ScBasset(adata, genome, random_state=0, **SMALL)
model.fit(max_epochs=4, checkpoint_dir={checkpoints!r}, **FIT)
import os
if os.environ["RANK"] == "0":
    with open({out!r}, "w") as handle:
        json.dump({{"history": model.history.to_dict(orient="list"), "world": os.environ["WORLD_SIZE"],
                   "initialized_after": dist.is_initialized()}}, handle)
"""


@pytest.mark.slow
def test_two_process_gloo_run_matches_single_process_loss_curve(tmp_path, torchrun_two_processes):
    out = tmp_path / "ddp.json"
    script = tmp_path / "train_ddp.py"
    script.write_text(SCRIPT.format(tests=str(Path(__file__).parent), checkpoints=str(tmp_path / "ckpt"),
                                    out=str(out)))
    torchrun_two_processes(script)
    result = json.loads(out.read_text())
    assert result["world"] == "2" and result["initialized_after"] is False  # the group is cleaned up
    assert (tmp_path / "ckpt" / "checkpoint.pt").is_file()

    adata, genome, _ = planted_data(n_peaks=400, n_cells=40)
    single = ScBasset(adata, genome, random_state=0, **SMALL)
    single.fit(max_epochs=4, **FIT)
    ddp_loss = np.array(result["history"]["train_loss"])
    single_loss = single.history["train_loss"].to_numpy()
    # same data order, augmentation and loss; only BatchNorm sees half batches per rank
    np.testing.assert_allclose(ddp_loss, single_loss, rtol=0.03)
    assert ddp_loss[-1] < ddp_loss[0]
    np.testing.assert_allclose(result["history"]["train_auroc"], single.history["train_auroc"], atol=0.03)
