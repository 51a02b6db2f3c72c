"""`seqatac transfer-labels` on real cells (Schep 2017): joint embedding, shared-space checks, bad inputs (exit 2,
one line naming the fix, nothing written)."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from seqatac.baselines import spectral
from seqatac.cli import main
from sklearn.model_selection import train_test_split


@pytest.fixture(scope="module")
def halves(shared_data):
    """300 Schep 2017 cells (12 types), split in a stratified reference half and query half."""
    cells = ad.read_h5ad(shared_data / "schep2017_cogaps.h5ad")
    labels = cells.obs["cell_type"].astype(str).to_numpy()
    keep, _ = train_test_split(np.arange(cells.n_obs), train_size=300, stratify=labels, random_state=0)
    cells = cells[np.sort(keep)].copy()
    reference, query = train_test_split(np.arange(cells.n_obs), train_size=0.5,
                                        stratify=cells.obs["cell_type"], random_state=0)
    return cells, cells[np.sort(reference)].copy(), cells[np.sort(query)].copy()


def _write(tmp_path, **objects):
    paths = {}
    for name, adata in objects.items():
        paths[name] = tmp_path / f"{name}.h5ad"
        adata.write_h5ad(paths[name])
    return paths


def _run(reference, query, out, *extra):
    return main(["-q", "transfer-labels", "--reference", str(reference), "--query", str(query),
                 "--label-key", "cell_type", *extra, "--out", str(out)])


def _accuracy(labelled, key="cell_type_transferred"):
    return float(np.mean(labelled.obs[key].astype(str) == labelled.obs["cell_type"].astype(str)))


def test_joint_spectral_labels_the_query_and_writes_csv(halves, tmp_path):
    _, reference, query = halves
    query = query[:, np.random.default_rng(0).permutation(query.n_vars)].copy()  # same peaks, another order
    paths = _write(tmp_path, reference=reference, query=query)
    out, csv = tmp_path / "labelled.h5ad", tmp_path / "labels.csv"
    assert _run(paths["reference"], paths["query"], out, "--joint-embedding", "spectral", "--csv", str(csv)) == 0
    labelled = ad.read_h5ad(out)
    assert labelled.obs_names.equals(query.obs_names) and labelled.n_vars == query.n_vars
    assert labelled.obsm["X_spectral"].shape[0] == query.n_obs
    confidence = labelled.obs["cell_type_transferred_confidence"].to_numpy()
    assert np.all((confidence > 0) & (confidence <= 1))
    predicted = labelled.obs["cell_type_transferred"].astype(str)
    assigned = (predicted != "unassigned").to_numpy()
    assert 0.3 < assigned.mean() < 0.95  # 0.64 measured: below a majority of 15 neighbours -> "unassigned"
    truth = labelled.obs["cell_type"].astype(str)
    assert np.mean(predicted[assigned] == truth[assigned]) >= 0.75  # 12 types, chance ≈ 0.08; 0.84 measured
    params = labelled.uns["cell_type_transferred"]["params"]
    assert params["joint_embedding"] == "spectral" and params["n_neighbors"] == 15
    table = pd.read_csv(csv, index_col="cell")
    assert list(table.columns) == ["cell_type_transferred", "cell_type_transferred_confidence"]
    assert table.index.equals(query.obs_names)
    np.testing.assert_allclose(table["cell_type_transferred_confidence"], confidence)


def test_joint_lsi_writes_its_embedding_and_run_record(halves, tmp_path):
    _, reference, query = halves
    paths = _write(tmp_path, reference=reference, query=query)
    out = tmp_path / "labelled.h5ad"
    assert _run(paths["reference"], paths["query"], out, "--joint-embedding", "lsi", "--min-confidence", "0") == 0
    labelled = ad.read_h5ad(out)
    assert labelled.obsm["X_lsi"].shape == (query.n_obs, 30)
    assert labelled.uns["lsi"]["joint_with_reference_cells"] == reference.n_obs
    assert _accuracy(labelled) >= 0.6  # 0.75 measured; chance ≈ 0.08


def test_an_embedding_split_from_one_run_is_accepted(halves, tmp_path):
    cells, reference, query = halves
    embedded = cells.copy()
    spectral(embedded)
    paths = _write(tmp_path, reference=embedded[reference.obs_names].copy(), query=embedded[query.obs_names].copy())
    for method in ("knn", "logistic"):
        out = tmp_path / f"{method}.h5ad"
        assert _run(paths["reference"], paths["query"], out, "--method", method, "--min-confidence", "0",
                    "--key-added", "label") == 0
        labelled = ad.read_h5ad(out)
        assert "unassigned" not in set(labelled.obs["label"].astype(str))
        assert _accuracy(labelled, "label") >= 0.6  # 0.72 (knn) and 0.74 (logistic) measured; chance ≈ 0.08
        assert labelled.uns["label"]["params"]["method"] == method


def test_separately_embedded_files_are_refused_unless_assumed_shared(halves, tmp_path, capsys):
    _, reference, query = halves
    reference, query = reference.copy(), query.copy()
    spectral(reference)
    spectral(query)
    paths = _write(tmp_path, reference=reference, query=query)
    out = tmp_path / "labelled.h5ad"
    assert _run(paths["reference"], paths["query"], out) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert "separate embedding runs" in error and "--joint-embedding spectral" in error
    assert not out.exists()
    assert _run(paths["reference"], paths["query"], out, "--assume-shared-space") == 0  # the user's call
    assert out.exists()


def test_an_embedding_of_unknown_origin_needs_the_users_word(halves, tmp_path, capsys):
    _, reference, query = halves
    reference, query = reference.copy(), query.copy()
    for adata in (reference, query):
        adata.obsm["X_pca"] = np.random.default_rng(0).normal(size=(adata.n_obs, 5))
    paths = _write(tmp_path, reference=reference, query=query)
    out = tmp_path / "labelled.h5ad"
    assert _run(paths["reference"], paths["query"], out, "--embedding-key", "X_pca") == 2
    error = capsys.readouterr().err
    assert "cannot tell" in error and "--assume-shared-space" in error and not out.exists()
    assert _run(paths["reference"], paths["query"], out, "--embedding-key", "X_pca", "--assume-shared-space") == 0


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing-embedding", "has no obsm['X_spectral']"),
        ("missing-label-key", "no obs column 'cell_type'"),
        ("different-peaks", "different peaks"),
        ("missing-file", "does not exist"),
        ("csv-is-out", "same file"),
        ("key-added-is-the-query's-own-column", "already has an obs column 'cell_type'"),
    ],
)
def test_bad_inputs_exit_2_with_the_fix_and_write_nothing(case, message, halves, tmp_path, capsys):
    _, reference, query = halves
    reference = reference.copy()
    if case == "missing-label-key":
        reference.obs = reference.obs.rename(columns={"cell_type": "type"})
    if case == "different-peaks":
        query = query[:, 10:].copy()
    paths = _write(tmp_path, reference=reference, query=query)
    out = tmp_path / "labelled.h5ad"
    extra = [] if case == "missing-embedding" else ["--joint-embedding", "spectral"]
    if case == "csv-is-out":
        extra += ["--csv", str(out)]
    if case.startswith("key-added"):  # the query's true labels would be replaced by the transferred ones
        extra += ["--key-added", "cell_type"]
    query_path = tmp_path / "absent.h5ad" if case == "missing-file" else paths["query"]
    before = sorted(p.name for p in tmp_path.iterdir())
    assert _run(paths["reference"], query_path, out, *extra) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and message in error and "Fix:" in error, error
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_option_values_are_checked_by_the_parser(halves, tmp_path, capsys):
    for bad in (["--min-confidence", "1.5"], ["--k", "0"], ["--method", "svm"], ["--csv", str(tmp_path)]):
        with pytest.raises(SystemExit) as info:
            _run(tmp_path / "r.h5ad", tmp_path / "q.h5ad", tmp_path / "o.h5ad", *bad)
        assert info.value.code == 2
    assert "expected a number in [0, 1]" in capsys.readouterr().err
