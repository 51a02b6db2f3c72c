"""Property-based tests (hypothesis) of the parsers and of the sequence, region and genome arithmetic."""

import warnings

import numpy as np
import pandas as pd
import scipy.io
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from seqatac.data import (
    Genome,
    Motif,
    decode_sequence,
    encode_sequence,
    one_hot,
    parse_regions,
    read_atac,
    read_motifs,
    reverse_complement,
)

# derandomized: CI sees the same examples on every run (and nothing is written to a .hypothesis database)
SETTINGS = settings(max_examples=80, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
FILE_SETTINGS = settings(SETTINGS, max_examples=25)

# a name may hold separators but not end in one: "chr1:-500-2500" is a negative start, not chromosome "chr1:"
chromosome_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-:",
                           min_size=1, max_size=20).filter(lambda name: name[-1] not in ":_-")
coordinates = st.tuples(st.integers(0, 10**10), st.integers(1, 10**6)).map(lambda t: (t[0], t[0] + t[1]))
separators = st.sampled_from([(":", "-"), ("-", "-"), ("_", "_")])
DNA = "ACGTNacgtnRYKMSWBDHVrykmswbdhv"


@st.composite
def peak_sets(draw, min_size=1, max_size=12):
    """Distinct (chrom, start, end) peaks."""
    peaks = draw(st.lists(st.tuples(chromosome_names, coordinates), min_size=min_size, max_size=max_size,
                          unique=True))
    return [(chrom, start, end) for chrom, (start, end) in peaks]


@st.composite
def genomes(draw):
    """{name: sequence} with 1-3 chromosomes of 1-60 bases (mixed case, some N and IUPAC codes)."""
    names = draw(st.lists(st.sampled_from(["chr1", "chr2", "chrX", "chrM"]), min_size=1, max_size=3, unique=True))
    return {name: draw(st.text(alphabet=DNA, min_size=1, max_size=60)) for name in names}


# ------------------------------------------------------------------------------------------ regions


@SETTINGS
@given(peaks=peak_sets(), separator=separators)
def test_formatted_peak_names_parse_back_to_their_coordinates(peaks, separator):
    names = [f"{chrom}{separator[0]}{start}{separator[1]}{end}" for chrom, start, end in peaks]
    parsed = parse_regions(names)
    assert list(parsed.index) == names
    assert list(zip(parsed["chrom"], parsed["start"], parsed["end"])) == peaks
    assert parsed["start"].dtype == np.int64 and (parsed["end"] > parsed["start"]).all()


@SETTINGS
@given(peaks=peak_sets(), column=st.sampled_from(["chrom", "chr", "Seqnames", "CHROM"]))
def test_var_columns_and_names_give_the_same_regions(peaks, column):
    names = [f"{chrom}:{start}-{end}" for chrom, start, end in peaks]
    var = pd.DataFrame({column: [p[0] for p in peaks], "Start": [float(p[1]) for p in peaks],
                        "END": [p[2] for p in peaks]}, index=names)
    pd.testing.assert_frame_equal(parse_regions(var), parse_regions(names))


# ------------------------------------------------------------------------------------------ sequences


@SETTINGS
@given(sequence=st.text(alphabet=DNA, max_size=200))
def test_encoding_is_case_insensitive_and_maps_everything_else_to_n(sequence):
    codes = encode_sequence(sequence)
    assert codes.shape == (len(sequence),) and codes.dtype == np.int8
    expected = "".join(base if base in "ACGT" else "N" for base in sequence.upper())
    assert decode_sequence(codes) == expected
    assert decode_sequence(encode_sequence(decode_sequence(codes))) == expected


@SETTINGS
@given(sequence=st.text(max_size=200))
def test_reverse_complement_of_text_is_an_involution(sequence):
    assert reverse_complement(reverse_complement(sequence)) == sequence


@SETTINGS
@given(sequence=st.text(alphabet=DNA, max_size=200))
def test_reverse_complement_agrees_across_representations(sequence):
    codes = encode_sequence(sequence)
    assert np.array_equal(encode_sequence(reverse_complement(sequence)), reverse_complement(codes))
    assert np.array_equal(reverse_complement(reverse_complement(codes)), codes)
    assert np.array_equal(reverse_complement(one_hot(codes)), one_hot(reverse_complement(codes)))
    # complementary bases pair up: A+T and C+G codes sum to 3 position by position (N stays N)
    called = codes != 4
    assert np.all((codes + reverse_complement(codes)[::-1])[called] == 3)


# ------------------------------------------------------------------------------------------ genome windows


@SETTINGS
@given(sequences=genomes(), data=st.data())
def test_fetch_is_always_end_minus_start_long_and_n_outside_the_chromosome(sequences, data):
    genome = Genome.from_dict(sequences)
    chrom = data.draw(st.sampled_from(sorted(sequences)))
    size = len(sequences[chrom])
    start = data.draw(st.integers(-30, size + 30))
    end = data.draw(st.integers(start, size + 60))
    fetched = genome.fetch(chrom, start, end)
    assert len(fetched) == end - start
    for offset, base in enumerate(fetched):
        position = start + offset
        assert base == (sequences[chrom][position] if 0 <= position < size else "N")


@SETTINGS
@given(sequences=genomes(), data=st.data())
def test_centred_windows_have_the_width_and_match_fetch(sequences, data):
    genome = Genome.from_dict(sequences)
    rows = data.draw(st.lists(st.tuples(st.sampled_from(sorted(sequences)), st.integers(-20, 80),
                                        st.integers(0, 40)), min_size=1, max_size=8))
    width = data.draw(st.integers(1, 50))
    regions = pd.DataFrame([(chrom, start, start + length) for chrom, start, length in rows],
                           columns=["chrom", "start", "end"])
    codes = genome.encode_regions(regions, width=width, check=False)  # window arithmetic, any region
    assert codes.shape == (len(rows), width)
    for row, (chrom, start, end) in zip(codes, regions.itertuples(index=False)):
        centre = (start + end) // 2
        window_start = centre - width // 2
        assert window_start <= centre < window_start + width  # the window always covers the centre
        assert decode_sequence(row) == decode_sequence(encode_sequence(genome.fetch(chrom, window_start,
                                                                                   window_start + width)))


@SETTINGS
@given(sequences=genomes())
def test_ucsc_and_ensembl_chromosome_names_resolve_alike(sequences):
    genome = Genome.from_dict(sequences)
    for name in sequences:
        bare = name[3:]
        assert genome.resolve(bare) == genome.resolve(name) == name
        if bare == "M":
            assert genome.resolve("MT") == genome.resolve("chrMT") == name


# ------------------------------------------------------------------------------------------ file parsers

count_matrices = st.integers(1, 6).flatmap(
    lambda length: st.lists(st.lists(st.integers(0, 50), min_size=4, max_size=4).filter(lambda row: sum(row) > 0),
                            min_size=length, max_size=length)).map(lambda rows: np.array(rows, dtype=np.float64))


def meme_text(motif: Motif) -> str:
    rows = "".join(" ".join(f"{p:.17g}" for p in row) + "\n" for row in motif.pfm)
    return (f"MEME version 4\n\nALPHABET= ACGT\n\nMOTIF {motif.id} {motif.name}\n"
            f"letter-probability matrix: alength= 4 w= {motif.length} nsites= 20 E= 0\n{rows}\n")


def jaspar_text(motif_id: str, name: str, counts: np.ndarray) -> str:
    rows = "".join(f"{base} [ {' '.join(f'{c:g}' for c in counts[:, k])} ]\n" for k, base in enumerate("ACGT"))
    return f">{motif_id} {name}\n{rows}"


def homer_text(motif: Motif) -> str:
    rows = "".join("\t".join(f"{p:.17g}" for p in row) + "\n" for row in motif.pfm)
    return f">{motif.consensus}\t{motif.name}/Test/Homer\t6.5\n{rows}"


@FILE_SETTINGS
@given(counts=st.lists(count_matrices, min_size=1, max_size=3))
def test_motif_files_round_trip_in_all_three_formats(counts, tmp_path):
    motifs = [Motif.from_counts(f"MA{i:04d}.1", f"TF{i}", c) for i, c in enumerate(counts)]
    (tmp_path / "m.meme").write_text("".join(meme_text(m) for m in motifs))
    (tmp_path / "m.jaspar").write_text("".join(jaspar_text(m.id, m.name, c) for m, c in zip(motifs, counts)))
    (tmp_path / "m.motif").write_text("".join(homer_text(m) for m in motifs))
    for path, names in (("m.meme", [m.name for m in motifs]), ("m.jaspar", [m.name for m in motifs]),
                        ("m.motif", [m.name for m in motifs])):
        read = read_motifs(tmp_path / path)
        assert [m.name for m in read] == names
        for original, parsed in zip(motifs, read):
            np.testing.assert_allclose(parsed.pfm, original.pfm, rtol=0, atol=1e-12)
            np.testing.assert_allclose(parsed.pfm.sum(axis=1), 1.0, atol=1e-12)


@SETTINGS
@given(counts=count_matrices)
def test_motif_reverse_complement_is_an_involution(counts):
    motif = Motif.from_counts("M", "m", counts)
    opposite = motif.reverse_complement()
    assert opposite.reverse_complement() == motif
    np.testing.assert_array_equal(opposite.pfm, motif.pfm[::-1, ::-1])  # reversed positions, A<->T and C<->G


@FILE_SETTINGS
@given(counts=st.integers(1, 5).flatmap(lambda n: st.integers(1, 5).flatmap(
           lambda m: st.lists(st.lists(st.integers(0, 9), min_size=m, max_size=m), min_size=n, max_size=n))),
       peaks_by_cells=st.booleans())
def test_matrix_market_directories_read_back_exactly(counts, peaks_by_cells, tmp_path):
    counts = np.array(counts, dtype=np.float32)
    counts[0, 0] += 1  # at least one non-zero count
    n_cells, n_peaks = counts.shape
    if n_cells == n_peaks:
        peaks_by_cells = True  # square: read_atac assumes the 10x orientation (and warns)
    directory = tmp_path / "mex"  # reused by every example: each one overwrites all three files
    directory.mkdir(exist_ok=True)
    scipy.io.mmwrite(directory / "matrix.mtx", sp.coo_matrix(counts.T if peaks_by_cells else counts))
    (directory / "peaks.bed").write_text("".join(f"chr1\t{100 * i}\t{100 * i + 50}\n" for i in range(n_peaks)))
    (directory / "barcodes.tsv").write_text("".join(f"cell{i}-1\n" for i in range(n_cells)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        adata = read_atac(directory)
    np.testing.assert_array_equal(adata.X.toarray(), counts)
    assert list(adata.obs_names) == [f"cell{i}-1" for i in range(n_cells)]
    assert list(adata.var["start"]) == [100 * i for i in range(n_peaks)]
    assert list(adata.var_names) == [f"chr1:{100 * i}-{100 * i + 50}" for i in range(n_peaks)]
