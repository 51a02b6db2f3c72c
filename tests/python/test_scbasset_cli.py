"""The scBasset subcommands: fit scbasset, tf-activity, ism, denoise."""

import json
from pathlib import Path

import anndata as ad
import h5py
import numpy as np
from seqatac.cli import main
from seqatac.data import write_fasta
from test_scbasset import planted_data

MOTIFS = Path(__file__).parent.parent / "data" / "motifs" / "two.meme"
ARCH = ["--set", "seq_len=200", "--set", "n_filters_init=8", "--set", "stem_kernel_size=9", "--set",
        "n_tower_layers=2", "--set", "n_filters_pre_bottleneck=8", "--bottleneck", "4"]
RUN = ["--device", "cpu", "--precision", "fp32", "--threads", "1"]


def test_fit_then_analyses_from_the_command_line(tmp_path):
    adata, genome, truth = planted_data(n_peaks=120, n_cells=16)
    adata.write_h5ad(tmp_path / "atac.h5ad")
    fasta = write_fasta(genome, tmp_path / "genome.fa")
    out = tmp_path / "fit"
    assert main(["-q", "fit", "scbasset", "--atac", str(tmp_path / "atac.h5ad"), "--genome", str(fasta),
                 "--out", str(out), "--epochs", "2", *ARCH, *RUN]) == 0
    fitted = ad.read_h5ad(out / "adata.h5ad")
    assert fitted.obsm["X_scbasset"].shape == (16, 4)
    assert "scbasset_intercept" in fitted.obs
    assert (out / "model" / "config.json").is_file() and (out / "checkpoints" / "checkpoint.pt").is_file()
    assert set(json.loads((out / "metrics.json").read_text())["test"]) >= {"auroc_per_cell", "auroc_per_peak"}
    assert json.loads((out / "metrics.json").read_text())["epochs"] == 2
    bounded = tmp_path / "bounded"  # one step per epoch here (batch 128 > the training peaks): --max-steps 1 = 1 epoch
    assert main(["-q", "fit", "scbasset", "--atac", str(tmp_path / "atac.h5ad"), "--genome", str(fasta),
                 "--out", str(bounded), "--epochs", "2", "--max-steps", "1", *ARCH, *RUN]) == 0
    assert json.loads((bounded / "metrics.json").read_text())["epochs"] == 1

    assert main(["-q", "tf-activity", "--model", str(out / "model"), "--adata", str(out / "adata.h5ad"),
                 "--motifs", str(MOTIFS), "--n-backgrounds", "8", "--out", str(tmp_path / "tf.h5ad")]) == 0
    activity = ad.read_h5ad(tmp_path / "tf.h5ad").obsm["scbasset_tf"]
    assert activity.shape == (16, 2) and np.isfinite(activity.to_numpy()).all()

    peak = int(np.flatnonzero(truth["has_motif"])[0])
    region = adata.var_names[peak]
    assert main(["-q", "ism", "--model", str(out / "model"), "--region", region,
                 "--out", str(tmp_path / "ism.h5")]) == 0
    with h5py.File(tmp_path / "ism.h5") as handle:
        assert handle["ism"].shape == (1, 16, 200)

    assert main(["-q", "denoise", "--model", str(out / "model"), "--atac", str(tmp_path / "atac.h5ad"),
                 "--chunk-size", "50", "--out", str(tmp_path / "denoised.h5")]) == 0
    with h5py.File(tmp_path / "denoised.h5") as handle:
        values = handle["denoised"][:]
    assert values.shape == (16, 120) and ((values > 0) & (values < 1)).all()


def test_cli_reports_input_errors(tmp_path, capsys):
    code = main(["-q", "ism", "--model", str(tmp_path / "missing"), "--region", "chr1:1-10",
                 "--out", str(tmp_path / "x.h5")])
    assert code == 2
    assert "the model directory" in (error := capsys.readouterr().err) and "does not exist" in error
