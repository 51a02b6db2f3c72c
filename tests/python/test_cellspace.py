"""CellSpace: k-mer dictionary, features, the StarSpace update, training, persistence and analyses."""

import numpy as np
import pandas as pd
import pytest
import torch
from seqatac import SeqatacInputError, SeqatacWarning
from seqatac.data import Genome, Motif, encode_sequence, reverse_complement
from seqatac.models.cellspace import (
    CellSpace,
    CellSpaceModule,
    canonical_kmers,
    n_canonical_kmers,
)
from seqatac.models.cellspace._kmers import (
    EventSequences,
    feature_layout,
    hash_ngrams,
    window_features,
)
from seqatac.models.cellspace._training_data import _chunks, _epoch_parts
from seqatac.simulate import simulate_atac

FAST = dict(bucket=4096, examples_per_event=4)  # small N-gram table, short epochs


@pytest.fixture(scope="module")
def tiny():
    sim = simulate_atac("tiny", random_state=3, rna=False, n_cells=120, n_peaks=300, n_cell_types=3)
    keep = np.asarray((sim.atac.X > 0).sum(0)).ravel() > 0
    sim.atac = sim.atac[:, keep].copy()
    return sim


@pytest.fixture(scope="module")
def trained(tiny):
    model = CellSpace(tiny.atac, tiny.genome, random_state=0, **FAST)
    model.fit(3, random_state=0, n_threads=1, verbose=False)
    return model


# ------------------------------------------------------------------------------------------ dictionary


def _naive_canonical(kmer: str) -> str:
    return min(kmer, reverse_complement(kmer))


def test_dictionary_size_and_order():
    assert n_canonical_kmers(8) == 32_896  # (4^8 + 4^4) / 2
    assert n_canonical_kmers(3) == 32  # odd k: no palindromes
    kmers = canonical_kmers(4)
    assert len(kmers) == (256 + 16) // 2 == n_canonical_kmers(4)
    assert kmers.is_unique and kmers.is_monotonic_increasing
    assert all(_naive_canonical(kmer) == kmer for kmer in kmers)
    assert len(canonical_kmers(8)) == 32_896


def _splitmix64(x: int) -> int:  # independent pure-Python reference
    mask = (1 << 64) - 1
    z = (x + 0x9E3779B97F4A7C15) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return z ^ (z >> 31)


def test_ngram_hashing_is_deterministic_and_matches_reference():
    layout = feature_layout(4, 3, 1000)
    codes = np.array([0, 5, 12345, 4**6 - 1, -1])
    rows = hash_ngrams(codes, 3, layout)
    expected = [layout.n_kmers + _splitmix64(int(c) ^ (3 << 58)) % 1000 for c in codes[:-1]] + [layout.pad]
    assert rows.tolist() == expected
    assert np.array_equal(rows, hash_ngrams(codes.copy(), 3, layout))
    assert not np.array_equal(hash_ngrams(codes[:-1], 2, layout), rows[:-1])  # the order salts the hash


def test_window_features_match_a_naive_implementation():
    layout = feature_layout(4, 3, 97)
    rng = np.random.default_rng(0)
    sequences = ["".join(rng.choice(list("ACGT"), 20)) for _ in range(3)] + ["ACGTNACGTACGGTAC" + "T" * 4]
    codes = np.stack([encode_sequence(s) for s in sequences])
    features = window_features(codes, layout)
    assert features.shape == (4, layout.n_features(20)) == (4, 17 + 16 + 15)
    kmer_row = {kmer: row for row, kmer in enumerate(canonical_kmers(4))}
    for sequence, row in zip(sequences, features):
        expected = []
        for order in (1, 2, 3):
            size = 4 + order - 1
            for start in range(len(sequence) - size + 1):
                gram = sequence[start : start + size]
                if "N" in gram:
                    expected.append(layout.pad)
                elif order == 1:
                    expected.append(kmer_row[_naive_canonical(gram)])
                else:
                    code = int(_naive_canonical(gram).translate(str.maketrans("ACGT", "0123")), 4)
                    expected.append(int(hash_ngrams(np.array([code]), order, layout)[0]))
        assert row.tolist() == expected


def test_windows_are_sampled_inside_events_and_padded_when_short():
    event = np.array([0, 1, 2, 3, 3, 2, 1, 0, 0, 2], dtype=np.int8)
    store = EventSequences([event, np.array([1, 2, 3], dtype=np.int8)])
    windows = store.windows(np.array([0] * 50 + [1]), 6, np.random.default_rng(0))
    starts = [next(s for s in range(5) if np.array_equal(event[s : s + 6], w)) for w in windows[:50]]
    assert set(starts) == {0, 1, 2, 3, 4}  # every start of the event is drawn
    assert windows[50].tolist() == [1, 2, 3, 4, 4, 4]  # a short event is N-padded


def test_event_sequences_are_the_exact_regions():
    from seqatac.models.cellspace._training_data import _event_sequences

    genome = Genome.from_dict({"chr1": "ACGTACGGTTAACCGGTTAA", "chr2": "GGGCCCAAAT"})
    regions = pd.DataFrame({"chrom": ["chr1", "chr2", "chr1", "chr2"], "start": [2, 0, 5, 7], "end": [9, 4, 8, 12]})
    flat, lengths = _event_sequences(genome, regions)
    assert lengths.tolist() == [7, 4, 3, 5]
    expected = "".join(genome.fetch(c, a, b) for c, a, b in zip(regions.chrom, regions.start, regions.end))
    assert expected.endswith("AATNN")  # past the end of chr2: N
    np.testing.assert_array_equal(flat, encode_sequence(expected))


def test_kmer_counts_count_both_strands_once(tiny, trained):
    from seqatac.models.cellspace._training_data import _kmer_counts

    store = EventSequences([encode_sequence("AAAAAAAAAT"), encode_sequence("ATTTTTTTTT"), encode_sequence("ACGTNACGTACGTA")])
    counts = pd.Series(_kmer_counts(store, np.arange(3), 8), index=canonical_kmers(8))
    assert counts["AAAAAAAA"] == 4  # 2 in the first event + 2 (as TTTTTTTT) in the second
    assert counts["AAAAAAAT"] == 2
    assert counts.sum() == 3 + 3 + 2  # the N breaks the third event's first window
    n_bases = trained._data.sequences.lengths[trained._data.train_events].sum()
    assert trained.kmer_counts.sum() == n_bases - 7 * len(trained._data.train_events)  # no N in the tiny genome


# ------------------------------------------------------------------------------------------ the update


def test_train_step_reproduces_the_starspace_update():
    generator = torch.Generator().manual_seed(1)
    module = CellSpaceModule(6, 4, 3, init_sd=0.3, generator=generator)  # 5 feature rows + padding
    before_f = module.feature_embedding.clone().numpy()
    before_c = module.cell_embedding.clone().numpy()
    features = torch.tensor([[0, 1, 1, 5]])  # row 1 twice, padding once
    positives = torch.tensor([2])
    candidates = torch.tensor([[2, 0, 3, 1]])  # candidate equal to the positive is skipped
    lr, margin = 0.1, 2.0  # large margin: every other candidate violates
    loss = module.train_step(features, positives, candidates, lr=lr, margin=margin, max_negatives=2)

    unit = lambda v: v / np.linalg.norm(v)
    lhs = unit(before_f[0] + 2 * before_f[1])
    pos = unit(before_c[2])
    negs = [unit(before_c[0]), unit(before_c[3])]  # first two violating candidates (max_negatives=2)
    hinge = [margin - lhs @ pos + lhs @ n for n in negs]
    assert loss.item() == pytest.approx(sum(hinge) / 4, rel=1e-5)
    g = np.mean(negs, axis=0) - pos
    d = 3
    for row, count in ((0, 1), (1, 2)):
        acc = count * (g @ g) / d
        expected = before_f[row] - lr / np.sqrt(acc + 1e-6) * count * g
        expected *= min(1.0, 1.0 / np.linalg.norm(expected))
        np.testing.assert_allclose(module.feature_embedding[row].numpy(), expected, rtol=1e-5, atol=1e-7)
        assert module.features[row, d].item() == pytest.approx(acc, rel=1e-5)
    np.testing.assert_array_equal(module.feature_embedding[2:].numpy(), np.vstack([before_f[2:5], np.zeros((1, 3))]))
    acc = 1 / d
    pos_expected = before_c[2] + lr / np.sqrt(acc + 1e-6) * lhs
    np.testing.assert_allclose(module.cell_embedding[2].numpy(), pos_expected / max(1, np.linalg.norm(pos_expected)), rtol=1e-5)
    for cell in (0, 3):
        neg_expected = before_c[cell] - lr / 2 / np.sqrt(acc + 1e-6) * lhs
        np.testing.assert_allclose(
            module.cell_embedding[cell].numpy(), neg_expected / max(1, np.linalg.norm(neg_expected)), rtol=1e-5
        )
    np.testing.assert_array_equal(module.cell_embedding[1].numpy(), before_c[1])  # third violator: not used
    assert np.all(np.linalg.norm(module.cell_embedding.numpy(), axis=1) <= 1 + 1e-6)


def test_examples_respect_openness_and_dataset_of_negatives(tiny):
    half = tiny.atac.n_vars // 2
    first, second = tiny.atac[:60, :half].copy(), tiny.atac[60:, half:].copy()
    model = CellSpace([first, second], tiny.genome, **FAST)
    data = model._data
    (order, rng), = _epoch_parts(len(data.train_events), model.config, seed=0, epoch=0, n_parts=1)
    chunk = next(_chunks(data, model.config, order, rng, 200))
    events = data.train_events[order[:200]]
    open_sets = [set(data.event_cells[data.event_indptr[e] : data.event_indptr[e + 1]]) for e in events]
    assert all(p in cells for p, cells in zip(chunk.positives, open_sets))
    dataset = data.event_dataset[events]
    cell_dataset = model.cell_dataset[chunk.candidates]
    assert np.all(cell_dataset == dataset[:, None])  # batch-aware negatives
    assert chunk.features.shape == (200, model.config.layout.n_features(150))
    # with one dataset, each group of 5 consecutive examples shares its 50 candidates (StarSpace batchSize)
    single = CellSpace(tiny.atac, tiny.genome, **FAST)
    (order, rng), = _epoch_parts(len(single._data.train_events), single.config, seed=0, epoch=0, n_parts=1)
    candidates = next(_chunks(single._data, single.config, order, rng, 12)).candidates
    assert candidates.shape == (12, 50)
    assert (candidates[:5] == candidates[0]).all() and (candidates[5:10] == candidates[5]).all()
    assert not np.array_equal(candidates[0], candidates[5])


# ------------------------------------------------------------------------------------------ training


def test_loss_decreases_and_training_is_deterministic(tiny, trained):
    assert trained.history["loss"][-1] < trained.history["loss"][0]
    again = CellSpace(tiny.atac, tiny.genome, random_state=0, **FAST).fit(3, random_state=0, n_threads=1, verbose=False)
    np.testing.assert_array_equal(again.get_latent_representation(), trained.get_latent_representation())
    other = CellSpace(tiny.atac, tiny.genome, random_state=0, **FAST).fit(1, random_state=1, n_threads=1, verbose=False)
    assert not np.array_equal(other.get_latent_representation(), trained.get_latent_representation())
    norms = np.linalg.norm(trained.module.feature_embedding.numpy(), axis=1)
    assert norms.max() <= 1 + 1e-5 and norms[-1] == 0  # norm bound, padding row untouched


def test_two_workers_train_too(tiny):
    # enough chunks per worker that the two Hogwild workers do not see one stale snapshot all epoch
    model = CellSpace(tiny.atac, tiny.genome, random_state=0, bucket=4096).fit(3, n_threads=2, verbose=False)
    assert model.history["loss"][-1] < model.history["loss"][0]
    assert np.isfinite(model.get_latent_representation()).all()


def test_resume_matches_an_uninterrupted_run(tiny, trained, tmp_path, monkeypatch):
    crashing = CellSpace(tiny.atac, tiny.genome, random_state=0, **FAST)
    original = CellSpace._run_epoch

    def crash_in_epoch_3(self, epoch, **kwargs):
        if epoch == 2:
            raise KeyboardInterrupt
        return original(self, epoch, **kwargs)

    monkeypatch.setattr(CellSpace, "_run_epoch", crash_in_epoch_3)
    with pytest.raises(KeyboardInterrupt):
        crashing.fit(3, random_state=0, n_threads=1, verbose=False, checkpoint_dir=tmp_path / "ckpt")
    monkeypatch.undo()
    resumed = CellSpace(tiny.atac, tiny.genome, random_state=0, **FAST)
    resumed.fit(3, random_state=0, n_threads=1, verbose=False, checkpoint_dir=tmp_path / "ckpt", resume=True)
    assert resumed.epochs_done == 3 and len(resumed.history["loss"]) == 3
    np.testing.assert_array_equal(resumed.get_latent_representation(), trained.get_latent_representation())


def test_cell_names_and_order_are_kept(tiny):
    half = tiny.atac.n_vars // 2
    first, second = tiny.atac[:50, :half].copy(), tiny.atac[50:, half:].copy()
    second.obs_names = [f"other_{i}" for i in range(second.n_obs)]
    model = CellSpace([first, second], tiny.genome, **FAST)
    assert list(model.cell_names) == list(first.obs_names) + list(second.obs_names)
    all_cells = model.get_latent_representation()
    np.testing.assert_array_equal(model.get_latent_representation(second), all_cells[50:])
    model.write_to_adata(second)
    np.testing.assert_array_equal(second.obsm["X_cellspace"], all_cells[50:])
    with pytest.raises(SeqatacInputError, match="obs_names"):
        model.get_latent_representation(tiny.atac[:10].copy())


def test_save_load_round_trip(trained, tmp_path):
    path = trained.save(tmp_path / "model")
    assert sorted(p.name for p in path.iterdir()) == ["cells.tsv", "config.json", "kmer_counts.npy", "model.pt"]
    loaded = CellSpace.load(path)
    np.testing.assert_array_equal(loaded.get_latent_representation(), trained.get_latent_representation())
    pd.testing.assert_frame_equal(loaded.get_kmer_embedding(), trained.get_kmer_embedding())
    assert list(loaded.cell_names) == list(trained.cell_names)
    assert loaded.epochs_done == 3 and loaded.history == trained.history
    np.testing.assert_array_equal(loaded.kmer_counts, trained.kmer_counts)
    sequence = ["ACGTACGTTTGACCATGGCA"]
    np.testing.assert_array_equal(loaded.embed_sequences(sequence, ngrams=True), trained.embed_sequences(sequence, ngrams=True))
    with pytest.raises(SeqatacInputError, match="already holds a saved model"):
        trained.save(path)
    with pytest.raises(SeqatacInputError, match="training data"):
        loaded.fit(1)


# ------------------------------------------------------------------------------------------ analyses


def test_sequence_and_reverse_complement_embed_identically(trained):
    rng = np.random.default_rng(0)
    sequences = ["".join(rng.choice(list("ACGT"), n)) for n in (8, 30, 151)] + ["ACGTAGCTTAGNNACGGATCAAGT"]
    reverse = [reverse_complement(s) for s in sequences]
    for ngrams in (False, True):
        np.testing.assert_allclose(
            trained.embed_sequences(sequences, ngrams=ngrams), trained.embed_sequences(reverse, ngrams=ngrams),
            rtol=1e-5, atol=1e-7,
        )
    kmers = trained.get_kmer_embedding()
    # one k-mer: its own row (n = 1); two k-mers: their sum / sqrt(2)
    np.testing.assert_allclose(trained.embed_sequences(["AAAAAAAA"])[0], kmers.loc["AAAAAAAA"], rtol=1e-6)
    expected = (kmers.loc[_naive_canonical("ACGTACGT")] + kmers.loc[_naive_canonical("CGTACGTA")]) / np.sqrt(2)
    np.testing.assert_allclose(trained.embed_sequences(["ACGTACGTA"])[0], expected, rtol=1e-5)
    with pytest.warns(SeqatacWarning, match="no valid"):
        assert np.isnan(trained.embed_sequences(["ACGT"])).all()


def test_tf_activity_is_zscored_and_skips_short_motifs(trained):
    motifs = [
        Motif("M1", "LONG", np.eye(4)[[0, 1, 2, 3, 3, 2, 1, 0, 0, 1]]),
        Motif("M2", "OTHER", np.eye(4)[[3, 3, 1, 2, 0, 0, 1, 2, 2]]),
        Motif("M3", "SHORT", np.eye(4)[[0, 1, 2]]),
    ]
    with pytest.warns(SeqatacWarning, match="shorter than k"):
        activity = trained.get_tf_activity(motifs)
    assert list(activity.columns) == ["LONG", "OTHER"] and activity.attrs["motif_id"] == ["M1", "M2"]
    assert list(activity.index) == list(trained.cell_names)
    np.testing.assert_allclose(activity.mean(), 0, atol=1e-5)
    np.testing.assert_allclose(activity.std(ddof=1), 1, rtol=1e-4)
    cells = trained.get_latent_representation()
    motif = trained.embed_sequences(["ACGTTGCAAC"])[0]
    cosine = cells @ motif / np.linalg.norm(cells, axis=1) / np.linalg.norm(motif)
    np.testing.assert_allclose(activity["LONG"], (cosine - cosine.mean()) / cosine.std(ddof=1), rtol=1e-4, atol=1e-5)


def test_anndata_write_back(tiny, trained):
    adata = tiny.atac.copy()
    motifs = [Motif("M1", "LONG", np.eye(4)[[0, 1, 2, 3, 3, 2, 1, 0, 0, 1]])]
    trained.write_to_adata(adata, tf_activity=trained.get_tf_activity(motifs))
    assert adata.obsm["X_cellspace"].shape == (adata.n_obs, 30)
    assert list(adata.obsm["cellspace_tf"].columns) == ["LONG"]
    assert adata.uns["seqatac"]["cellspace"]["params"]["k"] == 8
    assert list(adata.uns["seqatac"]["cellspace"]["motif_id"]) == ["M1"]


def test_bad_inputs_are_explained(tiny):
    with pytest.raises(SeqatacInputError, match="genome"):
        CellSpace([tiny.atac, tiny.atac], [tiny.genome, tiny.genome, tiny.genome])
    with pytest.raises(SeqatacInputError, match="sample_length"):
        CellSpace(tiny.atac, tiny.genome, sample_length=5)
    with pytest.raises(SeqatacInputError, match="k-mer length"):
        CellSpace(tiny.atac, tiny.genome, k=20)


def test_cli_fit_cellspace(tiny, tmp_path):
    import anndata as ad
    from seqatac.cli import main
    from seqatac.simulate import write_simulation

    paths = write_simulation(tiny, tmp_path / "sim")
    out = tmp_path / "out"
    code = main(["-q", "fit", "cellspace", "--atac", str(paths["atac"]), "--genome", str(paths["genome"]),
                 "--out", str(out), "--epochs", "1", "--threads", "1", "--no-tf-activity",
                 "--set", "bucket=4096", "--set", "examples_per_event=2"])
    assert code == 0
    written = ad.read_h5ad(out / "adata.h5ad")
    model = CellSpace.load(out / "model")
    np.testing.assert_array_equal(written.obsm["X_cellspace"], model.get_latent_representation())
    assert list(written.obs_names) == list(model.cell_names)
    assert main(["-q", "fit", "cellspace", "--atac", str(paths["atac"]), "--genome", str(paths["genome"]),
                 "--genome", str(paths["genome"]), "--out", str(out)]) == 2  # 1 dataset, 2 genomes
