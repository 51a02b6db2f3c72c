"""EpiFoundation under torchrun: 2 gloo (CPU) processes equal one process accumulating 2 micro-batches."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from seqatac.models import EpiFoundation
from test_epifoundation import TINY, planted_data

OPTIONS = dict(max_epochs=2, max_cells=8, max_tokens=512, verbose=False)

SCRIPT = """
import json, os, sys
sys.path.insert(0, {tests!r})
import torch
import torch.distributed as dist
from seqatac.models import EpiFoundation
from test_epifoundation import TINY, planted_data

atac, rna = planted_data(n_cells=48)
model = EpiFoundation(atac, rna, random_state=2, **TINY)
history = model.pretrain(checkpoint_dir={checkpoints!r}, **{options!r})
if os.environ["RANK"] == "0":
    torch.save(model.module.state_dict(), {weights!r})
    with open({out!r}, "w") as handle:
        json.dump({{"loss": history["loss"].tolist(), "world": os.environ["WORLD_SIZE"],
                   "initialized_after": dist.is_initialized()}}, handle)
"""


@pytest.mark.slow
def test_two_gloo_processes_equal_one_process_with_gradient_accumulation(tmp_path, torchrun_two_processes):
    out, weights = tmp_path / "ddp.json", tmp_path / "ddp.pt"
    script = tmp_path / "train_ddp.py"
    script.write_text(SCRIPT.format(tests=str(Path(__file__).parent), checkpoints=str(tmp_path / "ckpt"),
                                    options=OPTIONS, weights=str(weights), out=str(out)))
    torchrun_two_processes(script)
    result = json.loads(out.read_text())
    assert result["world"] == "2" and result["initialized_after"] is False
    assert (tmp_path / "ckpt" / "checkpoint.pt").is_file()

    atac, rna = planted_data(n_cells=48)
    single = EpiFoundation(atac, rna, random_state=2, **TINY)
    history = single.pretrain(grad_accumulation=2, **OPTIONS)
    # rank r runs global micro-batches r, r + 2, ...; DDP averages their gradients like accumulating two
    np.testing.assert_allclose(result["loss"], history["loss"], rtol=1e-5)
    ddp_state = torch.load(weights, weights_only=True)
    for key, value in single.module.state_dict().items():
        torch.testing.assert_close(ddp_state[key], value, rtol=1e-4, atol=1e-5)
