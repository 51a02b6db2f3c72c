"""The bad-input matrix: every malformed input seqatac meets, one test id each.

Each error case asserts the exception type (:class:`SeqatacInputError`), a regex naming the problem AND
the fix, and that nothing was written where an output was asked for (every case writes only under
``tmp_path / "out"``, which must not exist afterwards). Inputs that are not errors (soft-masked or IUPAC
bases, an empty FASTA record) are asserted to be read correctly. Saved model directories of all three
models are tampered with one way at a time and must be refused without running any code.
"""

import json
import os
import pickle
import re
import shutil
from pathlib import Path

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import pyfaidx
import pytest
import scipy.sparse as sp
import torch
from seqatac import SeqatacInputError, SeqatacWarning
from seqatac.cli import main
from seqatac.data import (
    Genome,
    check_paired_rna,
    decode_sequence,
    encode_sequence,
    read_atac,
    read_motifs,
    read_multiome,
    validate_atac,
    write_fasta,
)
from seqatac.models import EpiFoundation, ScBasset
from seqatac.models._training import load_checkpoint, save_checkpoint
from seqatac.models.cellspace import CellSpace
from seqatac.simulate import simulate_atac, write_simulation

pytestmark = [
    pytest.mark.filterwarnings(
        "ignore:Observation names are not unique",  # anndata's own warning for the duplicated-cell cases
        "ignore:Detected pickle protocol",  # torch's, when refusing a plain pickle
    ),
    pytest.mark.usefixtures("one_torch_thread"),
]

PEAKS = ["chr1:0-10", "chr1:20-30", "chr1:40-50"]
COUNTS = np.array([[1, 0, 2], [0, 1, 1]], dtype=np.float32)
BED = "chr1\t0\t10\nchr1\t20\t30\nchr1\t40\t50\n"
MTX_HEADER = "%%MatrixMarket matrix coordinate real general\n"
MEME = "MEME version 4\n\nALPHABET= ACGT\n\n"


# ------------------------------------------------------------------------------------------ input builders


def atac(counts=COUNTS, *, peaks=PEAKS, cells=("c1", "c2")) -> ad.AnnData:
    matrix = sp.csr_matrix(counts) if np.asarray(counts).dtype.kind in "biuf" else np.asarray(counts)
    return ad.AnnData(matrix, obs=pd.DataFrame(index=list(cells)), var=pd.DataFrame(index=list(peaks)))


def text(path: Path, content) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def mex(tmp, *, matrix=MTX_HEADER + "3 2 2\n1 1 1\n2 2 1\n", bed=BED, barcodes="c1\nc2\n") -> Path:
    """A 10x matrix directory (peaks × cells MatrixMarket + peaks.bed + barcodes.tsv)."""
    directory = tmp / "mex"
    text(directory / "matrix.mtx", matrix)
    if bed is not None:
        text(directory / "peaks.bed", bed)
    text(directory / "barcodes.tsv", barcodes)
    return directory


def h5ad(tmp, adata, name="a.h5ad") -> Path:
    adata.write_h5ad(tmp / name)
    return tmp / name


def truncated(path: Path, n_bytes: int) -> Path:
    """``path`` cut to its first ``n_bytes`` (as an interrupted copy leaves it)."""
    path.write_bytes(path.read_bytes()[:n_bytes])
    return path


def h5_10x(path: Path, *, feature_types=("Peaks",) * 3, shape=(3, 2)) -> Path:
    """A cellranger-style HDF5 matrix with one feature per entry of ``feature_types`` (None: no types)."""
    matrix = sp.csc_matrix(COUNTS.T)
    with h5py.File(path, "w") as handle:
        group = handle.create_group("matrix")
        group["barcodes"] = np.array([b"c1", b"c2"])
        group["data"], group["indices"], group["indptr"] = matrix.data, matrix.indices, matrix.indptr
        group["shape"] = np.array(shape, dtype=np.int32)
        features = group.create_group("features")
        features["id"] = np.array(PEAKS, dtype="S")
        features["name"] = np.array(PEAKS, dtype="S")
        if feature_types is not None:
            features["feature_type"] = np.array(feature_types, dtype="S")
    return path


def regions(*rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["chrom", "start", "end"])


def read_only_fasta(tmp, monkeypatch) -> Path:
    """A FASTA without .fai in a directory nobody may write to."""
    directory = tmp / "readonly"
    fasta = text(directory / "g.fa", ">chr1\nACGTACGT\n")
    os.chmod(directory, 0o555)
    if os.geteuid() == 0:  # root ignores directory permissions: refuse writes there the way the OS would
        def guarded_open(file, mode="r", *args, **kwargs):
            if any(flag in mode for flag in "wax") and Path(file).parent == directory:
                raise PermissionError(13, "Permission denied", str(file))
            return open(file, mode, *args, **kwargs)

        monkeypatch.setattr(pyfaidx, "open", guarded_open, raising=False)
    return fasta


# ------------------------------------------------------------------------------------------ the matrix

CASES = []


def case(name: str, match: str):
    """Register ``call(tmp_path, monkeypatch)`` as a bad input that must raise SeqatacInputError matching ``match``."""
    def register(call):
        CASES.append(pytest.param(call, match, id=name))
        return call
    return register


# AnnData (.h5ad) -----------------------------------------------------------------------------------------

case("h5ad-nan-counts", r"1 NaN values.*Fix: put the raw count matrix in adata\.X")(
    lambda tmp, mp: validate_atac(atac([[1, np.nan, 2], [0, 1, 1]])))
case("h5ad-negative-counts", r"1 negative values.*raw, non-negative integer counts.*Fix")(
    lambda tmp, mp: validate_atac(atac([[1, -3, 2], [0, 1, 1]])))
case("h5ad-non-numeric-counts", r"dtype <U1, not numbers.*Fix: store the counts as integers or floats")(
    lambda tmp, mp: validate_atac(atac(np.array([["1", "0", "2"], ["0", "1", "1"]]))))
case("h5ad-all-zero", r"no non-zero counts.*Fix: pass the raw count matrix")(
    lambda tmp, mp: validate_atac(atac(np.zeros((2, 3), dtype=np.float32))))
case("h5ad-no-cells", r"empty \(0 cells x 3 peaks\).*Fix")(
    lambda tmp, mp: validate_atac(atac(np.zeros((0, 3), dtype=np.float32), cells=())))
case("h5ad-no-peak-coordinates", r"No peak coordinates found.*'peak1'.*Fix: add var columns 'chrom', 'start', 'end'")(
    lambda tmp, mp: validate_atac(atac(peaks=["peak1", "peak2", "peak3"])))
case("h5ad-end-before-start", r"1 of 3 peaks have end <= start.*chr1:50-40.*swapped")(
    lambda tmp, mp: validate_atac(atac(peaks=["chr1:0-10", "chr1:20-30", "chr1:50-40"])))
case("h5ad-duplicated-peaks", r"are duplicated.*Fix: deduplicate them")(
    lambda tmp, mp: validate_atac(atac(peaks=["chr1:0-10", "chr1-0-10", "chr1:40-50"])))
case("h5ad-duplicated-cells", r"1 cell names are duplicated \(e\.g\. 'c1'\).*Fix: .*obs_names_make_unique")(
    lambda tmp, mp: validate_atac(atac(cells=("c1", "c1"))))
case("h5ad-truncated-file", r"cannot read .*a\.h5ad.*truncated.*Fix: copy or export it again")(
    lambda tmp, mp: read_atac(truncated(h5ad(tmp, atac()), 3000)))
case("input-file-missing", r"nope\.h5ad does not exist\. Fix: check the path")(
    lambda tmp, mp: read_atac(tmp / "nope.h5ad"))
case("input-unknown-format", r"Cannot tell the format of .*notes\.txt.*Fix: pass format=")(
    lambda tmp, mp: read_atac(text(tmp / "notes.txt", "cell\tcounts\n")))

# 10x HDF5 -------------------------------------------------------------------------------------------------

case("10x-h5-gene-expression-only", r"no 'Peaks' features \(it has only Gene Expression: 3\).*Fix: read_atac needs")(
    lambda tmp, mp: read_atac(h5_10x(tmp / "m.h5", feature_types=("Gene Expression",) * 3)))
case("10x-h5-shape-disagrees", r"inconsistent: shape says 5 barcodes.*lists 2 barcodes.*Fix: re-export")(
    lambda tmp, mp: read_atac(h5_10x(tmp / "m.h5", shape=(3, 5))))


@case("10x-h5-no-matrix-group", r"not a single-genome 10x.*found top-level keys \['counts'\].*Fix: pass the")
def _(tmp, mp):
    with h5py.File(tmp / "m.h5", "w") as handle:
        handle["counts"] = [1]
    read_atac(tmp / "m.h5")


case("multiome-without-gene-expression", r"no feature types.*no paired Gene Expression.*Fix: pass the cellranger-arc")(
    lambda tmp, mp: read_multiome(h5_10x(tmp / "m.h5", feature_types=None)))

# MatrixMarket + BED + barcodes ----------------------------------------------------------------------------

case("mtx-dimension-mismatch", r"is 4 x 2, which fits neither.*3 peaks.*2 barcodes.*Fix: pass the peaks= BED")(
    lambda tmp, mp: read_atac(mex(tmp, matrix=MTX_HEADER + "4 2 1\n1 1 1\n")))
case("mtx-missing-peaks-bed", r"No peak BED file found in .*mex.*Fix: pass peaks=<path>")(
    lambda tmp, mp: read_atac(mex(tmp, bed=None)))
case("mtx-corrupt-value", r"cannot read .*matrix\.mtx: ValueError: Line 3: Invalid floating-point value.*Fix")(
    lambda tmp, mp: read_atac(mex(tmp, matrix=MTX_HEADER + "3 2 1\n1 1 one\n")))
case("mtx-truncated", r"cannot read .*matrix\.mtx: ValueError: Truncated file.*Fix: copy or export it again")(
    lambda tmp, mp: read_atac(mex(tmp, matrix=MTX_HEADER + "3 2 4\n1 1 1\n")))
case("bed-space-separated", r"not a tab-separated BED: 3 lines have fewer than 3 fields.*Fix: give a BED")(
    lambda tmp, mp: read_atac(mex(tmp, bed=BED.replace("\t", " "))))
case("bed-non-integer-start", r"non-integer or missing var\['start'\].*'chr1:abc-10'.*Fix: coordinates must be whole")(
    lambda tmp, mp: read_atac(mex(tmp, bed=BED.replace("\t0\t", "\tabc\t"))))
case("bed-binary-file", r"cannot read .*peaks\.bed: UnicodeDecodeError.*Fix: copy or export it again")(
    lambda tmp, mp: read_atac(mex(tmp, bed=b"\xff\xfe\x00\x01")))
case("barcodes-duplicated", r"1 cell names are duplicated \(e\.g\. 'c1'\).*Fix")(
    lambda tmp, mp: read_atac(mex(tmp, barcodes="c1\nc1\n")))

# FASTA ----------------------------------------------------------------------------------------------------

case("fasta-missing-chromosome", r"1 chromosome\(s\) of the regions are not in the genome, e\.g\. 'chr9'.*Use the")(
    lambda tmp, mp: Genome(write_fasta({"chr1": "ACGT" * 5}, tmp / "g.fa")).encode_regions(
        regions(("chr1", 0, 4), ("chr9", 0, 4)), width=4))
case("fasta-empty-file", r"g\.fa' is not a valid FASTA.*Fix: pass a plain or bgzip-compressed FASTA")(
    lambda tmp, mp: Genome(text(tmp / "g.fa", "")))
case("fasta-empty-sequences", r"holds no sequence \(2 records, 0 bases\).*Fix: pass the genome FASTA")(
    lambda tmp, mp: Genome(text(tmp / "g.fa", ">chr1\n>chr2\n")))
case("fasta-duplicated-name", r"two sequences with one name.*chr1.*Fix: rename or remove")(
    lambda tmp, mp: Genome(text(tmp / "g.fa", ">chr1\nACGT\n>chr1\nGGGG\n")))
case("fasta-ragged-lines", r"not a valid FASTA \(Line length of fasta file is not consistent.*Fix")(
    lambda tmp, mp: Genome(text(tmp / "g.fa", ">chr1\nACGTACGT\nACG\nACGTACGT\n")))
case("fasta-no-fai-read-only-directory", r"no index .*g\.fa\.fai.*cannot be written.*Fix: symlink the FASTA into")(
    lambda tmp, mp: Genome(read_only_fasta(tmp, mp)))
case("fasta-missing-file", r"FASTA file .*nope\.fa' does not exist; pass the path")(
    lambda tmp, mp: Genome(tmp / "nope.fa"))

# motif files ----------------------------------------------------------------------------------------------

case("meme-truncated", r"motif 'm1', line 7: truncated: w=3 but only 1 rows.*Fix the file")(
    lambda tmp, mp: read_motifs(text(tmp / "m.meme", MEME + "MOTIF m1\nletter-probability matrix: w= 3\n"
                                                           "0.25 0.25 0.25 0.25\n")))
case("meme-row-not-summing-to-1", r"probability row \[0\.5, 0\.5, 0\.5, 0\.25\] sums to 1\.75.*Fix the file")(
    lambda tmp, mp: read_motifs(text(tmp / "m.meme", MEME + "MOTIF m1\nletter-probability matrix: w= 1\n"
                                                           "0.5 0.5 0.5 0.25\n")))
case("meme-zero-length", r"motif 'm1'.*no positions \(zero length\).*Fix the file")(
    lambda tmp, mp: read_motifs(text(tmp / "m.meme", MEME + "MOTIF m1\nletter-probability matrix: w= 0\n")))
case("meme-not-dna", r"alphabet 'ALPHABET= ACGU' is not DNA.*Fix the file")(
    lambda tmp, mp: read_motifs(text(tmp / "m.meme", MEME.replace("ACGT", "ACGU") + "MOTIF m1\n")))
case("jaspar-truncated", r"motif 'MA1'.*found 3 count rows, expected 4.*Fix the file")(
    lambda tmp, mp: read_motifs(text(tmp / "m.jaspar", ">MA1 X\nA [1 2]\nC [1 2]\nG [1 2]\n")))
case("jaspar-zero-length", r"motif 'MA1'.*no positions \(zero length\).*Fix the file")(
    lambda tmp, mp: read_motifs(text(tmp / "m.jaspar", ">MA1 X\nA [ ]\nC [ ]\nG [ ]\nT [ ]\n")))
case("jaspar-non-finite-count", r"m\.jaspar, motif 'MA1', line 2: negative or non-finite count.*Fix the file")(
    lambda tmp, mp: read_motifs(text(tmp / "m.jaspar", ">MA1 X\nA [1 nan]\nC [1 2]\nG [1 2]\nT [1 2]\n")))
case("jaspar-ragged-rows", r"rows have different lengths \[2, 3, 2, 2\].*Fix the file")(
    lambda tmp, mp: read_motifs(text(tmp / "m.jaspar", ">MA1 X\nA [1 2]\nC [1 2 3]\nG [1 2]\nT [1 2]\n")))
case("homer-row-not-summing-to-1", r"motif 'm1', line 2: probability row .* sums to 2, expected 1.*Fix the file")(
    lambda tmp, mp: read_motifs(text(tmp / "m.motif", ">ACG\tm1\t5.0\n0.5 0.5 0.5 0.5\n")))
case("homer-truncated-row", r"motif 'm1', line 2: row has 3 values, expected 4.*Fix the file")(
    lambda tmp, mp: read_motifs(text(tmp / "m.motif", ">ACG\tm1\t5.0\n0.25 0.25 0.5\n")))
case("homer-zero-length", r"motif 'm1', line 1: motif has no positions \(zero length\).*Fix the file")(
    lambda tmp, mp: read_motifs(text(tmp / "m.motif", ">ACG\tm1\t5.0\n>CCC\tm2\t5.0\n0.25 0.25 0.25 0.25\n")))
case("motif-empty-file", r"motif file .*m\.txt' is empty; pass a MEME, JASPAR or HOMER motif file")(
    lambda tmp, mp: read_motifs(text(tmp / "m.txt", "")))
case("motif-unknown-format", r"cannot tell the motif format of .*m\.txt'; pass format='meme', 'jaspar' or 'homer'")(
    lambda tmp, mp: read_motifs(text(tmp / "m.txt", "hello world\n")))

# paired RNA -----------------------------------------------------------------------------------------------

case("paired-rna-different-cells", r"1 of 2 ATAC cells are missing from RNA \(e\.g\. 'c2'\).*Fix: keep the shared")(
    lambda tmp, mp: check_paired_rna(atac(), atac(cells=("c1", "c3"))))
case("paired-rna-duplicated-names", r"RNA data has 1 duplicated cell names \(e\.g\. 'c1'\).*Fix: give each cell")(
    lambda tmp, mp: check_paired_rna(atac(), atac(cells=("c1", "c1"))))
case("paired-rna-other-order", r"same 2 cells as ATAC but in a different order.*Fix: reorder RNA")(
    lambda tmp, mp: check_paired_rna(atac(), atac(cells=("c2", "c1"))))

# checkpoints and writers ----------------------------------------------------------------------------------


@case("checkpoint-wrong-version", r"format_version 99.*start a new run \(resume=False\)")
def _(tmp, mp):
    torch.save({"format_version": 99, "epoch": 1}, tmp / "c.pt")
    load_checkpoint(tmp / "c.pt")


@case("checkpoint-truncated", r"c\.pt' is not a readable torch file.*Fix: restore it")
def _(tmp, mp):
    save_checkpoint({"epoch": 1}, tmp / "c.pt")
    load_checkpoint(truncated(tmp / "c.pt", 200))


@case("checkpoint-tampered-pickle", r"c\.pt' holds Python objects other than tensors.*refuses to load it")
def _(tmp, mp):
    torch.save({"format_version": 1, "epoch": CreatesMarker(tmp / "out")}, tmp / "c.pt")  # would create out
    load_checkpoint(tmp / "c.pt")


case("write-fasta-bad-chromosome-name", r"non-empty chromosome names without whitespace.*'chr 1'.*fix that entry")(
    lambda tmp, mp: write_fasta({"chr 1": "ACGT"}, tmp / "out" / "g.fa"))


@pytest.mark.parametrize(("call", "match"), CASES)
def test_bad_input_raises_a_clear_error_and_writes_nothing(call, match, tmp_path, monkeypatch):
    with pytest.raises(SeqatacInputError, match=f"(?s){match}"):
        call(tmp_path, monkeypatch)
    assert not (tmp_path / "out").exists()


def test_the_read_only_case_left_no_index_behind(tmp_path, monkeypatch):
    fasta = read_only_fasta(tmp_path, monkeypatch)
    with pytest.raises(SeqatacInputError):
        Genome(fasta)
    assert sorted(p.name for p in fasta.parent.iterdir()) == ["g.fa"]
    os.chmod(fasta.parent, 0o755)
    monkeypatch.undo()
    assert Genome(fasta).fetch("chr1", 0, 4) == "ACGT"  # writable again: the index is built as usual


# ------------------------------------------------------------------------------------------ inputs that are fine


def test_soft_masked_fasta_reads_as_uppercase_bases(tmp_path):
    masked = Genome(text(tmp_path / "masked.fa", ">chr1\nacgtACGTnnGT\n"))
    upper = Genome(text(tmp_path / "upper.fa", ">chr1\nACGTACGTNNGT\n"))
    windows = regions(("chr1", 0, 12), ("chr1", 3, 7))
    codes = masked.encode_regions(windows, width=12)
    np.testing.assert_array_equal(codes, upper.encode_regions(windows, width=12))
    assert decode_sequence(codes[0]) == "ACGTACGTNNGT"
    assert masked.fetch("chr1", 0, 4) == "acgt"  # fetch keeps the stored case, as documented


def test_iupac_codes_become_n(tmp_path):
    genome = Genome(text(tmp_path / "g.fa", ">chr1\nARYKMSWBDHVNgt\n"))
    codes = genome.encode_regions(regions(("chr1", 0, 14)), width=14)[0]
    np.testing.assert_array_equal(codes, [0] + [4] * 11 + [2, 3])
    np.testing.assert_array_equal(encode_sequence("ryAc"), [4, 4, 0, 1])


def test_an_empty_record_warns_and_reads_as_n(tmp_path):
    with pytest.warns(SeqatacWarning, match=r"1 sequence\(s\) of the genome .* are empty \(e\.g\. 'chrE'\)"):
        genome = Genome(text(tmp_path / "g.fa", ">chrE\n>chr1\nACGT\n"))
    assert genome.chrom_sizes == {"chrE": 0, "chr1": 4}
    assert decode_sequence(genome.encode_regions(regions(("chrE", 0, 4)), width=4)[0]) == "NNNN"


# ------------------------------------------------------------------------------------------ saved models

SCBASSET = dict(seq_len=200, n_filters_init=8, stem_kernel_size=9, n_tower_layers=1, filters_mult=1.0,
                n_filters_pre_bottleneck=8, bottleneck_size=4)
EPIFOUNDATION = dict(preset="tiny", d_model=32, n_heads=2, d_ff=64, n_layers=1, max_len=64, max_genes=32)


@pytest.fixture(scope="module")
def simulation(tmp_path_factory):
    sim = simulate_atac("tiny", random_state=0, n_cells=60, n_peaks=300)
    keep = np.asarray((sim.atac.X > 0).sum(0)).ravel() > 0
    sim.atac = sim.atac[:, keep].copy()
    files = write_simulation(sim, tmp_path_factory.mktemp("simulation"))
    return sim, files


@pytest.fixture(scope="module")
def saved_models(simulation, tmp_path_factory):
    """Each model trained for one epoch on the tiny simulation and saved: {name: (class, directory)}."""
    sim, _ = simulation
    root = tmp_path_factory.mktemp("models")
    scbasset = ScBasset(sim.atac, sim.genome, random_state=0, **SCBASSET)
    scbasset.fit(max_epochs=1, batch_size=64, device="cpu", precision="fp32", n_threads=1, verbose=False)
    scbasset.save(root / "scbasset")
    cellspace = CellSpace(sim.atac, sim.genome, random_state=0, bucket=4096, examples_per_event=2)
    cellspace.fit(1, random_state=0, n_threads=1, verbose=False)
    cellspace.save(root / "cellspace")
    epifoundation = EpiFoundation(sim.atac, sim.rna, random_state=0, **EPIFOUNDATION)
    epifoundation.pretrain(max_epochs=1, max_cells=32, max_tokens=2048, verbose=False)
    epifoundation.save(root / "epifoundation")
    return {"scbasset": (ScBasset, root / "scbasset"), "cellspace": (CellSpace, root / "cellspace"),
            "epifoundation": (EpiFoundation, root / "epifoundation")}


class CreatesMarker:
    """A pickle payload: unpickling it calls ``Path.touch(marker)`` (what a tampered weights file would do)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (self.marker,)


def edit_config(directory: Path, change) -> None:
    config = json.loads((directory / "config.json").read_text())
    change(config)
    (directory / "config.json").write_text(json.dumps(config))


def widen(config) -> None:
    """Double the embedding width in config.json, so the weights no longer fit it."""
    for section, key in (("architecture", "bottleneck_size"), ("config", "n_latent"), ("architecture", "d_model")):
        if key in config.get(section, {}):
            config[section][key] *= 2


TABLES = {"scbasset": "cells.csv", "cellspace": "cells.tsv", "epifoundation": "peaks.csv"}
TAMPERING = {
    "missing-config": (lambda d, name: (d / "config.json").unlink(),
                       r"holds no saved \w+ model \(config\.json missing\)\. Fix: pass the directory"),
    "missing-weights": (lambda d, name: (d / "model.pt").unlink(),
                        r"model\.pt' does not exist\. Fix: copy the whole saved model"),
    "missing-table": (lambda d, name: (d / TABLES[name]).unlink(),
                      r"is incomplete: (cells\.csv|cells\.tsv|peaks\.csv) is missing\. Fix: copy the whole model"),
    "config-not-json": (lambda d, name: (d / "config.json").write_text("{model: scbasset"),
                        r"config\.json' is not valid JSON.*Fix: restore the model directory"),
    "wrong-format-version": (lambda d, name: edit_config(d, lambda c: c.update(format_version=99)),
                             r"format_version=99; this seqatac reads \w+ models of format_version 1\. Fix"),
    "config-weights-mismatch": (lambda d, name: edit_config(d, widen),
                                r"weights in .* do not fit the architecture in its config\.json.*size mismatch.*Fix"),
    "truncated-weights": (lambda d, name: (d / "model.pt").write_bytes((d / "model.pt").read_bytes()[:500]),
                          r"model\.pt' is not a readable torch file.*truncated or corrupt\. Fix: restore it"),
    "tampered-pickle": (lambda d, name: torch.save({"weight": CreatesMarker(d.parent / "MARKER")}, d / "model.pt"),
                        r"model\.pt' holds Python objects other than tensors.*refuses to load it.*Fix: use a model"),
    "plain-pickle": (lambda d, name: (d / "model.pt").write_bytes(pickle.dumps(CreatesMarker(d.parent / "MARKER"))),
                     r"model\.pt' holds Python objects other than tensors.*never unpickles code"),
}


@pytest.mark.parametrize("tampering", list(TAMPERING))
@pytest.mark.parametrize("name", ["scbasset", "cellspace", "epifoundation"])
def test_damaged_model_directory_is_refused_clearly(saved_models, name, tampering, tmp_path):
    model_class, saved = saved_models[name]
    directory = tmp_path / name
    shutil.copytree(saved, directory)
    damage, match = TAMPERING[tampering]
    damage(directory, name)
    with pytest.raises(SeqatacInputError, match=f"(?s){match}"):
        model_class.load(directory)
    assert not (tmp_path / "MARKER").exists()  # no code from the file ran


def test_the_pickle_payload_would_run_if_unpickled(tmp_path):
    """Control for the tampering cases: the payload really creates its marker when unpickled unsafely."""
    payload = pickle.dumps(CreatesMarker(tmp_path / "MARKER"))
    pickle.loads(payload)
    assert (tmp_path / "MARKER").exists()


@pytest.mark.parametrize("name", ["scbasset", "cellspace", "epifoundation"])
def test_another_models_directory_is_refused(saved_models, name):
    others = [directory for other, (_, directory) in saved_models.items() if other != name]
    model_class = saved_models[name][0]
    for directory in others:
        with pytest.raises(SeqatacInputError, match=r"holds model='\w+' with format_version=1; this seqatac reads"):
            model_class.load(directory)


def test_intact_model_directories_still_load(saved_models):
    for model_class, directory in saved_models.values():
        assert isinstance(model_class.load(directory), model_class)


# ------------------------------------------------------------------------------------------ command line

def cli_inputs(tmp: Path, files: dict, saved_models: dict) -> dict[str, str]:
    """Write every input the command-line cases refer to; returns the ``{name}`` fields of their argv."""
    shutil.copytree(saved_models["scbasset"][1], tmp / "scbasset")
    shutil.copytree(saved_models["epifoundation"][1], tmp / "epifoundation")
    shutil.copytree(saved_models["scbasset"][1], tmp / "tampered")
    torch.save({"weight": CreatesMarker(tmp / "MARKER")}, tmp / "tampered" / "model.pt")
    truncated_motif = MEME + "MOTIF m1\nletter-probability matrix: w= 3\n1 0 0 0\n"
    return {
        "out": str(tmp / "out"), "tmp": str(tmp), "atac": str(files["atac"]), "genome": str(files["genome"]),
        "scbasset": str(tmp / "scbasset"), "epifoundation": str(tmp / "epifoundation"),
        "tampered": str(tmp / "tampered"),
        "nan_h5ad": str(h5ad(tmp, atac([[np.nan, 1, 1], [1, 1, 1]]), "nan.h5ad")),
        "other_cells": str(h5ad(tmp, atac(), "other_cells.h5ad")),
        "not_hdf5": str(text(tmp / "broken.h5ad", b"\x89HDF\r\n\x1a\n" + b"0" * 64)),
        "truncated_motif": str(text(tmp / "m.meme", truncated_motif)),
        "other_genome": str(write_fasta({"chrZ": "ACGT" * 10}, tmp / "z.fa")),
        "not_json": str(text(tmp / "c.json", "n_latent=3")),
    }


CLI_CASES = [
    pytest.param(["lsi", "--atac", "{tmp}/nope.h5ad", "--out", "{out}/l.h5ad"],
                 r"nope\.h5ad does not exist\. Fix", id="lsi-missing-input"),
    pytest.param(["lsi", "--atac", "{nan_h5ad}", "--out", "{out}/l.h5ad"],
                 r"1 NaN values.*Fix: put the raw count matrix", id="lsi-nan-counts"),
    pytest.param(["evaluate", "--adata", "{not_hdf5}", "--embedding", "X", "--label-key", "cell_type",
                  "--out", "{out}/m.json"],
                 r"cannot read .*broken\.h5ad.*Fix: copy or export it again", id="evaluate-unreadable-h5ad"),
    pytest.param(["evaluate", "--adata", "{atac}", "--embedding", "X_nope", "--label-key", "cell_type",
                  "--out", "{out}/m.json"],
                 r"adata\.obsm has no 'X_nope'.*Pass one of them", id="evaluate-missing-embedding"),
    pytest.param(["chromvar", "--atac", "{atac}", "--genome", "{genome}", "--motifs", "{truncated_motif}",
                  "--out", "{out}/c.h5ad"],
                 r"truncated: w=3 but only 1 rows.*Fix the file", id="chromvar-truncated-motifs"),
    pytest.param(["simulate", "--preset", "tiny", "--set", "n_cells", "--out", "{out}"],
                 r"--set expects KEY=VALUE, got 'n_cells'", id="simulate-set-without-value"),
    pytest.param(["simulate", "--preset", "tiny", "--set", "n_cells=-5", "--out", "{out}"],
                 r"n_cells = -5; set n_cells >= 1", id="simulate-invalid-parameter"),
    pytest.param(["fit", "scbasset", "--atac", "{atac}", "--genome", "{other_genome}", "--epochs", "1",
                  "--out", "{out}"],
                 r"chromosome\(s\) of the regions are not in the genome.*'chrZ'.*Use the FASTA",
                 id="fit-scbasset-genome-lacks-chromosomes"),
    pytest.param(["fit", "scbasset", "--atac", "{atac}", "--genome", "{genome}", "--epochs", "1",
                  "--set", "bogus=1", "--out", "{out}"],
                 r"\['bogus'\]; architecture options are", id="fit-scbasset-unknown-option"),
    pytest.param(["fit", "cellspace", "--atac", "{atac}", "--genome", "{genome}", "--config", "{not_json}",
                  "--out", "{out}"],
                 r"cannot read the JSON config .*c\.json.*Fix: pass a JSON file", id="fit-cellspace-config-not-json"),
    pytest.param(["fit", "epifoundation", "--mode", "pretrain", "--atac", "{atac}", "--rna", "{other_cells}",
                  "--preset", "tiny", "--epochs", "1", "--out", "{out}"],
                 r"paired RNA cells do not match the ATAC cells.*Fix: keep the shared cells",
                 id="fit-epifoundation-rna-of-other-cells"),
    pytest.param(["ism", "--model", "{tampered}", "--sequence", "A" * 200, "--out", "{out}/i.h5"],
                 r"holds Python objects other than tensors.*refuses to load it", id="ism-tampered-model"),
    pytest.param(["ism", "--model", "{scbasset}", "--out", "{out}/i.h5"],
                 r"ism needs exactly one of --region chr:start-end or --sequence",
                 id="ism-neither-region-nor-sequence"),
    pytest.param(["annotate", "--model", "{epifoundation}", "--atac", "{atac}", "--out", "{out}/a.h5ad"],
                 r"has no cell-type head; fine-tune it first", id="annotate-model-without-cell-type-head"),
]


@pytest.mark.parametrize(("argv", "match"), CLI_CASES)
def test_cli_bad_input_exits_2_with_the_fix_and_writes_nothing(argv, match, simulation, saved_models, tmp_path,
                                                               capsys):
    fields = cli_inputs(tmp_path, simulation[1], saved_models)
    assert main(["-q", *(argument.format(**fields) for argument in argv)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("seqatac ") and ": error: " in error
    assert re.search(f"(?s){match}", error), error
    assert not (tmp_path / "out").exists() and not (tmp_path / "MARKER").exists()


@pytest.mark.parametrize(("argv", "match"), [
    pytest.param(["lsi", "--out", "x.h5ad"], r"the following arguments are required: --atac", id="missing-argument"),
    pytest.param(["fit", "scbasset", "--atac", "a", "--genome", "g", "--out", "o", "--precision", "fp64"],
                 r"--precision: invalid choice: 'fp64'", id="invalid-choice"),
    pytest.param(["frobnicate"], r"invalid choice: 'frobnicate'", id="unknown-command"),
])
def test_cli_argument_errors_exit_2_before_any_work(argv, match, capsys, tmp_path, monkeypatch):
    """argparse rejects these itself (SystemExit 2 with a usage line) before seqatac runs anything."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert re.search(match, capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []
