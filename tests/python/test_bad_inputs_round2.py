"""Hostile input, round 2: wrong files given as a genome, indexes that belong to another FASTA, peaks of another
genome build, and every ``--out`` hazard for every subcommand (exit 2, one line, nothing left behind)."""

import argparse
import errno
import gzip
import re
import warnings

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from seqatac import SeqatacInputError, SeqatacWarning
from seqatac._utils import atomic_directory
from seqatac.cli import build_parser, main
from seqatac.cli._common import exclusive_output
from seqatac.data import Genome, write_fasta


def regions(*rows):
    return pd.DataFrame(rows, columns=["chrom", "start", "end"])


# ------------------------------------------------------------------------------------------ genome files


@pytest.fixture()
def fasta(tmp_path):
    return write_fasta({"chr1": "ACGT" * 125, "chr2": "G" * 300}, tmp_path / "g.fa")


def test_an_index_of_another_version_of_the_fasta_is_rebuilt(fasta):
    old_index = (fasta.parent / "g.fa.fai").read_text()
    write_fasta({"chr1": "TT" * 251, "chr2": "C" * 300}, fasta, line_width=70)  # same names, other layout
    (fasta.parent / "g.fa.fai").write_text(old_index)  # newer than the FASTA: pyfaidx alone would trust it
    with pytest.warns(SeqatacWarning, match=r"g\.fa\.fai' did not match its FASTA .*chr1.*rebuilt it"):
        genome = Genome(fasta)
    assert genome.chrom_sizes == {"chr1": 502, "chr2": 300}
    assert genome.fetch("chr1", 0, 6) == "TTTTTT" and genome.fetch("chr2", 295, 300) == "CCCCC"


def test_an_index_with_shifted_offsets_is_rebuilt(fasta):
    index = fasta.parent / "g.fa.fai"
    rows = [line.split("\t") for line in index.read_text().splitlines()]
    rows[1][2] = str(int(rows[1][2]) - 3)  # chr2's offset points into the header line
    index.write_text("".join("\t".join(row) + "\n" for row in rows))
    with pytest.warns(SeqatacWarning, match=r"'chr2' does not start right after its '>chr2' header"):
        genome = Genome(fasta)
    assert genome.fetch("chr2", 0, 4) == "GGGG"


def test_a_garbage_index_is_rebuilt(fasta):
    (fasta.parent / "g.fa.fai").write_text("not an index at all\n")
    with pytest.warns(SeqatacWarning, match="not a tab-separated faidx index"):
        assert Genome(fasta).chrom_sizes == {"chr1": 500, "chr2": 300}


def test_an_intact_index_is_kept_without_a_warning(fasta):
    before = (fasta.parent / "g.fa.fai").stat().st_mtime_ns
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Genome(fasta)
    assert (fasta.parent / "g.fa.fai").stat().st_mtime_ns == before


def _file(path, data: bytes):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(("make", "match"), [
    pytest.param(lambda d: (d / "genome").mkdir() or d / "genome", r"is a directory, not a FASTA file.*Fix: pass",
                 id="directory"),
    pytest.param(lambda d: ad.AnnData(sp.csr_matrix(np.ones((2, 2), np.float32))).write_h5ad(d / "a.h5ad")
                 or d / "a.h5ad", r"is an HDF5 file \(an \.h5ad or 10x \.h5\?\), not a FASTA", id="h5ad"),
    pytest.param(lambda d: _file(d / "g.fa.gz", gzip.compress(b">chr1\nACGT\n")),
                 r"compressed with plain gzip.*Fix: recompress it with bgzip", id="plain-gzip"),
    pytest.param(lambda d: _file(d / "g.fa", b"\x00\x01binary"),
                 r"not a valid FASTA: it starts with .*not a '>name' header line", id="binary"),
    pytest.param(lambda d: _file(d / "peaks.bed", b"chr1\t0\t10\n"),
                 r"not a valid FASTA: it starts with 'chr1", id="bed-as-genome"),
])
def test_what_is_not_a_fasta_is_named(make, match, tmp_path):
    path = make(tmp_path)
    with pytest.raises(SeqatacInputError, match=match):
        Genome(path)
    assert not list(tmp_path.glob("*.fai"))


def test_peaks_of_another_genome_build_warn_then_refuse(fasta):
    genome = Genome(fasta)
    inside = [("chr1", 10 * k, 10 * k + 8) for k in range(40)]
    with pytest.warns(SeqatacWarning, match=r"2 of 42 regions \(5%\) run past the end.*Is this the genome build"):
        codes = genome.encode_regions(regions(*inside, ("chr1", 495, 510), ("chr2", 299, 320)), width=8)
    assert codes.shape == (42, 8)
    with pytest.raises(SeqatacInputError, match=r"30 of 40 regions \(75%\).*genome build.*Fix: pass the FASTA"):
        genome.encode_regions(regions(*inside[:10], *[("chr1", 600 + k, 700 + k) for k in range(30)]), width=8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # windows past the end of peaks inside the genome pad quietly
        genome.encode_regions(regions(("chr1", 0, 4), ("chr2", 296, 300)), width=20)


# ------------------------------------------------------------------------------------------ --out hazards


def _leaf_commands():
    """Every runnable subcommand as (argv prefix, its parser)."""
    def walk(parser, prefix):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from walk(sub, [*prefix, name])
                return
        yield prefix, parser

    return list(walk(build_parser(), []))


def _argv(prefix, parser, out: str):
    """The subcommand with placeholder values for its required options and ``--out``."""
    argv = list(prefix)
    for action in parser._actions:
        if action.required and action.dest != "out" and action.option_strings:
            argv += [action.option_strings[0], action.choices[0] if action.choices else "placeholder"]
    return [*argv, "--out", out]


def _writes_directory(parser) -> bool:
    return bool(parser.get_default("writes_directory"))


HAZARDS = {
    "directory-where-a-file-goes": lambda tmp, directory: str(tmp) if not directory else None,
    "file-where-a-directory-goes": lambda tmp, directory: str(tmp / "file.txt") if directory else None,
    "parent-is-a-file": lambda tmp, directory: str(tmp / "file.txt" / "out"),
}


@pytest.mark.parametrize("hazard", sorted(HAZARDS))
@pytest.mark.parametrize(("prefix", "parser"), _leaf_commands(), ids=lambda v: "-".join(v) if isinstance(v, list)
                         else None)
def test_every_subcommand_refuses_a_bad_out_before_any_work(prefix, parser, hazard, tmp_path, monkeypatch,
                                                             capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file.txt").write_text("keep me")
    out = HAZARDS[hazard](tmp_path, _writes_directory(parser))
    if out is None:
        pytest.skip("this hazard does not apply to this kind of output")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(SystemExit) as info:
        main(_argv(prefix, parser, out))
    assert info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "argument --out" in error and "Fix:" in error, error
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    assert (tmp_path / "file.txt").read_text() == "keep me"


@pytest.fixture()
def small_atac(tmp_path):
    rng = np.random.default_rng(0)
    adata = ad.AnnData(sp.csr_matrix(rng.poisson(0.5, (40, 60)).astype(np.float32)))
    adata.var_names = [f"chr1:{100 * k}-{100 * k + 50}" for k in range(60)]
    adata.obs_names = [f"c{k}" for k in range(40)]
    adata.write_h5ad(tmp_path / "atac.h5ad")
    return tmp_path / "atac.h5ad"


def test_a_full_disk_while_writing_exits_2_and_leaves_nothing(small_atac, tmp_path, monkeypatch, capsys):
    def no_space(self, path, *args, **kwargs):
        with open(path, "wb") as handle:
            handle.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(ad.AnnData, "write_h5ad", no_space)
    out = tmp_path / "out"
    out.mkdir()
    assert main(["-q", "lsi", "--atac", str(small_atac), "--n-components", "5", "--out", str(out / "l.h5ad")]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "No space left on device" in error[0] and "Fix:" in error[0], error
    assert list(out.iterdir()) == []


def test_a_second_writer_of_one_out_directory_is_refused(tmp_path, capsys):
    out = tmp_path / "sim"
    with exclusive_output(out):
        assert main(["-q", "simulate", "--preset", "tiny", "--set", "n_cells=20", "--out", str(out)]) == 2
    assert re.search(r"another seqatac process is writing .*sim.*Fix: wait", capsys.readouterr().err)
    assert list(out.iterdir()) == []


def test_a_failed_run_removes_the_out_directory_it_created(tmp_path, capsys):
    out = tmp_path / "fit"
    assert main(["-q", "fit", "cellspace", "--atac", str(tmp_path / "missing.h5ad"), "--genome",
                 str(tmp_path / "g.fa"), "--out", str(out)]) == 2
    assert "missing.h5ad" in capsys.readouterr().err
    assert not out.exists()


def test_atomic_directory_is_whole_or_nothing(tmp_path):
    target = tmp_path / "model"
    with atomic_directory(target) as tmp:
        (tmp / "config.json").write_text("{}")
    assert [p.name for p in target.iterdir()] == ["config.json"]
    with pytest.raises(RuntimeError), atomic_directory(target, overwrite=True) as tmp:
        (tmp / "weights.pt").write_text("half")
        raise RuntimeError("disk full")
    assert [p.name for p in target.iterdir()] == ["config.json"]  # the previous model is untouched
    with atomic_directory(target, overwrite=True) as tmp:
        (tmp / "weights.pt").write_text("new")
    assert [p.name for p in target.iterdir()] == ["weights.pt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no temporary siblings left
    with pytest.raises(FileExistsError):
        with atomic_directory(target):
            pass


# ------------------------------------------------------------------------------------------ resume fingerprint

SCBASSET = dict(seq_len=200, n_filters_init=8, stem_kernel_size=9, n_tower_layers=1, filters_mult=1.0,
                n_filters_pre_bottleneck=8, bottleneck_size=4)


@pytest.fixture(scope="module")
def scbasset_run(tmp_path_factory):
    """A tiny simulation and a scBasset checkpoint of one epoch on it (seed 0)."""
    from seqatac.models import ScBasset
    from seqatac.simulate import simulate_atac

    sim = simulate_atac("tiny", random_state=0, n_cells=40, n_peaks=200)
    sim.atac = sim.atac[:, np.asarray((sim.atac.X > 0).sum(0)).ravel() > 0].copy()
    checkpoints = tmp_path_factory.mktemp("checkpoints")
    ScBasset(sim.atac, sim.genome, random_state=0, **SCBASSET).fit(
        max_epochs=1, batch_size=64, device="cpu", precision="fp32", n_threads=1, verbose=False,
        checkpoint_dir=checkpoints)
    return sim, checkpoints


def _resume_scbasset(atac, genome, checkpoints, seed):
    from seqatac.models import ScBasset

    ScBasset(atac, genome, random_state=seed, **SCBASSET).fit(
        max_epochs=2, batch_size=64, device="cpu", precision="fp32", n_threads=1, verbose=False,
        checkpoint_dir=checkpoints, resume=True)


@pytest.mark.parametrize("change", ["seed", "counts", "genome"])
def test_a_checkpoint_resumes_only_its_own_run(scbasset_run, change, tmp_path):
    sim, checkpoints = scbasset_run
    atac, genome, seed = sim.atac.copy(), sim.genome, 0
    if change == "seed":
        seed = 1
    elif change == "counts":  # same shape, same number of open entries, other cells open
        atac.X = sp.csr_matrix(atac.X.toarray()[::-1])
        atac.obs_names = sim.atac.obs_names
    else:
        sequences = {name: genome.fetch(name, 0, size)[::-1] for name, size in genome.chrom_sizes.items()}
        genome = Genome.from_dict(sequences)
    before = (checkpoints / "checkpoint.pt").read_bytes()
    with pytest.raises(SeqatacInputError, match=r"belongs to a different .*changed: .*(seed|data_sha256).*Fix"):
        _resume_scbasset(atac, genome, checkpoints, seed)
    assert (checkpoints / "checkpoint.pt").read_bytes() == before  # the refused run wrote nothing


# ------------------------------------------------------------------------------------------ order independence


def test_annotation_does_not_depend_on_the_order_of_the_cells():
    """Cells longer than max_len keep a peak sample drawn from their own name and the seed, not a shared stream."""
    from seqatac.models import EpiFoundation
    from seqatac.simulate import simulate_atac

    sim = simulate_atac("tiny", random_state=1, n_cells=60, n_peaks=300, rna=False)
    atac = sim.atac
    assert np.median(np.diff(atac.X.tocsr().indptr)) > 7  # most cells are sampled at max_len=8
    EpiFoundation.setup_anndata(atac, labels_key="cell_type")
    model = EpiFoundation(atac, None, preset="tiny", random_state=0, d_model=16, n_heads=2, d_ff=32, n_layers=1,
                          max_len=8)
    model.fit("annotate", max_epochs=1, max_cells=16, max_tokens=512, n_threads=1, verbose=False)
    forward = model.predict_cell_type_probabilities(atac, max_cells=7, n_threads=1, verbose=False)
    order = np.random.default_rng(0).permutation(atac.n_obs)
    shuffled = model.predict_cell_type_probabilities(atac[order].copy(), max_cells=5, n_threads=1, verbose=False)
    shuffled = shuffled.loc[forward.index]
    np.testing.assert_allclose(shuffled.to_numpy(), forward.to_numpy(), rtol=0, atol=1e-6)
    assert (shuffled.idxmax(axis=1) == forward.idxmax(axis=1)).all()


@pytest.mark.parametrize("change", ["seed", "counts"])
def test_a_cellspace_checkpoint_resumes_only_its_own_run(scbasset_run, change, tmp_path):
    from seqatac.models.cellspace import CellSpace

    sim, _ = scbasset_run
    options = dict(bucket=4096, examples_per_event=2)
    CellSpace(sim.atac, sim.genome, random_state=0, **options).fit(1, random_state=0, n_threads=1, verbose=False,
                                                                    checkpoint_dir=tmp_path / "ckpt")
    atac, seed = sim.atac.copy(), 0
    if change == "seed":
        seed = 5
    else:
        atac.X = sp.csr_matrix(atac.X.toarray()[::-1])
    resumed = CellSpace(atac, sim.genome, random_state=0, **options)
    with pytest.raises(SeqatacInputError, match=r"belongs to a different run \(changed: .*(seed|data_sha256).*Fix"):
        resumed.fit(2, random_state=seed, n_threads=1, verbose=False, checkpoint_dir=tmp_path / "ckpt", resume=True)


# ------------------------------------------------------------------------------------------ damaged sparse files

PEAK_NAMES = ["chr1:0-10", "chr1:20-30", "chr1:40-50"]


def _h5_10x(path, *, indices=None, indptr=None):
    """A cellranger-style matrix of [[1, 0, 2], [0, 1, 1]] (cells × peaks), with arrays optionally damaged."""
    import h5py

    matrix = sp.csc_matrix(np.array([[1, 0, 2], [0, 1, 1]], np.float32).T)
    with h5py.File(path, "w") as handle:
        group = handle.create_group("matrix")
        group["barcodes"] = np.array([b"c1", b"c2"])
        group["data"] = matrix.data
        group["indices"] = matrix.indices if indices is None else np.asarray(indices, np.int64)
        group["indptr"] = matrix.indptr if indptr is None else np.asarray(indptr, np.int64)
        group["shape"] = np.array([3, 2], dtype=np.int32)
        features = group.create_group("features")
        features["id"] = np.array(PEAK_NAMES, dtype="S")
        features["name"] = np.array(PEAK_NAMES, dtype="S")
        features["feature_type"] = np.array(["Peaks"] * 3, dtype="S")
    return path


@pytest.mark.parametrize(("damage", "match"), [
    pytest.param(dict(indices=[1000, 2, 1, 2]), r"an index is 1000, outside 0\.\.2", id="index-past-the-features"),
    pytest.param(dict(indices=[-1, 2, 1, 2]), r"an index is -1", id="negative-index"),
    pytest.param(dict(indptr=[0, 3, 2]), r"indptr does not start at 0 and never decrease", id="decreasing-indptr"),
    pytest.param(dict(indptr=[0, 2, 9]), r"indptr ends at 9 but there are 4 indices", id="indptr-overruns"),
])
def test_a_damaged_10x_matrix_is_refused_not_misread(damage, match, tmp_path, capsys):
    from seqatac.data import read_atac

    path = _h5_10x(tmp_path / "m.h5", **damage)
    with pytest.raises(SeqatacInputError, match=rf"sparse matrix in .*m\.h5 is damaged: {match}.*Fix: export"):
        read_atac(path)
    assert main(["-q", "lsi", "--atac", str(path), "--out", str(tmp_path / "l.h5ad")]) == 2  # not a segfault
    assert "is damaged" in capsys.readouterr().err and not (tmp_path / "l.h5ad").exists()


def test_an_intact_10x_matrix_reads_exactly(tmp_path):
    from seqatac.data import read_atac

    adata = read_atac(_h5_10x(tmp_path / "m.h5"))
    np.testing.assert_array_equal(adata.X.toarray(), [[1, 0, 2], [0, 1, 1]])


def test_a_damaged_in_memory_matrix_is_refused_by_validate_atac():
    from seqatac.data import validate_atac

    X = sp.csr_matrix(np.array([[1, 0, 2], [0, 1, 1]], np.float32))
    X.indices[0] = 7  # scipy does not check
    with pytest.raises(SeqatacInputError, match=r"adata\.X is damaged: an index is 7"):
        validate_atac(ad.AnnData(X, var=pd.DataFrame(index=PEAK_NAMES)))


def test_motifs_longer_than_every_peak_are_named_as_such(tmp_path):
    from seqatac.baselines import chromvar_deviations
    from seqatac.data import Motif

    genome = Genome(write_fasta({"chr1": "ACGT" * 50}, tmp_path / "g.fa"))
    adata = ad.AnnData(sp.csr_matrix(np.random.default_rng(0).poisson(1.0, (30, 12)).astype(np.float32) + 1))
    adata.var_names = [f"chr1:{10 * k}-{10 * k + 10}" for k in range(12)]
    long_motif = Motif("MA9", "LONG", np.full((25, 4), 0.25))
    with pytest.raises(SeqatacInputError, match=r"every motif is longer than the longest scanned window \(10 bp\)"
                                                 r".*LONG: 25 bp.*Fix: pass width="):
        chromvar_deviations(adata, [long_motif], genome=genome)
