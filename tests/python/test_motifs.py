import itertools
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse
from seqatac._errors import SeqatacInputError
from seqatac.data import (
    Motif,
    encode_sequence,
    jaspar,
    motif_matches,
    motif_scores,
    read_homer,
    read_jaspar,
    read_meme,
    read_motifs,
    reverse_complement,
    score_threshold,
)
from seqatac.data._motif_scan import _SCORE_RESOLUTION

DATA = Path(__file__).parent.parent / "data" / "motifs"
PFM = np.array([[0.7, 0.1, 0.1, 0.1], [0.0, 0.0, 1.0, 0.0], [0.25, 0.25, 0.25, 0.25]])


# ---------------------------------------------------------------------------------------------- Motif


def test_motif_basics():
    motif = Motif("M1", "Foo", PFM)
    assert motif.length == 3 and motif.consensus == "AGA"
    assert motif.pfm.dtype == np.float64 and not motif.pfm.flags.writeable
    rc = motif.reverse_complement()
    np.testing.assert_allclose(rc.pfm, [[0.25] * 4, [0, 1, 0, 0], [0.1, 0.1, 0.1, 0.7]])
    assert rc.reverse_complement() == motif and rc != motif
    assert hash(Motif("M1", "Foo", PFM.copy())) == hash(motif) and len({motif, Motif("M1", "Foo", PFM)}) == 1
    counts = Motif.from_counts("M2", "Bar", [[1, 1, 2, 0], [0, 0, 0, 4]], pseudocount=1.0)
    np.testing.assert_allclose(counts.pfm, [[2 / 8, 2 / 8, 3 / 8, 1 / 8], [1 / 8, 1 / 8, 1 / 8, 5 / 8]])


@pytest.mark.parametrize(
    "pfm, message",
    [
        (np.ones((3, 5)) / 5, "shape"),
        (np.zeros((0, 4)), "shape"),
        ([[0.5, 0.5, 0, 0], [1.2, -0.2, 0, 0]], "row 1"),
        ([[0.5, 0.5, 0, 0], [np.nan, 0.5, 0.5, 0]], "row 1"),
        ([[0.5, 0.5, 0, 0], [0.5, 0.5, 0.1, 0]], "row 1 sums to 1.1"),
    ],
)
def test_motif_validation(pfm, message):
    with pytest.raises(SeqatacInputError, match=message) as info:
        Motif("BAD1", "Bad", pfm)
    assert "'BAD1'" in str(info.value)


def test_motif_renormalises_within_tolerance():
    motif = Motif("M", "M", [[0.5, 0.5, 0.0005, 0]])
    np.testing.assert_allclose(motif.pfm.sum(axis=1), 1.0, atol=1e-12)


def test_pwm_by_hand():
    pwm = Motif("M1", "Foo", PFM).pwm(pseudocount=0.01)
    p = (PFM + 0.01 * 0.25) / 1.01
    assert pwm[0, 0] == pytest.approx(np.log2(p[0, 0] / 0.25))
    assert pwm[1, 2] == pytest.approx(np.log2((1 + 0.0025) / 1.01 / 0.25))
    assert pwm[1, 0] == pytest.approx(np.log2(0.0025 / 1.01 / 0.25))
    np.testing.assert_allclose(pwm[2], 0.0, atol=1e-12)
    background = np.array([0.3, 0.2, 0.2, 0.3])
    skewed = Motif("M1", "Foo", PFM).pwm(background=background, pseudocount=0.0)
    assert skewed[0, 0] == pytest.approx(np.log2(0.7 / 0.3)) and skewed[1, 0] == -np.inf


def test_sampling_matches_pfm():
    motif = Motif("M1", "Foo", PFM)
    draws = motif.sample(n=20000, random_state=0)
    assert draws.shape == (20000, 3) and draws.dtype == np.int8
    frequencies = np.stack([np.bincount(draws[:, j], minlength=4) / 20000 for j in range(3)])
    np.testing.assert_allclose(frequencies, PFM, atol=0.015)
    assert np.all(draws[:, 1] == 2)  # zero-probability bases never drawn
    np.testing.assert_array_equal(motif.sample(n=5, random_state=3), motif.sample(n=5, random_state=3))


# ---------------------------------------------------------------------------------------------- JASPAR


def test_jaspar_ctcf_and_cache():
    motifs = jaspar("JASPAR2024")
    assert len(motifs) > 500
    ctcf = [m for m in motifs if m.id.startswith("MA0139")]
    assert len(ctcf) == 1 and ctcf[0].name == "CTCF" and ctcf[0].length == 15
    assert ctcf[0].consensus == "GCCACCAGGGGGCGC"
    start = time.perf_counter()
    again = jaspar("JASPAR2024")
    assert time.perf_counter() - start < 0.05 and again == motifs
    selected = jaspar("JASPAR2024", ids=["MA0139"], names=["gata1"])
    assert {m.name for m in selected} == {"CTCF", "GATA1"}
    assert jaspar(ids="MA0139.2")[0] == ctcf[0]


def test_jaspar_errors():
    with pytest.raises(SeqatacInputError, match="JASPAR2024") as info:
        jaspar("JASPAR1999")
    assert "JASPAR1999" in str(info.value)
    with pytest.raises(SeqatacInputError, match="'MA9999.9'"):
        jaspar(ids=["MA0139", "MA9999.9"])
    with pytest.raises(SeqatacInputError, match="'NOTATF'"):
        jaspar(names=["NOTATF"])


# ---------------------------------------------------------------------------------------------- readers


def test_read_meme():
    first, second = read_meme(DATA / "two.meme")
    assert (first.id, first.name, second.id, second.name) == ("MA0001.1", "FOO", "M2", "M2")
    np.testing.assert_allclose(first.pfm, [[0.1, 0.2, 0.3, 0.4], [1, 0, 0, 0], [0.25] * 4])
    np.testing.assert_allclose(second.pfm, [[0, 0, 0, 1], [0.5, 0, 0.5, 0]])


def test_read_jaspar_and_pfm():
    arnt, bar = read_jaspar(DATA / "two.jaspar")
    assert (arnt.id, arnt.name, bar.id, bar.name) == ("MA0004.1", "Arnt", "MA9999.1", "Bar baz")
    np.testing.assert_allclose(arnt.pfm[0], [4 / 20, 16 / 20, 0, 0])
    np.testing.assert_allclose(arnt.pfm[3], [0, 0, 1, 0])
    assert arnt.consensus == "CACG"
    np.testing.assert_allclose(bar.pfm, [[0.25] * 4, [0, 0, 0, 1]])
    (plain,) = read_jaspar(DATA / "plain.pfm")
    assert plain.id == plain.name == "plain"
    np.testing.assert_allclose(plain.pfm, [[0.25] * 4, [0.75, 0, 0, 0.25], [0, 0, 1, 0]])


def test_read_homer():
    foo, tt = read_homer(DATA / "two.homer")
    assert foo.id == "Foo(Zf)/Cell-Foo-ChIP-Seq/Homer" and foo.name == "Foo(Zf)"
    np.testing.assert_allclose(foo.pfm[1], [0.05, 0.9, 0.04, 0.01])
    assert tt.id == tt.name == "TT"
    np.testing.assert_allclose(tt.pfm[1], np.array([0.25, 0.25, 0.25, 0.26]) / 1.01)  # renormalised


def test_read_motifs_dispatch(tmp_path):
    for name, expected in [("two.meme", "FOO"), ("two.jaspar", "Arnt"), ("two.homer", "Foo(Zf)"),
                           ("plain.pfm", "plain")]:
        assert read_motifs(DATA / name)[0].name == expected
        unlabelled = tmp_path / (Path(name).stem + ".txt")  # no telling extension: sniff the content
        shutil.copy(DATA / name, unlabelled)
        assert read_motifs(unlabelled)[0].pfm.shape == read_motifs(DATA / name)[0].pfm.shape
    assert read_motifs(DATA / "two.homer", format="homer")[1].name == "TT"


MEME_HEAD = "MEME version 4\n\nALPHABET= ACGT\n\n"


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("t.meme", MEME_HEAD + "MOTIF X1\nletter-probability matrix: alength= 4 w= 3\n0.25 0.25 0.25 0.25\n"
         "0.25 0.25 0.25 0.25\n", "'X1', line 8: truncated"),
        ("t.meme", MEME_HEAD + "MOTIF X1\nletter-probability matrix: alength= 4 w= 2\n0.25 0.25 0.5\n0.1 0.2 0.3 0.4\n",
         "line 7: row has 3 values"),
        ("t.meme", MEME_HEAD + "MOTIF X1\nletter-probability matrix: alength= 4 w= 1\n0.25 0.25 abc 0.25\n",
         "line 7: non-numeric"),
        ("t.meme", MEME_HEAD + "MOTIF X1\nletter-probability matrix: alength= 4 w= 1\n0.5 0.5 0.5 0.5\n",
         "'X1', line 7: probability row"),
        ("t.meme", MEME_HEAD + "MOTIF X1\nletter-probability matrix: alength= 4 w= 0\n\nMOTIF X2\n", "zero length"),
        ("t.meme", MEME_HEAD, "no motifs"),
        ("t.jaspar", ">J1 Foo\nA [ 1 2 ]\nC [ 1 2 ]\nG [ 1 2 ]\n", "'J1', line 4: found 3 count rows"),
        ("t.jaspar", ">J1 Foo\nA [ 1 2 ]\nC [ 1 2 ]\nG [ 1 2 ]\nT [ 1 ]\n", "'J1', line 5: rows have different"),
        ("t.jaspar", ">J1 Foo\nA [ 1 x ]\nC [ 1 2 ]\nG [ 1 2 ]\nT [ 1 2 ]\n", "line 2: non-numeric"),
        ("t.jaspar", ">J1 Foo\nA [ ]\nC [ ]\nG [ ]\nT [ ]\n", "zero length"),
        ("t.jaspar", "\n\n", "no motifs"),
        ("t.homer", ">AC\tH1\t5\n0.5\t0.5\t0\t0\n0.5\t0.5\t0\n", "'H1', line 3: row has 3 values"),
        ("t.homer", ">AC\tH1\t5\n0.5\t0.5\t0\t0.1\n", "'H1', line 2: probability row"),
        ("t.homer", ">AC\tH1\t5\n>GG\tH2\t5\n0.5\t0.5\t0\t0\n", "'H1', line 1: motif has no positions"),
        ("t.homer", "", "no motifs"),
    ],
)
def test_malformed_files(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(SeqatacInputError, match=message) as info:
        read_motifs(path)
    assert str(path) in str(info.value)


def test_tolerated_row_sum_is_renormalised(tmp_path):
    path = tmp_path / "ok.meme"
    path.write_text(MEME_HEAD + "MOTIF X1\nletter-probability matrix: alength= 4 w= 1\n0.26 0.25 0.25 0.25\n")
    np.testing.assert_allclose(read_meme(path)[0].pfm, [[0.26 / 1.01, 0.25 / 1.01, 0.25 / 1.01, 0.25 / 1.01]])


# ---------------------------------------------------------------------------------------------- scanning


def _reference_scores(codes, pwm):
    """Brute force: best window score over both strands, N contributing 0."""
    best = np.full(len(codes), -np.inf)
    width = len(pwm)
    for strand in (pwm, pwm[::-1, ::-1]):
        table = np.hstack([strand, np.zeros((width, 1))])
        for start in range(codes.shape[1] - width + 1):
            window = codes[:, start:start + width]
            best = np.maximum(best, table[np.arange(width), window].sum(axis=1))
    return best


def test_scan_finds_planted_motif_on_both_strands():
    ctcf = jaspar(ids=["MA0139"])[0]
    pwm = ctcf.pwm()
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, (3, 200)).astype(np.int8)
    site = encode_sequence(ctcf.consensus)
    codes[0, 40:55] = site
    codes[1, 185:200] = reverse_complement(site)  # at the very end, minus strand
    scores = motif_scores(codes, [ctcf])
    planted = pwm[np.arange(15), site].sum()
    assert scores[0, 0] == pytest.approx(planted, rel=1e-5) and scores[1, 0] == pytest.approx(planted, rel=1e-5)
    assert scores[2, 0] < planted - 5


def test_scan_matches_brute_force_with_mixed_lengths_and_n():
    rng = np.random.default_rng(1)
    motifs = [Motif(f"M{k}", f"M{k}", rng.dirichlet(np.ones(4) * 0.5, size=length)) for k, length in
              enumerate([3, 9, 5, 12])]
    codes = rng.integers(0, 4, (30, 40)).astype(np.int8)
    codes[rng.random(codes.shape) < 0.05] = 4
    codes[0, -3:] = encode_sequence(motifs[0].consensus)  # short motif at the very end of a padded group
    scores = motif_scores(codes, motifs, batch_size=7)
    assert scores.shape == (30, 4) and scores.dtype == np.float32
    for k, motif in enumerate(motifs):
        np.testing.assert_allclose(scores[:, k], _reference_scores(codes, motif.pwm()), rtol=1e-5, atol=1e-4)
    assert scores[0, 0] == pytest.approx(motif_scores(encode_sequence(motifs[0].consensus), motifs[:1])[0, 0])
    # a motif longer than the sequences never scores
    assert np.all(motif_scores(codes[:, :10], motifs)[:, 3] == -np.inf)


@pytest.mark.parametrize("length, p_value", [(4, 0.02), (5, 0.003), (6, 0.001)])
def test_threshold_equals_brute_force(length, p_value):
    rng = np.random.default_rng(length)
    motif = Motif("M", "M", rng.dirichlet(np.ones(4), size=length))
    background = np.array([0.3, 0.2, 0.2, 0.3])
    grid = np.round(motif.pwm(background=background) / _SCORE_RESOLUTION).astype(int)
    words = np.array(list(itertools.product(range(4), repeat=length)))
    scores = grid[np.arange(length), words].sum(axis=1)
    probabilities = background[words].prod(axis=1)
    levels = np.unique(scores)
    tails = np.array([probabilities[scores >= s].sum() for s in levels])
    expected = levels[tails <= p_value].min()
    threshold = score_threshold(motif, p_value=p_value, background=background)
    assert threshold == pytest.approx(expected * _SCORE_RESOLUTION)
    # too small a p-value for the motif: only the best words match
    assert score_threshold(motif, p_value=1e-9, background=background) == pytest.approx(
        scores.max() * _SCORE_RESOLUTION)


def test_motif_matches_uses_thresholds():
    rng = np.random.default_rng(2)
    motifs = [Motif(f"M{k}", f"M{k}", rng.dirichlet(np.ones(4) * 0.3, size=length)) for k, length in
              enumerate([6, 10, 8])]
    codes = rng.integers(0, 4, (60, 80)).astype(np.int8)
    codes[5, 10:20] = encode_sequence(motifs[1].consensus)
    matches = motif_matches(codes, motifs, p_value=1e-3, batch_size=16)
    assert sparse.isspmatrix_csr(matches) and matches.shape == (60, 3) and matches.dtype == np.float32
    assert matches[5, 1] == 1
    for k, motif in enumerate(motifs):
        grid = np.round(motif.pwm() / _SCORE_RESOLUTION)
        expected = _reference_scores(codes, grid) >= round(score_threshold(motif, p_value=1e-3) / _SCORE_RESOLUTION)
        np.testing.assert_array_equal(matches[:, k].toarray().ravel() == 1, expected)
    # roughly p-value * windows * strands hits per random sequence for the long motif
    assert 0 < matches[:, 1].sum() / 60 < 5 * 1e-3 * 2 * 71


def test_motif_labels_are_one_vocabulary_across_models():
    """chromVAR, scBasset and CellSpace label motif columns alike: the name, or name_id when a name repeats."""
    import seqatac.baselines._chromvar as chromvar_module
    from seqatac.data import Motif, motif_columns, motif_labels

    pfm = np.full((3, 4), 0.25)
    motifs = [Motif("MA1", "HNF4A", pfm), Motif("MA2", "HNF4A", pfm), Motif("MA3", "GATA1", pfm)]
    assert motif_columns(motifs) == ["HNF4A_MA1", "HNF4A_MA2", "GATA1"]
    assert motif_labels(["A", "A"], ["x", "x"]) == ["A_x_0", "A_x_1"]  # still unique when ids repeat
    assert chromvar_module.motif_labels is motif_labels
