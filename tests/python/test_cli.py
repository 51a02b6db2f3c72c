"""The `seqatac` command line: help on every subcommand, outputs only under --out, clear errors."""

import json

import anndata as ad
import pytest
from seqatac.cli import build_parser, main

SUBCOMMANDS = sorted(build_parser()._subparsers._group_actions[0].choices)


@pytest.mark.parametrize("command", [None, *SUBCOMMANDS])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"] if command is None else [command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: seqatac" in capsys.readouterr().out


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim")
    assert main(["-q", "simulate", "--preset", "tiny", "--seed", "3", "--no-rna", "--set", "n_cells=150",
                 "--out", str(out)]) == 0
    return out


def test_simulate_writes_data_genome_and_truth(simulated):
    assert sorted(p.name for p in simulated.iterdir()) == ["atac.h5ad", "genome.fa", "genome.fa.fai", "truth.json"]
    atac = ad.read_h5ad(simulated / "atac.h5ad")
    assert atac.n_obs == 150 and {"cell_type", "batch"} <= set(atac.obs.columns)
    assert json.loads((simulated / "truth.json").read_text())["seed"] == 3


def test_lsi_chromvar_evaluate_pipeline(simulated, tmp_path):
    lsi_h5ad, chromvar_h5ad, metrics = tmp_path / "lsi.h5ad", tmp_path / "cv.h5ad", tmp_path / "m.json"
    assert main(["-q", "lsi", "--atac", str(simulated / "atac.h5ad"), "--n-components", "10",
                 "--out", str(lsi_h5ad)]) == 0
    assert ad.read_h5ad(lsi_h5ad).obsm["X_lsi"].shape == (150, 10)
    truth = json.loads((simulated / "truth.json").read_text())
    motif_file = tmp_path / "motifs.jaspar"
    from seqatac.data import jaspar

    ids = truth["tfs"]["columns"]["motif_id"]  # DataFrames are stored as {"index": ..., "columns": {...}}
    with motif_file.open("w") as handle:
        for motif in jaspar(ids=ids):
            handle.write(f">{motif.id} {motif.name}\n")
            for base, column in zip("ACGT", motif.pfm.T):
                handle.write(f"{base} [ {' '.join(f'{value * 100:.0f}' for value in column)} ]\n")
    assert main(["-q", "chromvar", "--atac", str(simulated / "atac.h5ad"), "--genome", str(simulated / "genome.fa"),
                 "--motifs", str(motif_file), "--out", str(chromvar_h5ad)]) == 0
    assert ad.read_h5ad(chromvar_h5ad).obsm["chromvar"].shape[1] == len(ids)
    assert main(["-q", "evaluate", "--adata", str(lsi_h5ad), "--embedding", "X_lsi", "--label-key", "cell_type",
                 "--batch-key", "batch", "--out", str(metrics)]) == 0
    result = json.loads(metrics.read_text())
    assert 0 <= result["metrics"]["leiden_ari"] <= 1 and result["n_cells"] == 150


def test_bad_input_exits_2_with_the_fix_and_writes_nothing(simulated, tmp_path, capsys):
    out = tmp_path / "metrics.json"
    code = main(["-q", "evaluate", "--adata", str(simulated / "atac.h5ad"), "--embedding", "X_nope",
                 "--label-key", "cell_type", "--out", str(out)])
    assert code == 2
    error = capsys.readouterr().err
    assert "X_nope" in error and "evaluate: error" in error
    assert not out.exists() and list(tmp_path.iterdir()) == []
    assert main(["simulate", "--preset", "tiny", "--set", "n_cells", "--out", str(tmp_path / "x")]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err
    assert main(["simulate", "--preset", "tiny", "--set", "n_celz=5", "--out", str(tmp_path / "x")]) == 2
    assert "unknown simulation parameter" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
