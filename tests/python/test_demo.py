"""`seqatac demo` on `tiny`: all three models (a few steps each) beside the baselines, every promised file
well-formed, one self-contained HTML report; plus the report's plotting helpers."""

import base64
import contextlib
import io
import json
import re
import time

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from seqatac import pl
from seqatac.cli import main
from seqatac.data import Motif

METHODS = ["lsi", "chromvar", "cellspace", "epifoundation_pretrained", "epifoundation", "scbasset", "gene_activity"]
N_PLOTS = 10  # 6 embeddings, TF-activity heatmap, training curves, de novo logos, confusion matrix


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    printed, errors = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(errors):
        code = main(["demo", "--preset", "tiny", "--out", str(out)])
    seconds = time.perf_counter() - started
    assert code == 0, printed.getvalue()[-3000:] + errors.getvalue()[-3000:]
    return {"out": out, "printed": printed.getvalue(), "errors": errors.getvalue(), "seconds": seconds}


def test_runs_all_three_models_on_tiny_within_a_minute(demo):
    assert demo["seconds"] < 60, f"the tiny demo took {demo['seconds']:.0f} s"
    written = {p.name for p in demo["out"].iterdir()}
    assert {"atac.h5ad", "rna.h5ad", "metrics.json", "metrics.csv", "report.html"} <= written
    assert not [name for name in written if name.startswith(".")], "a temporary file was left behind"


def test_prints_one_line_per_stage_then_the_table_and_the_report(demo):
    printed = demo["printed"]
    for stage in ("simulate", "LSI + chromVAR", "CellSpace", "EpiFoundation", "scBasset", "evaluate", "report"):
        assert re.search(rf"^\[\s*[\d.]+ s\] {re.escape(stage)}.*\d s ", printed, re.MULTILINE), f"no line for {stage}"
    for stream in (printed, demo["errors"]):  # no progress bars and no INFO logs flooding a non-terminal output
        assert "\r" not in stream and "it/s" not in stream and " INFO " not in stream
    table_header = next(line for line in printed.splitlines() if line.split()[:2] == ["LSI", "chromVAR"])
    assert table_header.split() == ["LSI", "chromVAR", "CellSpace", "EpiF(pretrain)", "EpiF(tuned)", "scBasset",
                                    "gene_act"]
    assert "label_score_k50" in printed and "annotation_accuracy" in printed
    assert f"Report: {(demo['out'] / 'report.html').resolve()}" in printed


def test_atac_and_rna_hold_every_result(demo):
    atac = ad.read_h5ad(demo["out"] / "atac.h5ad")
    for key in ("X_lsi", "chromvar", "X_cellspace", "cellspace_tf", "X_epifoundation", "X_epifoundation_pretrained",
                "X_scbasset", "scbasset_tf"):
        assert key in atac.obsm, key
        assert np.isfinite(np.asarray(atac.obsm[key], dtype=float)).all() or key == "chromvar", key
    assert {f"X_tsne_{m}" for m in METHODS[:-1]} <= set(atac.obsm)
    for column in ("leiden", "epifoundation_cell_type", "epifoundation_cell_type_confidence", "held_out"):
        assert column in atac.obs, column
    assert set(atac.obsm["cellspace_tf"].columns) == set(atac.uns["simulation"]["tfs"]["tf"])
    rna = ad.read_h5ad(demo["out"] / "rna.h5ad")
    assert (rna.obs_names == atac.obs_names).all()
    assert np.isfinite(rna.layers["epifoundation_expression"]).all()


def test_metrics_have_a_row_per_method(demo):
    metrics = json.loads((demo["out"] / "metrics.json").read_text())
    assert set(metrics["methods"]) == set(METHODS)  # (keys sorted in the JSON)
    table = pd.read_csv(demo["out"] / "metrics.csv", index_col="method")
    assert list(table.index) == METHODS
    assert {"label_score_k50", "ilisi", "total", "driver_top1", "annotation_accuracy",
            "expression_pearson"} <= set(table.columns)
    for method in METHODS[:-1]:
        assert 0 <= table.loc[method, "label_score_k50"] <= 1
        assert metrics["embedding"][method]["n_cells"] == metrics["data"]["n_cells"]
    for method in ("chromvar", "cellspace", "scbasset"):  # TF activity → driver recovery
        assert 0 <= table.loc[method, "driver_top1"] <= table.loc[method, "driver_top3"] <= 1
    assert np.isnan(table.loc["lsi", "driver_top1"])
    for method in ("epifoundation", "lsi"):  # held-out batch annotation (LSI: LSI + kNN)
        assert 0 <= table.loc[method, "annotation_macro_f1"] <= 1
    assert np.isfinite(table.loc[["epifoundation", "gene_activity"], "expression_pearson"]).all()
    assert table.loc["scbasset", "epochs"] == metrics["scbasset"]["epochs"] == metrics["settings"]["scbasset_epochs"]
    assert metrics["annotation"]["n_test"] > 0 and metrics["denovo_motifs"]["n_planted"] > 0
    assert {"simulate", "CellSpace", "EpiFoundation", "scBasset"} <= set(metrics["timings_s"])


def test_report_is_one_self_contained_html_file(demo):
    text = (demo["out"] / "report.html").read_text(encoding="utf-8")
    metrics = json.loads((demo["out"] / "metrics.json").read_text())
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert text.count("data:image/png;base64,") >= max(N_PLOTS, metrics["report_figures"])
    assert len(images) >= N_PLOTS
    assert all(base64.b64decode(image)[:8] == b"\x89PNG\r\n\x1a\n" for image in images)
    assert not re.search(r'src="(?!data:)', text), "a file or URL reference"
    assert 'src="http' not in text and "<script" not in text.lower() and "<link" not in text.lower()
    assert not re.search(r'href="(?!#)', text)
    for heading in ("Metrics", "Cell embeddings", "TF activity", "Training curves", "De novo motifs", "EpiFoundation"):
        assert heading in text
    assert "<table" in text and "label_score_k50" in text


def test_best_alignment_finds_the_reverse_complement_and_offset():
    rng = np.random.default_rng(0)
    target = rng.dirichlet(np.full(4, 0.3), size=8)
    query = np.vstack([np.full((2, 4), 0.25), target[::-1, ::-1]])  # two flat columns, then the reverse complement
    offset, reverse, score = pl._logo.best_alignment(query, target)
    assert (offset, reverse) == (2, True) and score > 0.7


def test_report_helpers_refuse_what_they_cannot_show(tmp_path):
    with pytest.raises(ValueError, match="Figure, a DataFrame or a str"):
        pl.html_report([("x", [42])], title="t")
    figure = pl.motif_matches([(Motif("m", "m", np.eye(4)), None)], save=tmp_path / "logo.png")
    assert (tmp_path / "logo.png").stat().st_size > 0 and figure is not None
    text = pl.html_report([("logo", ["Note: a note", pd.DataFrame({"a": [0.5]})])], title="t <&>")
    assert "t &lt;&amp;&gt;" in text and 'class="note"' in text
