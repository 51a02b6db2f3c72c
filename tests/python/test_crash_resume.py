"""Crash-safe training: `seqatac fit <model>` killed with SIGKILL mid-epoch, then `--resume`, ends bit for bit
where an uninterrupted run ends (CPU, one thread, same seed), for a tiny model of each kind. Also the
``seqatac.settings.deterministic`` switch (docs/determinism.md).

The run to kill is a real subprocess of the command line; it is killed a third of an epoch after its first
end-of-epoch checkpoint appears (an epoch takes about a second here), so it dies inside epoch 2. The
uninterrupted reference and the resumed run go through the same command line in-process (`seqatac.cli.main`),
which spares two interpreter start-ups per model; the resumed run rebuilds everything from the files on disk.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import anndata as ad
import numpy as np
import pytest
import torch
from seqatac import SeqatacWarning, _keys, settings
from seqatac.cli import main
from seqatac.data import Genome, read_atac
from seqatac.models import ScBasset
from seqatac.models import _training as T
from seqatac.models.cellspace import CellSpace
from seqatac.models.cellspace import _model as cellspace_model
from seqatac.simulate import simulate_atac, write_simulation

EPOCHS = 3
RUN = ["--threads", "1", "--seed", "3", "--epochs", str(EPOCHS)]
TORCH_RUN = ["--device", "cpu", "--precision", "fp32"]


@dataclass(frozen=True)
class Case:
    """How to train one model from the command line and where its checkpoint lives under ``--out``."""

    arguments: list[str]
    checkpoint_files: tuple[str, ...]  # every file a checkpoint consists of (relative to --out)
    final_outputs: tuple[str, ...]  # what only a finished run writes
    embedding_key: str


CASES = {
    # 80 steps of 10 peaks per epoch: about a second each
    "scbasset": Case(["scbasset", "--batch-size", "10", "--bottleneck", "4", "--set", "seq_len=200",
                      "--set", "n_filters_init=8", "--set", "stem_kernel_size=9", "--set", "n_tower_layers=2",
                      "--set", "n_filters_pre_bottleneck=8", *TORCH_RUN],
                     ("checkpoints/checkpoint.pt",), ("model", "adata.h5ad", "metrics.json"), _keys.SCBASSET_OBSM),
    "cellspace": Case(["cellspace", "--no-tf-activity", "--set", "bucket=4096", "--set", "examples_per_event=10",
                       "--set", "n_latent=8"],
                      ("checkpoints/cells.tsv", "checkpoints/config.json", "checkpoints/kmer_counts.npy",
                       "checkpoints/model.pt"), ("model", "adata.h5ad", "metrics.json"), _keys.CELLSPACE_OBSM),
    "epifoundation": Case(["epifoundation", "--mode", "pretrain", "--preset", "tiny", "--set", "max_len=64",
                           "--set", "max_genes=32", "--max-cells", "8", "--max-tokens", "512", "--lr", "3e-3",
                           *TORCH_RUN],
                          ("checkpoints/pretrain/checkpoint.pt",), ("model", "adata.h5ad", "history.json"),
                          _keys.EPIFOUNDATION_OBSM),
}


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> dict[str, Path]:
    return write_simulation(simulate_atac("tiny", random_state=0, rna=True), tmp_path_factory.mktemp("sim"))


def command(name: str, simulated: dict[str, Path], out: Path) -> list[str]:
    data = ["--atac", str(simulated["atac"]), "--out", str(out)]
    data += ["--rna", str(simulated["rna"])] if name == "epifoundation" else ["--genome", str(simulated["genome"])]
    return ["-q", "fit", *CASES[name].arguments, *data, *RUN]


def checkpoint_progress(name: str, out: Path) -> tuple[int, list[float]]:
    """(epochs done, seconds of each of them) recorded by the checkpoint under ``out``."""
    if name == "cellspace":
        meta = json.loads((out / "checkpoints" / "config.json").read_text())
        return meta["epochs_done"], meta["history"]["seconds"]
    state = T.load_checkpoint(out / CASES[name].checkpoint_files[0])
    return int(state["epoch"]), [record["seconds"] for record in state["history"]]


def final_progress(name: str, out: Path) -> list[float]:
    """Seconds of every epoch in the history of the finished run under ``out``."""
    if name == "cellspace":
        return json.loads((out / "metrics.json").read_text())["history"]["seconds"]
    if name == "epifoundation":
        return [record["seconds"] for record in json.loads((out / "history.json").read_text())["history"]]
    return [record["seconds"] for record in json.loads((out / "model" / "config.json").read_text())["history"]]


def kill_mid_epoch_two(process: subprocess.Popen, name: str, out: Path, timeout: float = 240.0) -> None:
    """SIGKILL ``process`` a third of an epoch after its first checkpoint (written atomically after epoch 1)
    appears.

    The wait is 0.3 times epoch 1's duration as the checkpoint records it (epoch 1 is the slowest, it pays
    one-time costs), so the kill lands inside epoch 2 whatever the machine's speed, after that epoch has
    taken steps that the checkpoint does not hold.
    """
    marker = out / CASES[name].checkpoint_files[-1]
    deadline = time.monotonic() + timeout
    try:
        while process.poll() is None and time.monotonic() < deadline and not marker.exists():
            time.sleep(0.005)
        if marker.exists():
            time.sleep(0.3 * checkpoint_progress(name, out)[1][0])
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)


def all_files(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}


@pytest.mark.parametrize("name", list(CASES))
def test_sigkill_mid_epoch_then_resume_equals_an_uninterrupted_run(name, simulated, tmp_path):
    case = CASES[name]
    killed, reference = tmp_path / "killed", tmp_path / "reference"
    with open(tmp_path / "stderr.txt", "wb") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "seqatac.cli", *command(name, simulated, killed)],
                                   stdout=subprocess.DEVNULL, stderr=stderr)
        killer = threading.Thread(target=kill_mid_epoch_two, args=(process, name, killed))
        killer.start()
        try:
            assert main(command(name, simulated, reference)) == 0  # the reference trains meanwhile
        finally:
            killer.join()
            process.wait()
    assert process.returncode == -signal.SIGKILL, (tmp_path / "stderr.txt").read_text()[-2000:]

    # died inside a later epoch: a complete checkpoint of an earlier one, no final output, no temp file
    done, seconds_before_kill = checkpoint_progress(name, killed)
    assert 1 <= done < EPOCHS
    assert all_files(killed) == set(case.checkpoint_files)
    assert not any((killed / output).exists() for output in case.final_outputs)

    assert main(command(name, simulated, killed) + ["--resume"]) == 0
    # the resumed run continued: its first epochs are the killed run's own records, not a fresh start
    resumed_seconds = final_progress(name, killed)
    assert len(resumed_seconds) == EPOCHS and resumed_seconds[:done] == seconds_before_kill
    assert resumed_seconds[:done] != final_progress(name, reference)[:done]

    expected = torch.load(reference / "model" / "model.pt", weights_only=True)
    weights = torch.load(killed / "model" / "model.pt", weights_only=True)
    assert weights.keys() == expected.keys()
    differing = [key for key in expected if not torch.equal(weights[key], expected[key])]
    assert not differing, f"{name}: weights differ after resume: {differing}"
    np.testing.assert_array_equal(ad.read_h5ad(killed / "adata.h5ad").obsm[case.embedding_key],
                                  ad.read_h5ad(reference / "adata.h5ad").obsm[case.embedding_key])
    assert not [path for path in all_files(killed) if Path(path).name.startswith(".")]  # no stray temp files


def test_deterministic_setting_holds_while_training_only_and_changes_nothing_on_cpu(simulated, monkeypatch):
    adata, genome = read_atac(simulated["atac"]), Genome(simulated["genome"])
    ScBasset.setup_anndata(adata)
    flags, weights = {}, {}
    for deterministic in (False, True):
        monkeypatch.setattr(settings, "deterministic", deterministic)
        model = ScBasset(adata, genome, random_state=0, seq_len=200, n_filters_init=8, stem_kernel_size=9,
                         n_tower_layers=2, n_filters_pre_bottleneck=8, bottleneck_size=4)
        seen = flags[deterministic] = set()
        model.module.register_forward_hook(lambda *_: seen.add(
            (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic,
             torch.backends.cudnn.benchmark)))
        model.fit(max_epochs=1, batch_size=64, device="cpu", precision="fp32", n_threads=1, verbose=False)
        weights[deterministic] = model.module.state_dict()
    assert flags[True] == {(True, True, False)} and flags[False] == {(False, False, False)}
    assert not torch.are_deterministic_algorithms_enabled()  # restored after training
    assert all(torch.equal(weights[True][key], value) for key, value in weights[False].items())

    # CellSpace: one worker instead of Hogwild threads unless asked, and a warning when asked
    CellSpace.setup_anndata(adata)
    monkeypatch.setattr(cellspace_model, "_available_cores", lambda: 2)
    fast = dict(random_state=0, bucket=4096, examples_per_event=2, n_latent=8)
    one = CellSpace(adata, genome, **fast).fit(1, n_threads=1, verbose=False).get_latent_representation()
    default = CellSpace(adata, genome, **fast).fit(1, verbose=False).get_latent_representation()
    np.testing.assert_array_equal(default, one)
    with pytest.warns(SeqatacWarning, match="nondeterministic"):
        CellSpace(adata, genome, **fast).fit(1, n_threads=2, verbose=False)
    monkeypatch.setattr(settings, "deterministic", False)
    hogwild = CellSpace(adata, genome, **fast).fit(1, verbose=False).get_latent_representation()
    assert not np.array_equal(hogwild, one)
