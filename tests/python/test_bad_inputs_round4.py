"""Hostile input, round 4 (issue 15): files that read as something they are not (blanks counted as bases, CR
line ends, hard-masked genomes, a motif longer than its declared width, a gene table of another build),
outputs that carry no information (a constant embedding, cells without a peak), and model directories whose
tables repeat a name."""

import warnings

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from seqatac import SeqatacInputError, SeqatacWarning
from seqatac.baselines import gene_activity
from seqatac.cli import main
from seqatac.data import Genome, gene_annotation, parse_regions, read_motifs
from seqatac.metrics import benchmark, compute_neighbors
from seqatac.models import CellSpace, EpiFoundation, ScBasset
from test_epifoundation import FIT as EPI_FIT
from test_epifoundation import TINY, planted_data
from test_scbasset import SMALL
from test_scbasset import planted_data as scbasset_data

BASES = "ACGT" * 30  # 120 bp


# ------------------------------------------------------------------------------------------ FASTA files


def test_blanks_inside_sequence_lines_are_refused_not_counted_as_bases(tmp_path):
    fasta = tmp_path / "g.fa"
    fasta.write_text(f">chr1 a description\n{BASES[:60]} \n{BASES[60:]} \n")
    with pytest.raises(SeqatacInputError, match=r"blanks inside sequence line 2 .*shift every position after "
                                                r"them\. Fix: remove them"):
        Genome(fasta)
    fasta.write_text(f">chr1 a description\n{BASES[:60]}\n{BASES[60:]}\n")  # blanks in the header are fine
    assert Genome(fasta).fetch("chr1", 55, 70) == BASES[55:70]


def test_cr_only_line_ends_are_named_not_reported_as_an_empty_genome(tmp_path):
    fasta = tmp_path / "mac.fa"
    fasta.write_bytes(f">chr1\r{BASES[:60]}\r{BASES[60:]}\r".encode())
    with pytest.raises(SeqatacInputError, match=r"ends its lines with CR alone .*Fix: convert them to LF"):
        Genome(fasta)
    fasta.write_bytes(f">chr1\r\n{BASES[:60]}\r\n{BASES[60:]}\r\n".encode())  # CRLF is read as usual
    assert Genome(fasta).fetch("chr1", 0, 10) == BASES[:10]


def test_a_genome_of_n_where_the_peaks_lie_warns_or_refuses():
    peaks = parse_regions([f"chr1:{100 * k}-{100 * k + 50}" for k in range(40)])
    with pytest.raises(SeqatacInputError, match=r"40 of 40 regions sampled read only N .*hard-masked or "
                                                r"placeholder FASTA.*Fix: pass the unmasked genome"):
        Genome.from_dict({"chr1": "N" * 5000}).encode_regions(peaks, width=50)
    partly = Genome.from_dict({"chr1": "N" * 500 + "ACGT" * 1125})  # 5 of 40 peaks in the Ns: warn
    with pytest.warns(SeqatacWarning, match="5 of 40 regions sampled read only N"):
        codes = partly.encode_regions(peaks, width=50)
    assert codes.shape == (40, 50)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Genome.from_dict({"chr1": "ACGT" * 1250}).encode_regions(peaks, width=50)  # none: silent


# ------------------------------------------------------------------------------------------ motif files


def test_a_meme_matrix_longer_than_its_declared_width_is_refused(tmp_path):
    rows = "\n".join(["0.7 0.1 0.1 0.1", "0.1 0.7 0.1 0.1", "0.1 0.1 0.7 0.1", "0.1 0.1 0.1 0.7"])
    path = tmp_path / "m.meme"
    path.write_text(f"MEME version 4\n\nALPHABET= ACGT\n\nMOTIF M1\nletter-probability matrix: alength= 4 w= 2\n"
                    f"{rows}\n")
    with pytest.raises(SeqatacInputError, match=r"motif 'M1', line 9: w=2 but more matrix rows follow"):
        read_motifs(path)
    path.write_text(path.read_text().replace("w= 2", "w= 4"))
    assert read_motifs(path)[0].length == 4


# ------------------------------------------------------------------------------------------ gene tables


def _peaks_on(chroms):
    names = [f"{c}:{1000 * k}-{1000 * k + 400}" for c in chroms for k in range(1, 6)]
    X = sp.csr_matrix(np.random.default_rng(0).poisson(1.0, (8, len(names))).astype(np.float32))
    return ad.AnnData(X, var=pd.DataFrame(index=names))


def _genes(rows):
    return pd.DataFrame(rows, columns=["chrom", "start", "end", "strand"], index=[f"G{k}" for k in range(len(rows))])


def test_gene_activity_of_a_gene_table_that_fits_no_peak_is_refused_not_all_zero():
    adata = _peaks_on(["chr1", "chr2"])
    with pytest.raises(SeqatacInputError, match=r"share no chromosome \(peaks on chr1, chr2; genes on chrX\).*"
                                                r"every gene activity would be 0.*genome build"):
        gene_activity(adata, _genes([("chrX", 900, 5000, "+")]))
    with pytest.raises(SeqatacInputError, match=r"none of its 1 genes overlaps one of the 10 peaks"):
        gene_activity(adata, _genes([("chr1", 90_000, 95_000, "+")]))
    assert gene_activity(adata, _genes([("1", 900, 2500, "+")])).var["n_peaks"].tolist() == [2]  # chr1 = 1


def test_genes_that_repeat_a_name_are_dropped_with_a_warning_not_silently(tmp_path):
    gtf = tmp_path / "g.gtf"
    gtf.write_text("".join(
        f'{c}\tsrc\tgene\t{s}\t{s + 900}\t.\t+\t.\tgene_id "{i}"; gene_name "{n}"; gene_type "protein_coding";\n'
        for c, s, i, n in [("chr1", 1000, "ID1", "A"), ("chr2", 1000, "ID2", "A"), ("chr2", 5000, "ID3", "B")]))
    with pytest.warns(SeqatacWarning, match=r"1 record of .* repeats an earlier gene_name \(e\.g\. A\); the first "
                                            r"of each is kept\. Pass index='gene_id'"):
        genes = gene_annotation(gtf)
    assert genes.index.tolist() == ["A", "B"] and genes.loc["A", "chrom"] == "chr1"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert gene_annotation(gtf, index="gene_id").index.tolist() == ["ID1", "ID2", "ID3"]


# ------------------------------------------------------------------------------------------ outputs that say nothing


def test_a_constant_embedding_is_not_scored_but_still_has_neighbours(tmp_path, capsys):
    labels = np.repeat(["a", "b"], 10)
    with pytest.raises(SeqatacInputError, match="puts every cell at the same point"):
        benchmark({"flat": np.ones((20, 3))}, labels, verbose=False)
    assert compute_neighbors(np.ones((20, 3)), n_neighbors=3).indices.shape == (20, 3)
    adata = ad.AnnData(sp.csr_matrix(np.ones((20, 4), dtype=np.float32)),
                       obs=pd.DataFrame({"cell_type": labels}, index=[f"c{k}" for k in range(20)]))
    adata.obsm["X_lsi"] = np.zeros((20, 3))
    adata.write_h5ad(tmp_path / "flat.h5ad")
    assert main(["-q", "evaluate", "--adata", str(tmp_path / "flat.h5ad"), "--embedding", "X_lsi",
                 "--label-key", "cell_type", "--out", str(tmp_path / "m.json")]) == 2
    assert "same point" in capsys.readouterr().err and not (tmp_path / "m.json").exists()


def test_cells_without_a_peak_of_the_model_are_named_when_predicted():
    atac, _ = planted_data(n_cells=24)
    model = EpiFoundation(atac, random_state=0, **TINY)
    X = atac.X.toarray()
    X[3] = 0
    empty = ad.AnnData(sp.csr_matrix(X), obs=atac.obs, var=atac.var)
    with pytest.warns(SeqatacWarning, match=r"1 of 24 cells have no open peak among the model's peaks \(e\.g\. "
                                            r"'cell3'\).*filter_cells\(adata, min_peaks=1\)"):
        model.get_latent_representation(empty, verbose=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.get_latent_representation(atac, verbose=False)


def test_epifoundation_messages_name_the_command_line_options_too():
    atac, rna = planted_data(n_cells=24)
    with pytest.raises(SeqatacInputError, match=r"rna= in Python, --rna on the command line"):
        EpiFoundation(atac, random_state=0, **TINY).pretrain(max_epochs=1, **EPI_FIT)
    with pytest.raises(SeqatacInputError, match=r"--max-tokens, --train-max-len"):
        EpiFoundation(atac, rna, **TINY).pretrain(max_tokens=32)


# ------------------------------------------------------------------------------------------ names that must be unique


def test_cellspace_refuses_data_sets_that_share_cell_names():
    adata, genome, _ = scbasset_data(n_peaks=40, n_cells=12)
    with pytest.raises(SeqatacInputError, match=r"the 2 data sets share 12 cell name\(s\) .*the same data set "
                                                r"given twice\?.*'sample1_' \+ adata\.obs_names"):
        CellSpace([adata, adata.copy()], genome, k=4, n_latent=4)


def test_a_scbasset_model_directory_whose_tables_disagree_is_refused(tmp_path):
    adata, genome, _ = scbasset_data(n_peaks=40, n_cells=12)
    ScBasset(adata, genome, **SMALL).save(tmp_path / "model")
    ScBasset.load(tmp_path / "model", adata=None, genome=genome)  # intact: loads
    for table, damage, match in [
        ("cells.csv", lambda lines: lines[:2] + [lines[1]] + lines[3:], r"cells\.csv' names 1 row\(s\) twice"),
        ("peaks.csv", lambda lines: lines[:-5], r"peaks\.csv' lists 35 peaks but config\.json says 40"),
    ]:
        broken = tmp_path / table
        broken.mkdir()
        for part in (tmp_path / "model").iterdir():
            (broken / part.name).write_bytes(part.read_bytes())
        lines = (broken / table).read_text().splitlines(keepends=True)
        (broken / table).write_text("".join(damage(lines)))
        with pytest.raises(SeqatacInputError, match=match):
            ScBasset.load(broken, adata=None, genome=genome)


# ------------------------------------------------------------------------------------------ command line


def test_annotate_key_added_without_min_confidence_is_refused_not_ignored(tmp_path, capsys):
    assert main(["-q", "annotate", "--model", str(tmp_path / "none"), "--atac", str(tmp_path / "none.h5ad"),
                 "--key-added", "labels", "--out", str(tmp_path / "a.h5ad")]) == 2
    assert "only --min-confidence writes. Fix: add --min-confidence" in capsys.readouterr().err


def test_a_symbolic_link_that_loops_or_dangles_is_named_as_such(tmp_path, capsys):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    (tmp_path / "gone").symlink_to(tmp_path / "nothing.h5ad")
    assert main(["-q", "lsi", "--atac", str(tmp_path / "a"), "--out", str(tmp_path / "l.h5ad")]) == 2
    assert "is a symbolic link that loops back on itself" in capsys.readouterr().err
    assert main(["-q", "lsi", "--atac", str(tmp_path / "gone"), "--out", str(tmp_path / "l.h5ad")]) == 2
    assert "nothing.h5ad', which does not exist" in capsys.readouterr().err
    with pytest.raises(SeqatacInputError, match="FASTA file .* loops back on itself"):
        Genome(tmp_path / "a")
    with pytest.raises(SeqatacInputError, match="model directory .* loops back on itself"):
        ScBasset.load(tmp_path / "b")


def test_an_out_directory_reused_names_what_an_earlier_run_left_there(tmp_path, caplog):
    out = tmp_path / "sim"
    args = ["simulate", "--preset", "tiny", "--set", "n_cells=20", "--out", str(out)]
    assert main(args) == 0
    (out / "model").mkdir()
    (out / "model" / "config.json").write_text("{}")
    caplog.clear()
    assert main(args) == 0
    assert "also holds model from an earlier run, not written by this one" in caplog.text
    assert "atac.h5ad" not in caplog.text.split("also holds")[1]


def test_a_gtf_without_strands_names_the_genes_and_their_dot(tmp_path):
    gtf = tmp_path / "g.gtf"
    gtf.write_text('chr1\tsrc\tgene\t1000\t3000\t.\t.\t.\tgene_id "G1"; gene_name "G1"; gene_type "protein_coding";\n')
    genes = gene_annotation(gtf)
    assert genes["strand"].tolist() == ["."]
    with pytest.warns(SeqatacWarning, match=r"1 gene\(s\) have no \+/- strand \(e\.g\. G1: '\.'\)"):
        gene_activity(_peaks_on(["chr1"]), genes)


def test_cells_without_counts_are_named_when_the_data_are_validated():
    from seqatac.data import validate_atac

    adata = _peaks_on(["chr1"])
    X = adata.X.toarray()
    X[2] = 0
    with pytest.warns(SeqatacWarning, match=r"1 of 8 cells have no counts .*filter_cells\(adata, min_peaks=1\)"):
        validate_atac(ad.AnnData(sp.csr_matrix(X), obs=adata.obs, var=adata.var))
    X[X == 0] = 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate_atac(ad.AnnData(X, obs=adata.obs, var=adata.var))
