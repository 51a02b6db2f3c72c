import json

import numpy as np
import pandas as pd
import pyfaidx
import pytest
from seqatac._errors import SeqatacInputError
from seqatac.data import Genome, decode_sequence, encode_sequence, write_fasta

SEQS = {"chr1": "ACGTACGTAC", "chr2": "ggccAATT", "chrM": "TTTTA"}


def regions(rows):
    return pd.DataFrame(rows, columns=["chrom", "start", "end"])


@pytest.fixture(params=["memory", "fasta"])
def genome(request, tmp_path):
    if request.param == "memory":
        return Genome.from_dict(SEQS)
    return Genome(write_fasta(SEQS, tmp_path / "g.fa", line_width=4))


def test_sizes_and_names(genome):
    assert genome.chrom_sizes == {"chr1": 10, "chr2": 8, "chrM": 5}
    assert genome.chromosomes == ["chr1", "chr2", "chrM"]


def test_fetch_pads_with_n(genome):
    assert genome.fetch("chr1", 2, 6) == "GTAC"
    assert genome.fetch("chr1", -3, 2) == "NNNAC"
    assert genome.fetch("chr1", 8, 13) == "ACNNN"
    assert genome.fetch("chr1", -2, 12) == "NNACGTACGTACNN"
    assert genome.fetch("chr1", 20, 23) == "NNN"
    assert genome.fetch("chr1", -5, -2) == "NNN"
    assert genome.fetch("chr2", 0, 4) == "ggcc"  # soft-masking kept by fetch


def test_centred_windows_odd_and_even(genome):
    r = regions([("chr1", 2, 6), ("chr1", 0, 3), ("chr2", 6, 8)])
    # centres 4, 1, 7
    even = genome.encode_regions(r, width=4)  # [c-2, c+2)
    assert [decode_sequence(x) for x in even] == ["GTAC", "NACG", "ATTN"]
    odd = genome.encode_regions(r, width=3)  # [c-1, c+2)
    assert [decode_sequence(x) for x in odd] == ["TAC", "ACG", "TTN"]
    assert even.dtype == np.int8 and even.shape == (3, 4)


def test_chromosome_harmonisation_both_ways(tmp_path):
    ucsc = Genome.from_dict(SEQS)
    assert ucsc.resolve("1") == "chr1" and ucsc.resolve("MT") == "chrM" and ucsc.resolve("M") == "chrM"
    ensembl = Genome(write_fasta({"1": "ACGT", "X": "GG", "MT": "CA"}, tmp_path / "e.fa"))
    assert ensembl.resolve("chr1") == "1" and ensembl.resolve("chrX") == "X" and ensembl.resolve("chrM") == "MT"
    assert ensembl.fetch("chrM", 0, 3) == "CAN"
    codes = ensembl.encode_regions(regions([("chr1", 0, 4), ("chrX", 0, 2)]), width=2)
    np.testing.assert_array_equal(codes, [[1, 2], [2, 2]])


def test_unmatched_chromosome_error():
    genome = Genome.from_dict(SEQS)
    r = regions([("chr1", 0, 4), ("chr7", 0, 4), ("chrUn_x", 1, 2), ("chr7", 5, 9)])
    with pytest.raises(SeqatacInputError) as info:
        genome.encode_regions(r, width=4)
    text = str(info.value)
    assert "2 chromosome(s)" in text and "'chr7'" in text and "'chrUn_x'" in text
    assert "'chr1'" in text and "genome build" in text and "drop" in text
    with pytest.raises(SeqatacInputError, match="chr9"):
        genome.resolve("chr9")


def test_write_fasta_round_trip_and_determinism(tmp_path):
    path = write_fasta(SEQS, tmp_path / "a.fa", line_width=3)
    fasta = pyfaidx.Fasta(str(path), as_raw=True)
    assert {name: fasta[name][:] for name in fasta.keys()} == SEQS
    assert path.read_text().startswith(">chr1\nACG\nTAC\nGTA\nC\n>chr2\nggc\n")
    # our .fai matches the one pyfaidx builds itself
    ours = (tmp_path / "a.fa.fai").read_text()
    (tmp_path / "a.fa.fai").unlink()
    pyfaidx.Fasta(str(path))
    assert (tmp_path / "a.fa.fai").read_text() == ours
    again = write_fasta(Genome(path), tmp_path / "b.fa", line_width=3)
    assert again.read_bytes() == path.read_bytes()


def test_unindexable_fasta_error(tmp_path):
    path = tmp_path / "g.fa"
    path.write_text(">chr1\nACGT\n")
    (tmp_path / "g.fa.fai").mkdir()  # the index cannot be written
    with pytest.raises(SeqatacInputError, match="samtools faidx"):
        Genome(path)


def test_streaming_matches_encode_regions(genome, monkeypatch):
    """Windows past either chromosome end pad with N (the off-genome refusal is lifted for this check)."""
    monkeypatch.setattr("seqatac.data._genome.OFF_CHROMOSOME_REFUSE", 1.0)
    monkeypatch.setattr("seqatac.data._genome.OFF_CHROMOSOME_WARN", 1.0)
    rng = np.random.default_rng(0)
    starts = rng.integers(-5, 10, 23)
    chroms, widths = rng.choice(["chr1", "2", "MT"], 23), rng.integers(0, 6, 23)
    r = regions([(c, s, s + int(w)) for c, s, w in zip(chroms, starts, widths)])
    full = genome.encode_regions(r, width=7)
    batches = list(genome.iter_encoded(r, width=7, batch_size=5))
    assert [len(b) for b in batches] == [5, 5, 5, 5, 3]
    np.testing.assert_array_equal(np.concatenate(batches), full)
    for row, (c, s, e) in zip(full, r.itertuples(index=False)):
        centre = (s + e) // 2
        assert decode_sequence(row) == genome.fetch(c, centre - 3, centre + 4).upper()


def test_cache_reuse_and_rebuild(tmp_path):
    genome = Genome.from_dict(SEQS)
    r = regions([("chr1", 0, 4), ("chr2", 2, 6)])
    cache = tmp_path / "seq.npy"
    first = genome.cache_encoded(r, width=4, path=cache)
    assert isinstance(first, np.memmap)
    np.testing.assert_array_equal(first, genome.encode_regions(r, width=4))
    sidecar = json.loads((tmp_path / "seq.npy.json").read_text())
    assert sidecar["width"] == 4 and sidecar["n_regions"] == 2
    mtime = cache.stat().st_mtime_ns
    second = genome.cache_encoded(r, width=4, path=cache)
    assert cache.stat().st_mtime_ns == mtime  # reused, not rewritten
    np.testing.assert_array_equal(second, first)
    wider = genome.cache_encoded(r, width=6, path=cache)  # width changed: rebuilt
    assert wider.shape == (2, 6)
    moved = genome.cache_encoded(regions([("chr1", 1, 5), ("chr2", 2, 6)]), width=6, path=cache)
    np.testing.assert_array_equal(moved[0], encode_sequence("ACGTAC"))
    other = Genome.from_dict({**SEQS, "chr1": "TTTTTTTTTT"})
    np.testing.assert_array_equal(other.cache_encoded(r, width=6, path=cache)[0], [4, 3, 3, 3, 3, 3])
    assert not list(tmp_path.glob("*.tmp"))
