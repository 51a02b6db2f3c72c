"""EpiFoundation: tokenizer, encoder, training (determinism, resume), persistence and AnnData write-back."""

import contextlib
import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from anndata import AnnData
from seqatac import SeqatacInputError, SeqatacWarning
from seqatac.models import EpiFoundation
from seqatac.models.epifoundation import (
    CLS,
    N_SPECIAL,
    PRESETS,
    CellTokens,
    EpiFoundationConfig,
    PeakVocabulary,
    _train,
    bin_expression,
    chromosome_ids,
    encoder_block_parameters,
    learning_rate,
    pack_sequences,
    sample_genes,
    token_batches,
    unpad,
)
from seqatac.models.epifoundation._module import EncoderBlock, build_module
from seqatac.models.epifoundation._train import PRESET_LR, TrainingOptions

TINY = dict(preset="tiny", d_model=32, n_heads=2, d_ff=64, n_layers=1, max_len=64, max_genes=32)
FIT = dict(max_cells=16, max_tokens=512, verbose=False)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def regions_frame(rows):
    return pd.DataFrame(rows, columns=["chrom", "start", "end"],
                        index=[f"{c}:{s}-{e}" for c, s, e in rows]).astype({"start": np.int64, "end": np.int64})


@contextlib.contextmanager
def crash_after(monkeypatch, n_steps: int):
    """Inside the block, the optimizer step after the first ``n_steps`` raises KeyboardInterrupt (a crash
    mid-run), which the block expects; afterwards training steps as usual."""
    original = _train.Trainer._optimizer_step
    calls = {"n": 0}

    def crash(self, optimizer):
        if calls["n"] == n_steps:
            raise KeyboardInterrupt
        calls["n"] += 1
        original(self, optimizer)

    monkeypatch.setattr(_train.Trainer, "_optimizer_step", crash)
    try:
        with pytest.raises(KeyboardInterrupt):
            yield
    finally:
        monkeypatch.setattr(_train.Trainer, "_optimizer_step", original)


def planted_data(n_cells=96, n_peaks=60, n_types=3, n_genes=24, seed=0):
    """Cells of ``n_types`` types, each opening its own block of peaks (p 0.6 vs 0.05) and expressing its own
    genes (a third of the genes are expressed everywhere); two batches. Paired RNA with gene chromosomes."""
    rng = np.random.default_rng(seed)
    types = np.arange(n_cells) % n_types
    owner = np.arange(n_peaks) % n_types
    p = np.where(owner[None] == types[:, None], 0.6, 0.05)
    counts = sp.csr_matrix((rng.random((n_cells, n_peaks)) < p).astype(np.float32))
    chrom = np.where(np.arange(n_peaks) < n_peaks // 2, "chr1", "chr2")
    start = 1000 * (np.arange(n_peaks) % (n_peaks // 2)) + 100
    var = pd.DataFrame({"chrom": chrom, "start": start, "end": start + 500},
                       index=[f"{c}:{s}-{s + 500}" for c, s in zip(chrom, start)])
    obs = pd.DataFrame({"cell_type": pd.Categorical([f"t{t}" for t in types]),
                        "batch": pd.Categorical([f"b{i % 2}" for i in range(n_cells)])},
                       index=[f"cell{i}" for i in range(n_cells)])
    gene_owner = np.where(np.arange(n_genes) < n_genes // 3, -1, np.arange(n_genes) % n_types)  # -1: everywhere
    rate = np.where((gene_owner[None] == types[:, None]) | (gene_owner[None] < 0), 6.0, 0.05)
    rna_counts = sp.csr_matrix(rng.poisson(rate).astype(np.float32))
    genes = pd.DataFrame({"chrom": np.where(np.arange(n_genes) % 2, "chr1", "chr2")},
                         index=[f"g{i}" for i in range(n_genes)])
    return AnnData(counts, obs=obs, var=var), AnnData(rna_counts, obs=obs.copy(), var=genes)


# ----------------------------------------------------------------------------------------- tokenizer


def test_vocabulary_is_in_genomic_order_with_specials_first():
    regions = regions_frame([("chr10", 50, 60), ("chrX", 5, 9), ("chr2", 100, 200), ("chr2", 10, 20),
                             ("chrUn_1", 0, 5), ("chr1", 7, 8)])
    vocabulary = PeakVocabulary(regions)
    assert vocabulary.regions.index.tolist() == [
        "chr1:7-8", "chr2:10-20", "chr2:100-200", "chr10:50-60", "chrX:5-9", "chrUn_1:0-5"]
    assert vocabulary.size == N_SPECIAL + 6
    # specials: pad, mask, cls, eos; then chr1 = 3, chr2 = 4, chr10 = 12, chrX = 25, other = 2
    assert vocabulary.token_chromosomes.tolist() == [0, 2, 1, 2, 3, 4, 4, 12, 25, 2]
    assert chromosome_ids(["1", "chrY", "MT", "chr22"]).tolist() == [3, 26, 2, 24]


def test_cell_tokens_are_cls_first_sorted_unique_and_drop_unmapped():
    # 2 cells × 5 peaks; peak 3 is unmapped, peaks 0 and 4 share token 7 (two peaks overlapping one vocab peak)
    matrix = sp.csr_matrix(np.array([[1, 0, 2, 1, 1], [0, 3, 0, 0, 0]], dtype=np.float32))
    cells = CellTokens.from_matrix(matrix, np.array([7, 5, 4, -1, 7]))
    rng = np.random.default_rng(0)
    assert cells.sequence(0, max_len=10, rng=rng).tolist() == [CLS, 4, 7]
    assert cells.sequence(1, max_len=10, rng=rng).tolist() == [CLS, 5]
    assert cells.n_peaks.tolist() == [2, 1]


def test_sampling_keeps_at_most_max_len_in_genomic_order_and_is_seeded():
    matrix = sp.csr_matrix(np.ones((1, 50), dtype=np.float32))
    cells = CellTokens.from_matrix(matrix, np.arange(50) + N_SPECIAL)
    first = cells.sequence(0, max_len=11, rng=np.random.default_rng(1))
    assert len(first) == 11 and first[0] == CLS
    peaks = first[1:]
    assert np.all(np.diff(peaks) > 0) and set(peaks) <= set(range(N_SPECIAL, N_SPECIAL + 50))
    assert np.array_equal(first, cells.sequence(0, max_len=11, rng=np.random.default_rng(1)))
    assert not np.array_equal(first, cells.sequence(0, max_len=11, rng=np.random.default_rng(2)))
    assert cells.sequence_lengths(11).tolist() == [11]
    assert len(cells.sequence(0, max_len=100, rng=np.random.default_rng(1))) == 51


def test_peaks_map_by_identity_then_largest_overlap_and_unmapped_are_reported():
    vocabulary = PeakVocabulary(regions_frame([("chr1", 100, 200), ("chr1", 300, 400), ("chr2", 0, 100)]))
    query = regions_frame([
        ("1", 100, 200),      # identical (chromosome named without chr) → token 4
        ("chr1", 150, 320),   # overlaps peak 0 by 50 bp and peak 1 by 20 bp → token 4
        ("chr1", 390, 500),   # overlaps peak 1 by 10 bp → token 5
        ("chr2", 100, 150),   # touches the end of chr2:0-100 (half-open): no overlap
        ("chr3", 0, 100),     # chromosome unknown to the model
    ])
    mapping = vocabulary.map_regions(query)
    assert mapping.tokens.tolist() == [4, 4, 5, -1, -1]
    assert (mapping.n_exact, mapping.n_overlap, mapping.n_unmapped) == (1, 2, 2)
    assert mapping.mapped_fraction == pytest.approx(0.6)
    assert "2 (40.0%) are unmapped" in mapping.summary() and "chr3:0-100" in mapping.summary()
    with pytest.raises(SeqatacInputError, match="below min_mapped_fraction=0.7"):
        vocabulary.map_regions(query, min_mapped_fraction=0.7)


def test_new_data_is_mapped_onto_the_model_vocabulary_with_a_warning():
    atac, rna = planted_data()
    model = EpiFoundation(atac, rna, random_state=0, **TINY)
    # the first 40 peaks shifted by 100 bp (names only, no var columns); the last 20 on a chromosome the model lacks
    moved = atac.copy()
    chrom = np.where(np.arange(60) < 40, atac.var["chrom"], "chr9")
    shift = np.where(np.arange(60) < 40, 100, 0)
    moved.var = pd.DataFrame(index=[f"{c}:{s + d}-{e + d}" for c, s, e, d in zip(
        chrom, atac.var["start"], atac.var["end"], shift)])
    with pytest.warns(SeqatacWarning, match=r"40 of 60 peaks \(66.7%\) map .* 20 \(33.3%\) are unmapped"):
        moved_embedding = model.get_latent_representation(moved)
    reference = model.get_latent_representation(atac[:, :40].copy())
    np.testing.assert_array_equal(moved_embedding, reference)  # each shifted peak maps onto its own peak
    with pytest.raises(SeqatacInputError, match="below min_mapped_fraction=0.5"):
        model.get_latent_representation(moved[:, 30:].copy())


def test_pack_and_unpad_agree():
    tokens, cu = pack_sequences([np.array([CLS, 5, 9]), np.array([CLS, 4])])
    assert tokens.tolist() == [CLS, 5, 9, CLS, 4] and cu.tolist() == [0, 3, 5]
    padded = np.array([[CLS, 5, 9, 0, 0], [CLS, 4, 0, 0, 0]])
    assert [a.tolist() for a in unpad(padded)] == [tokens.tolist(), cu.tolist()]


# ----------------------------------------------------------------------------------------- data helpers


def test_expression_levels_are_per_cell_quantile_bins():
    counts = sp.csr_matrix(np.array([[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [0, 0, 0, 0, 0, 0, 0, 0, 5, 50]]))
    levels = bin_expression(counts, n_bins=10).toarray()
    # row 0: 9 non-zero values 1..9, edges at their quantiles 0, 1/8, ..., 1 = 1, 2, ..., 9 → levels 1..9
    assert levels[0].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    # row 1: two values → edges 5, 10.6, ..., 50: 5 → 1, 50 → 9 (depth does not matter, only rank)
    assert levels[1].tolist() == [0] * 8 + [1, 9]


def test_gene_samples_are_balanced_and_capped():
    rng = np.random.default_rng(0)
    available = np.ones(20, dtype=bool)
    genes, expressed = sample_genes(np.array([1, 3, 5, 7, 9, 11]), available, 8, rng)
    assert len(genes) == 8 and expressed.sum() == 4 and len(set(genes)) == 8
    assert set(genes[expressed]) <= {1, 3, 5, 7, 9, 11} and not set(genes[~expressed]) & {1, 3, 5, 7, 9, 11}
    available[10:] = False  # 10 genes measured, 6 expressed: at most 4 unexpressed to pair with
    genes, expressed = sample_genes(np.array([0, 1, 2, 3, 4, 5]), available, 100, rng)
    assert expressed.sum() == 4 and (~expressed).sum() == 4 and genes.max() < 10


def test_token_batches_respect_token_and_cell_budgets():
    lengths = np.array([5, 5, 8, 2, 2, 2, 9])
    batches = token_batches(lengths, np.arange(7), max_tokens=10, max_cells=2)
    assert [b.tolist() for b in batches] == [[0, 1], [2, 3], [4, 5], [6]]  # 8 + 2 = 10 fits


def test_learning_rate_warms_up_then_follows_a_cosine():
    kwargs = dict(lr=1e-3, min_lr=1e-5, warmup_steps=4)
    assert learning_rate(0, 20, **kwargs) == pytest.approx(2.5e-4)
    assert learning_rate(3, 20, **kwargs) == pytest.approx(1e-3)
    assert learning_rate(12, 20, **kwargs) == pytest.approx(1e-5 + (1e-3 - 1e-5) * 0.5)
    assert learning_rate(20, 20, **kwargs) == pytest.approx(1e-5)


def test_each_preset_trains_at_its_own_learning_rate_unless_told():
    assert TrainingOptions.for_task("pretrain", {}, "reference").lr == 1e-4   # the paper's, for GPUs
    assert TrainingOptions.for_task("expression", {}, "small").lr == PRESET_LR["small"] == 3e-3
    assert TrainingOptions.for_task("annotate", {}, "small").lr == 1e-3      # annotation's own default
    assert TrainingOptions.for_task("pretrain", {"lr": 5e-4}, "small").lr == 5e-4
    atac, rna = planted_data(n_cells=32)
    model = EpiFoundation(atac, rna, random_state=0, **TINY)
    model.pretrain(max_epochs=1, **FIT)
    assert model.params["pretrain_training"]["lr"] == PRESET_LR["tiny"]


def test_annotation_warms_the_head_up_over_an_lsi_start_only():
    atac, rna = planted_data(n_cells=32)
    fresh = EpiFoundation(atac, random_state=0, **TINY)
    fresh.fit("annotate", labels_key="cell_type", max_epochs=1, **FIT)  # LSI start: the measured 5 head-only epochs
    assert fresh.params["annotate_training"]["head_warmup_epochs"] == 5
    pretrained = EpiFoundation(atac, rna, random_state=0, **TINY)
    pretrained.pretrain(max_epochs=1, **FIT)
    # over a pre-trained encoder the probe stayed at chance
    pretrained.fit("annotate", labels_key="cell_type", max_epochs=1, **FIT)
    assert pretrained.params["annotate_training"]["head_warmup_epochs"] == 0
    pretrained.fit("annotate", labels_key="cell_type", max_epochs=1, head_warmup_epochs=2, **FIT)  # the caller's
    assert pretrained.params["annotate_training"]["head_warmup_epochs"] == 2


# ----------------------------------------------------------------------------------------- encoder


def test_reference_encoder_blocks_hold_12616704_parameters():
    reference = EpiFoundationConfig(n_peaks=1, **PRESETS["reference"])
    assert encoder_block_parameters(reference) == 12_616_704
    layer = torch.nn.TransformerEncoderLayer(512, 8, 1024, device="meta")
    assert 6 * sum(p.numel() for p in layer.parameters()) == 12_616_704


def test_encoder_block_matches_torch_post_norm_layer_with_padding_mask():
    generator = torch.Generator().manual_seed(0)
    block = EncoderBlock(16, 4, 24, 0.0).eval()
    reference = torch.nn.TransformerEncoderLayer(16, 4, 24, dropout=0.0, batch_first=True).eval()
    with torch.no_grad():
        for parameter in block.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator))
        reference.self_attn.in_proj_weight.copy_(block.qkv.weight)
        reference.self_attn.in_proj_bias.copy_(block.qkv.bias)
        reference.self_attn.out_proj.load_state_dict(block.out_proj.state_dict())
        for name in ("linear1", "linear2", "norm1", "norm2"):
            getattr(reference, name).load_state_dict(getattr(block, name).state_dict())
        x = torch.randn(2, 5, 16, generator=generator)
        padding = torch.tensor([[False] * 5, [False, False, False, True, True]])
        expected = reference(x, src_key_padding_mask=padding)
        packed = block(torch.cat([x[0], x[1, :3]]), torch.tensor([0, 5, 8]))
    torch.testing.assert_close(packed, torch.cat([expected[0], expected[1, :3]]), rtol=1e-5, atol=1e-5)


def test_cell_embedding_does_not_depend_on_padding_or_batch_mates():
    config = EpiFoundationConfig(n_peaks=40, d_model=32, n_layers=2, n_heads=4, d_ff=48, max_len=64)
    module = build_module(config, seed=0).eval()
    token_chromosomes = torch.tensor([0, 2, 1, 2] + [3] * 20 + [4] * 20)
    rng = np.random.default_rng(0)
    cell = np.r_[CLS, np.sort(rng.choice(np.arange(N_SPECIAL, 44), 12, replace=False))]
    other = np.r_[CLS, np.sort(rng.choice(np.arange(N_SPECIAL, 44), 30, replace=False))]

    def embed(padded):
        tokens, cu = (torch.from_numpy(a) for a in unpad(padded))
        with torch.inference_mode():
            return module.embed_cells(tokens, token_chromosomes[tokens], cu)

    twin = np.r_[CLS, np.sort(rng.choice(np.arange(N_SPECIAL, 44), 12, replace=False))]  # same length: one SDPA call
    alone = embed(cell[None])
    for width in (13, 20, 64):
        padded = np.zeros((3, max(width, 31)), dtype=np.int64)
        padded[0, : len(cell)], padded[1, : len(other)], padded[2, : len(twin)] = cell, other, twin
        together = embed(padded)
        assert torch.equal(together[0], alone[0]) and torch.equal(together[2], embed(twin[None])[0])
        assert torch.equal(embed(np.pad(cell, (0, width - len(cell)))[None])[0], alone[0])
    assert not torch.equal(together[0], together[2])


# ----------------------------------------------------------------------------------------- training


def test_pretraining_and_fine_tuning_learn_the_planted_signal():
    atac, rna = planted_data()
    EpiFoundation.setup_anndata(atac, labels_key="cell_type")
    model = EpiFoundation(atac, rna, random_state=0, **TINY)
    pretrain = model.pretrain(max_epochs=4, lr=3e-3, **FIT)
    assert pretrain["loss"].iloc[-1] < 0.95 * pretrain["loss"].iloc[0]
    annotate = model.fit(mode="annotate", max_epochs=6, lr=3e-3, head_warmup_epochs=0, **FIT)  # all weights learn
    assert annotate["accuracy"].iloc[-1] > 0.85
    predicted = model.predict_cell_type()
    assert (predicted["cell_type"].astype(str) == atac.obs["cell_type"].astype(str)).mean() > 0.85
    probabilities = model.predict_cell_type_probabilities()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(predicted["confidence"], probabilities.max(axis=1), rtol=1e-6)
    expression = model.fit(mode="expression", max_epochs=4, lr=1e-2, **FIT)
    assert expression["loss"].iloc[-1] < 0.8 * expression["loss"].iloc[0]
    predicted = model.predict_expression()
    assert predicted.shape == (96, 24)
    assert np.corrcoef(predicted.ravel(), bin_expression(rna.X).toarray().ravel())[0, 1] > 0.3


def test_training_is_deterministic_for_a_seed():
    atac, rna = planted_data(n_cells=48)
    runs = []
    for _ in range(2):
        model = EpiFoundation(atac, rna, random_state=3, **TINY)
        model.pretrain(max_epochs=1, **FIT)
        runs.append(model.module.state_dict())
    other = EpiFoundation(atac, rna, random_state=4, **TINY)
    other.pretrain(max_epochs=1, **FIT)
    assert all(torch.equal(runs[0][key], runs[1][key]) for key in runs[0])
    assert not torch.equal(runs[0]["blocks.0.qkv.weight"], other.module.state_dict()["blocks.0.qkv.weight"])


def test_resume_after_an_interruption_equals_an_uninterrupted_run(tmp_path, monkeypatch):
    atac, rna = planted_data(n_cells=48)
    options = dict(max_epochs=2, grad_accumulation=2, max_cells=8, max_tokens=512, verbose=False)
    uninterrupted = EpiFoundation(atac, rna, random_state=1, **TINY)
    expected = uninterrupted.pretrain(**options)

    interrupted = EpiFoundation(atac, rna, random_state=1, **TINY)
    with crash_after(monkeypatch, n_steps=4):
        interrupted.pretrain(checkpoint_dir=str(tmp_path), checkpoint_steps=1, **options)
    resumed = EpiFoundation(atac, rna, random_state=1, **TINY)
    history = resumed.pretrain(checkpoint_dir=str(tmp_path), resume=True, **options)
    final = uninterrupted.module.state_dict()
    assert all(torch.equal(final[key], value) for key, value in resumed.module.state_dict().items())
    np.testing.assert_allclose(history["loss"], expected["loss"], rtol=1e-6)
    with pytest.raises(SeqatacInputError, match="different model, task, data or training options"):
        EpiFoundation(atac, rna, random_state=1, **TINY).pretrain(
            checkpoint_dir=str(tmp_path), resume=True, **{**options, "max_epochs": 3})


def test_batch_embedding_feeds_the_gene_decoders_only():
    atac, rna = planted_data(n_cells=48)
    EpiFoundation.setup_anndata(atac, batch_key="batch")
    model = EpiFoundation(atac, rna, random_state=0, **TINY)
    assert model.config.n_batches == 2
    assert model.module.alignment_decoder.fc1.in_features == 2 * 32 + 128
    embedding = model.get_latent_representation()
    atac.obs["batch"] = atac.obs["batch"].cat.rename_categories({"b0": "b1", "b1": "b0"})
    np.testing.assert_array_equal(model.get_latent_representation(), embedding)  # batch-free embedding
    model.pretrain(max_epochs=1, **FIT)


def test_inner_product_decoder_reads_each_gene_linearly_from_the_cell(tmp_path):
    from seqatac.models.epifoundation._module import InnerProductDecoder

    decoder = InnerProductDecoder(6, 4, 128, 2)
    cell, genes = torch.randn(3, 6), torch.randn(3, 5, 4)
    out = decoder(cell, genes)
    assert out.shape == (3, 5, 2)
    weights = decoder.W(torch.sigmoid(decoder.gene2query(genes))).reshape(3, 5, 2, 6)
    torch.testing.assert_close(out[1, 2, 1], weights[1, 2, 1] @ cell[1])
    torch.testing.assert_close(decoder(2 * cell, genes), 2 * out)  # linear in the cell embedding
    atac, rna = planted_data(n_cells=48)
    model = EpiFoundation(atac, rna, random_state=0, **{**TINY, "decoder": "inner_product"})
    model.fit(mode="expression", max_epochs=1, **FIT)
    model.save(tmp_path / "ip")
    loaded = EpiFoundation.load(tmp_path / "ip")
    assert isinstance(loaded.module.expression_decoder, InnerProductDecoder)
    np.testing.assert_array_equal(loaded.predict_expression(atac), model.predict_expression(atac))
    with pytest.raises(SeqatacInputError, match="decoder must be one of"):
        EpiFoundation(atac, rna, **{**TINY, "decoder": "dot"})


# ----------------------------------------------------------------------------------------- persistence, AnnData


def test_save_load_round_trip_and_write_back(tmp_path):
    atac, rna = planted_data(n_cells=48)
    EpiFoundation.setup_anndata(atac, labels_key="cell_type")
    model = EpiFoundation(atac, rna, random_state=0, **TINY)
    model.fit(mode="annotate", max_epochs=1, **FIT)
    model.fit(mode="expression", max_epochs=1, **FIT)
    model.save(tmp_path / "model")
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["format_version"] == 1 and config["cell_types"] == ["t0", "t1", "t2"]
    with pytest.raises(SeqatacInputError, match="already holds"):
        model.save(tmp_path / "model")
    loaded = EpiFoundation.load(tmp_path / "model", adata=atac)
    np.testing.assert_array_equal(loaded.get_latent_representation(), model.get_latent_representation())
    short = loaded.get_latent_representation(max_len=4)  # [CLS] + 3 sampled peaks per cell, seeded
    np.testing.assert_array_equal(short, model.get_latent_representation(max_len=4))
    assert short.shape == (48, 32) and not np.allclose(short, model.get_latent_representation())
    pd.testing.assert_frame_equal(loaded.predict_cell_type(), model.predict_cell_type())
    np.testing.assert_array_equal(loaded.predict_expression(atac, genes=["g3", "g1"]),
                                  model.predict_expression(genes=["g3", "g1"]))

    rna_out = rna[:, ["g1", "g0"]].copy()
    rna_out.var_names = ["g1", "unknown"]
    loaded.write_to_adata(atac, rna=rna_out)
    assert atac.obsm["X_epifoundation"].shape == (48, 32)
    assert set(atac.obs["epifoundation_cell_type"].cat.categories) == {"t0", "t1", "t2"}
    assert atac.obs["epifoundation_cell_type_confidence"].between(1 / 3, 1).all()
    layer = rna_out.layers["epifoundation_expression"]
    np.testing.assert_array_equal(layer[:, 0], model.predict_expression(genes=["g1"])[:, 0])
    assert np.isnan(layer[:, 1]).all()
    assert atac.uns["seqatac"]["epifoundation"]["model_dir"] == str(tmp_path / "model")


def test_errors_say_what_to_do():
    atac, rna = planted_data(n_cells=24)
    model = EpiFoundation(atac, random_state=0, **TINY)
    with pytest.raises(SeqatacInputError, match="needs the paired RNA"):
        model.pretrain(max_epochs=1, **FIT)
    with pytest.raises(SeqatacInputError, match="needs cell-type labels"):
        model.fit(mode="annotate", max_epochs=1, **FIT)
    with pytest.raises(SeqatacInputError, match="no cell-type head"):
        model.predict_cell_type()
    with pytest.raises(SeqatacInputError, match="unknown training option"):
        EpiFoundation(atac, rna, **TINY).pretrain(epochs=1)
    with pytest.raises(SeqatacInputError, match="max_tokens=32 is below max_len=64"):
        EpiFoundation(atac, rna, **TINY).pretrain(max_tokens=32)
    with pytest.raises(SeqatacInputError, match="not divisible"):
        EpiFoundation(atac, preset="tiny", n_heads=3)
