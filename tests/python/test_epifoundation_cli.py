"""The EpiFoundation subcommands: `seqatac fit epifoundation`, `seqatac annotate`, `seqatac predict-expression`."""

import json

import anndata as ad
import numpy as np
import pytest
from seqatac.cli import main
from test_epifoundation import planted_data

ARCHITECTURE = ["--preset", "tiny", "--set", "max_len=64", "--set", "max_genes=32"]
TRAINING = ["--epochs", "1", "--max-cells", "16", "--max-tokens", "512", "--threads", "1", "--lr", "3e-3"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_pretrain_fine_tune_annotate_and_predict_from_the_command_line(tmp_path, capsys):
    atac, rna = planted_data(n_cells=48)
    atac.write_h5ad(tmp_path / "atac.h5ad")
    rna.write_h5ad(tmp_path / "rna.h5ad")
    common = ["--atac", str(tmp_path / "atac.h5ad"), "--rna", str(tmp_path / "rna.h5ad")]

    assert main(["-q", "fit", "epifoundation", "--mode", "pretrain", *common, *ARCHITECTURE, *TRAINING,
                 "--out", str(tmp_path / "pre")]) == 0
    assert json.loads((tmp_path / "pre" / "history.json").read_text())["mode"] == "pretrain"
    assert "EpiFoundation" not in capsys.readouterr().err  # -q: no progress bar, not even the final prediction's
    assert main(["-q", "fit", "epifoundation", "--mode", "annotate", *common, "--labels-key", "cell_type",
                 "--model", str(tmp_path / "pre" / "model"), *TRAINING, "--out", str(tmp_path / "ann")]) == 0
    assert main(["-q", "fit", "epifoundation", "--mode", "expression", *common,
                 "--model", str(tmp_path / "ann" / "model"), *TRAINING, "--out", str(tmp_path / "expr")]) == 0
    trained = ad.read_h5ad(tmp_path / "expr" / "adata.h5ad")
    assert trained.obsm["X_epifoundation"].shape == (48, 32)
    assert "epifoundation_expression" in ad.read_h5ad(tmp_path / "expr" / "rna.h5ad").layers

    model = ["--model", str(tmp_path / "expr" / "model"), "--atac", str(tmp_path / "atac.h5ad"), "--threads", "1"]
    assert main(["-q", "annotate", *model, "--out", str(tmp_path / "annotated.h5ad")]) == 0
    annotated = ad.read_h5ad(tmp_path / "annotated.h5ad")
    assert set(annotated.obs["epifoundation_cell_type"].astype(str)) <= {"t0", "t1", "t2"}
    assert annotated.obs["epifoundation_cell_type_confidence"].between(0, 1).all()

    assert main(["-q", "predict-expression", *model, "--out", str(tmp_path / "expression.h5ad")]) == 0
    predicted = ad.read_h5ad(tmp_path / "expression.h5ad")
    assert predicted.shape == (48, 24) and list(predicted.var_names[:2]) == ["g0", "g1"]
    assert np.isfinite(predicted.layers["epifoundation_expression"]).all()

    # a model without an annotation head: a clear error, exit status 2
    assert main(["-q", "annotate", "--model", str(tmp_path / "pre" / "model"), "--atac", str(tmp_path / "atac.h5ad"),
                 "--out", str(tmp_path / "no.h5ad")]) == 2
    assert not (tmp_path / "no.h5ad").exists()


def test_annotation_without_rna_from_the_command_line_with_the_defaults_and_unassigned_cells(tmp_path):
    atac, _ = planted_data(n_cells=60)
    atac[:45].copy().write_h5ad(tmp_path / "reference.h5ad")
    atac[45:].copy().write_h5ad(tmp_path / "query.h5ad")
    assert main(["-q", "fit", "epifoundation", "--mode", "annotate", "--atac", str(tmp_path / "reference.h5ad"),
                 "--labels-key", "cell_type", *ARCHITECTURE, "--epochs", "3", "--max-cells", "16",
                 "--max-tokens", "512", "--head-warmup-epochs", "1", "--threads", "1",
                 "--out", str(tmp_path / "ann")]) == 0
    config = json.loads((tmp_path / "ann" / "model" / "config.json").read_text())
    params = config["params"]
    assert params["peak_init"]["method"] == "lsi"  # an untrained model starts from LSI
    assert params["annotate_training"]["lr"] == 1e-3 and params["annotate_training"]["class_weight"] == "balanced"
    assert params["annotate_training"]["head_warmup_epochs"] == 1
    model = ["--model", str(tmp_path / "ann" / "model"), "--atac", str(tmp_path / "query.h5ad"), "--threads", "1"]
    assert main(["-q", "annotate", *model, "--min-confidence", "0.4", "--out", str(tmp_path / "q.h5ad")]) == 0
    query = ad.read_h5ad(tmp_path / "q.h5ad")
    confidence = query.obs["cell_type_transferred_confidence"].to_numpy()
    unassigned = query.obs["cell_type_transferred"].astype(str).to_numpy() == "unassigned"
    np.testing.assert_array_equal(unassigned, confidence < 0.4)
    np.testing.assert_allclose(confidence, query.obs["epifoundation_cell_type_confidence"], rtol=1e-6)
    with pytest.raises(SystemExit) as exit_status:
        main(["-q", "annotate", *model, "--min-confidence", "2", "--out", str(tmp_path / "bad.h5ad")])
    assert exit_status.value.code == 2 and not (tmp_path / "bad.h5ad").exists()
