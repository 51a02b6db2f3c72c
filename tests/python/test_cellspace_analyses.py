"""Analyses around CellSpace: cosine kNN/SNN graphs, Leiden, merging small clusters, de novo motifs, plots."""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from anndata import AnnData
from seqatac import SeqatacInputError, pl, tl
from seqatac.data import Motif, decode_sequence, encode_sequence, reverse_complement
from seqatac.models.cellspace import canonical_kmers
from seqatac.models.cellspace._denovo import (
    _merge_redundant,
    _pairwise_alignment,
    _SiteSearch,
)


def _two_arcs() -> np.ndarray:
    angles = np.deg2rad([0, 10, 20, 180, 190, 200])
    return np.column_stack([np.cos(angles), np.sin(angles)])


def test_snn_is_the_jaccard_index_of_neighbour_sets():
    knn, snn = tl.snn_graph(_two_arcs(), n_neighbors=3)
    np.testing.assert_allclose(snn.toarray(), np.kron(np.eye(2), np.ones((3, 3))))  # 3 shared of 3: 3 / (6 - 3)
    row = knn.getrow(0).toarray().ravel()
    np.testing.assert_allclose(row[[1, 2]], 1 - np.cos(np.deg2rad([10, 20])), atol=1e-12)
    assert knn.nnz == 6 * 2  # self excluded


def test_snn_partial_overlap_and_pruning():
    X = np.column_stack([np.cos(np.deg2rad([0, 10, 25, 45])), np.sin(np.deg2rad([0, 10, 25, 45]))])
    _, snn = tl.snn_graph(X, n_neighbors=2, prune=0.0)
    # neighbour sets (self included): {0,1}, {1,0}, {2,1}, {3,2}; cells 0 and 2 share {1}: 1 / (4 - 1)
    assert snn[0, 2] == pytest.approx(1 / 3)
    assert snn[0, 3] == 0
    _, pruned = tl.snn_graph(X, n_neighbors=2, prune=0.5)
    assert pruned[0, 2] == 0 and pruned[0, 1] == 1


def test_cell_graph_leiden_and_merge_small_clusters():
    adata = AnnData(obs=pd.DataFrame(index=[f"c{i}" for i in range(6)]))
    adata.obsm["X_cellspace"] = _two_arcs()
    tl.cell_graph(adata, n_neighbors=3)
    assert {"cellspace_knn", "cellspace_snn"} <= set(adata.obsp.keys())
    tl.leiden(adata, resolution=0.5)
    assert adata.obs["leiden"].iloc[:3].nunique() == 1 and adata.obs["leiden"].iloc[3:].nunique() == 1
    assert adata.obs["leiden"].iloc[0] != adata.obs["leiden"].iloc[3]
    with pytest.raises(SeqatacInputError, match="cell_graph"):
        tl.leiden(adata, graph="missing")


def test_merge_clusters_folds_into_best_connected():
    labels = ["a", "a", "a", "b", "b", "b", "c"]
    snn = np.zeros((7, 7))
    snn[6, [3, 4]] = snn[[3, 4], 6] = 0.5  # c is linked to b
    snn[6, 0] = snn[0, 6] = 0.2  # and more weakly to a
    merged = tl.merge_clusters(labels, sp.csr_matrix(snn), min_cells=2)
    assert list(merged) == ["a", "a", "a", "b", "b", "b", "b"]
    assert list(merged.categories) == ["a", "b"]
    adata = AnnData(obs=pd.DataFrame({"leiden": labels}, index=[str(i) for i in range(7)]))
    adata.obsp["cellspace_snn"] = sp.csr_matrix(snn)
    tl.merge_small_clusters(adata, min_cells=2, key_added="merged")
    assert adata.obs["merged"].tolist()[-1] == "b" and adata.obs["leiden"].tolist()[-1] == "c"
    with pytest.raises(SeqatacInputError, match="min_cells"):
        tl.merge_clusters(labels, sp.csr_matrix(snn), min_cells=10)


# ------------------------------------------------------------------------------------------ motifs


def _one_hot_motif(id_, sequence) -> Motif:
    return Motif(id_, id_, np.eye(4)[encode_sequence(sequence).astype(int)] * 0.97 + 0.0075)


def test_compare_motifs_finds_itself_on_either_strand():
    query = _one_hot_motif("q", "ACGTTGCAAG")
    known = [
        _one_hot_motif("other", "TTTTAAAACC"),
        _one_hot_motif("rc_longer", "GG" + reverse_complement("ACGTTGCAAG") + "TTT"),
    ]
    table = tl.compare_motifs([query], known)
    assert table.loc["q", "best_match_id"] == "rc_longer"
    assert table.loc["q", "similarity"] == pytest.approx(1.0, abs=1e-6)
    assert table.loc["q", "top_matches"].startswith("rc_longer (rc_longer): 1.00")


def test_pairwise_alignment_uses_shifts_and_strands():
    sequences = ["ACGTTGCAAG", reverse_complement("ACGTTGCAAG"), "CGTTGCAAGT", "TTTTTTTTTT"]
    codes = np.stack([encode_sequence(s) for s in sequences])
    similarity, shift, strand = _pairwise_alignment(codes, max_shift=3)
    assert similarity[0, 1] == 1.0 and strand[0, 1] == 1
    assert similarity[0, 2] == pytest.approx(0.9) and shift[0, 2] == 1 and strand[0, 2] == 0
    assert similarity[0, 3] < 0.5


@dataclass
class _Config:
    k: int = 4
    n_latent: int = 16


class _PlantedModel:
    """A stand-in for a trained CellSpace: random 4-mer rows, cells of each group sit on a planted 6-mer."""

    def __init__(self, planted: dict[str, str], n_per_group: int = 20):
        rng = np.random.default_rng(0)
        self.config = _Config()
        kmers = canonical_kmers(4)
        self.kmers = pd.DataFrame(rng.normal(size=(len(kmers), 16)), index=kmers)
        cells, self.groups = [], []
        for group, motif in planted.items():
            centre = np.mean([self.kmers.loc[min(motif[i : i + 4], reverse_complement(motif[i : i + 4]))]
                              for i in range(3)], axis=0)
            cells.append(centre + 0.05 * rng.normal(size=(n_per_group, 16)))
            self.groups += [group] * n_per_group
        self.cells = np.vstack(cells).astype(np.float32)
        self.cell_names = pd.Index([f"cell{i}" for i in range(len(self.cells))])

    def get_latent_representation(self):
        return self.cells

    def get_kmer_embedding(self):
        return self.kmers

    def embed_sequences(self, codes):
        """Mean of the canonical 4-mer rows of each sequence (as CellSpace's k-mer-only embedding, up to scale)."""
        rows = []
        for row in codes:
            text = "".join("ACGTN"[c] for c in row)
            kmers = [text[i : i + 4] for i in range(len(text) - 3) if "N" not in text[i : i + 4]]
            rows.append(np.mean([self.kmers.loc[min(m, reverse_complement(m))] for m in kmers], axis=0))
        return np.array(rows)


def test_denovo_motifs_recover_planted_sequences():
    planted = {"A": "ACCGTA", "B": "TTGCAG"}
    model = _PlantedModel(planted)
    known = [_one_hot_motif(f"known_{g}", m) for g, m in planted.items()]
    result = tl.denovo_motifs(model, model.groups, kmer_length=6, n_neighbors=4, min_fraction=0.5, min_size=1,
                              max_shift=1, known_motifs=known)
    assert len(result.motifs) >= 2 and result.embedding.shape == (len(result.motifs), 16)
    for group in planted:
        rows = result.table[result.table["group"] == group]
        assert (rows["best_match_id"] == f"known_{group}").any()
        assert rows["similarity"].max() > 0.8
    ranked = tl.denovo_motifs(model, model.groups, kmer_length=6, n_neighbors=4, top_kmers=4, min_size=1,
                              max_shift=1, known_motifs=known)
    assert set(ranked.table["best_match_id"]) >= {"known_A", "known_B"}
    series = pd.Series(model.groups, index=model.cell_names)[::-1]  # a Series is aligned by cell name
    again = tl.denovo_motifs(model, series, kmer_length=6, n_neighbors=4, min_fraction=0.5, min_size=1,
                             max_shift=1, known_motifs=known)
    pd.testing.assert_frame_equal(again.table, result.table)


def _sites_and_decoy() -> tuple[Motif, Motif]:
    """A 10-bp motif around the planted 6-mer ACCGTA and a decoy with the same core but other flanks."""
    def soft(sequence):
        return Motif(sequence, sequence, np.eye(4)[encode_sequence(sequence).astype(int)] * 0.8 + 0.05)
    return soft("TGACCGTACA"), soft("CAACCGTATG")


def test_denovo_refinement_learns_the_sites_flanks():
    planted = {"A": "ACCGTA", "B": "TTGCAG"}
    model = _PlantedModel(planted)
    sites, decoy = _sites_and_decoy()
    rng = np.random.default_rng(1)
    sequences = rng.integers(0, 4, size=(200, 80)).astype(np.int8)
    instances = sites.sample(n=100, random_state=2)
    for row, site in zip(range(0, 200, 2), instances):  # every other sequence holds a site, on either strand
        start = rng.integers(0, 70)
        sequences[row, start : start + 10] = site if rng.random() < 0.5 else reverse_complement(site)
    options = dict(kmer_length=6, n_neighbors=4, min_fraction=0.5, min_size=1, max_shift=1,
                   known_motifs=[decoy, sites])
    seeds = tl.denovo_motifs(model, model.groups, **options)
    seed_a = seeds.table[seeds.table["group"] == "A"].index[0]
    # from the 6-mers alone the flanks are unknown: the motif matches the decoy exactly as well
    score = tl.motif_similarity([seeds.motifs[list(seeds.table.index).index(seed_a)]], [decoy, sites])
    assert score.iloc[0, 0] == pytest.approx(score.iloc[0, 1])
    refined = tl.denovo_motifs(model, model.groups, sequences=sequences, refine_fraction=1.0, **options)
    row = refined.table.loc[seed_a]
    assert row["seed_consensus"] == seeds.table.loc[seed_a, "consensus"]
    assert row["best_match_id"] == sites.id and row["similarity"] > 0.8
    assert 0.35 < row["site_fraction"] < 0.65  # half the sequences hold a site
    assert refined.motifs[list(refined.table.index).index(seed_a)].length >= 9
    again = tl.denovo_motifs(model, model.groups, sequences=[decode_sequence(s) for s in sequences],
                             refine_fraction=1.0, **options)
    pd.testing.assert_frame_equal(again.table, refined.table)  # strings or codes, deterministic
    with pytest.raises(SeqatacInputError, match="refine_fraction"):
        tl.denovo_motifs(model, model.groups, sequences=sequences, refine_fraction=0.0, **options)


def test_merge_redundant_folds_a_motif_into_its_reverse_complement_twin():
    first, other = _one_hot_motif("first", "ACGTTGCAAG"), _one_hot_motif("other", "TTTTAAAACC")
    twin = _one_hot_motif("twin", "G" + reverse_complement("ACGTTGCAAG"))  # one column longer, other strand
    candidates = [(first, np.array([0, 1]), {}), (other, np.array([2]), {}), (twin, np.array([3]), {})]
    merged = _merge_redundant(candidates, 0.9)
    assert [m.id for m, _, _ in merged] == ["first", "other"]
    assert list(merged[0][1]) == [0, 1, 3] and list(merged[1][1]) == [2]
    assert len(_merge_redundant(candidates, 0.99)) == 3  # "twin" matches "first" at 10 of its 11 columns


def test_refinement_foreground_is_the_groups_sequences():
    model = _PlantedModel({"A": "ACCGTA", "B": "TTGCAG"})
    rng = np.random.default_rng(0)
    random_rows = ["".join(rng.choice(list("ACGT"), 40)) for _ in range(6)]
    sequences = random_rows[:3] + ["ACCGTA" * 7] * 2 + random_rows[3:] + ["TTGCAG" * 7]
    search = _SiteSearch(model, sequences)
    groups = np.asarray(model.groups)
    assert list(search.foreground(groups == "A", 2 / 9)) == [3, 4]
    assert list(search.foreground(groups == "B", 1 / 9)) == [8]
    with pytest.raises(SeqatacInputError, match="empty"):
        _SiteSearch(model, [])


def test_joint_embedding_plot(tmp_path):
    rng = np.random.default_rng(0)
    adata = AnnData(obs=pd.DataFrame({"type": ["x"] * 15 + ["y"] * 15}, index=[f"c{i}" for i in range(30)]))
    adata.obsm["X_cellspace"] = np.vstack([rng.normal(1, 0.1, (15, 5)), rng.normal(-1, 0.1, (15, 5))])
    motifs = pd.DataFrame(rng.normal(size=(3, 5)), index=["M1", "M2", "M3"])
    fig = pl.joint_embedding(adata, motifs, color="type", method="tsne", save=tmp_path / "joint.png")
    assert (tmp_path / "joint.png").stat().st_size > 0
    assert fig.layout_.shape == (33, 2)
    with pytest.raises(SeqatacInputError, match="dimensions"):
        pl.joint_embedding(adata, motifs.iloc[:, :3])


def test_variable_peaks_flags_cluster_specific_peaks():
    rng = np.random.default_rng(0)
    n = 40
    groups = np.repeat(["a", "b"], n // 2)
    open_probability = np.full((n, 6), 0.3)
    open_probability[groups == "a", 0] = 0.9  # peak 0 is specific to a, peak 1 to b
    open_probability[groups == "a", 1] = 0.01
    open_probability[groups == "b", 0] = 0.01
    open_probability[groups == "b", 1] = 0.9
    counts = sp.csr_matrix((rng.random((n, 6)) < open_probability).astype(np.float32))
    adata = AnnData(counts, obs=pd.DataFrame({"group": groups}, index=[f"c{i}" for i in range(n)]))
    tl.variable_peaks(adata, n_top=2, groupby="group")
    assert adata.var["variable"].tolist() == [True, True, False, False, False, False]
    assert adata.var["variable_score"].iloc[:2].min() > adata.var["variable_score"].iloc[2:].max()
    with pytest.raises(SeqatacInputError, match="lsi"):
        tl.variable_peaks(adata, n_top=2)
