"""The ``seqatac`` command line: thin wrappers over the public Python API.

Every subcommand writes only under its explicit ``--out`` and never leaves a partial file.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from ._errors import SeqatacInputError
from ._utils import write_h5ad, write_json

logger = logging.getLogger("seqatac")


def _parse_overrides(pairs: list[str]) -> dict:
    """``KEY=VALUE`` strings → dict, values parsed as JSON when possible (numbers, lists, booleans)."""
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SeqatacInputError(f"--set expects KEY=VALUE, got {pair!r} (e.g. --set n_cells=500).")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    return overrides


def _cmd_simulate(args) -> None:
    from .simulate import simulate_atac, write_simulation

    overrides = _parse_overrides(args.set)
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


def _cmd_evaluate(args) -> None:
    import anndata as ad

    from .metrics import evaluate_embedding

    adata = ad.read_h5ad(args.adata)
    result = evaluate_embedding(adata, embedding_key=args.embedding, label_key=args.label_key,
                                batch_key=args.batch_key)
    write_json(result, args.out)
    print(json.dumps(result, indent=2, sort_keys=True))


def _cmd_lsi(args) -> None:
    from .baselines import lsi
    from .data import read_atac

    adata = read_atac(args.atac)
    lsi(adata, n_components=args.n_components, random_state=args.seed)
    write_h5ad(adata, args.out)
    print(f"wrote obsm['X_lsi'] ({adata.n_obs:,} × {adata.obsm['X_lsi'].shape[1]}) to {args.out}")


def _load_motifs(args):
    from .data import jaspar, read_motifs

    if args.motifs:
        return read_motifs(args.motifs)
    return jaspar(release=args.jaspar_release, collection="CORE", tax_group=args.tax_group)


def _cmd_chromvar(args) -> None:
    from .baselines import chromvar_deviations
    from .data import Genome, read_atac

    adata = read_atac(args.atac)
    chromvar_deviations(adata, _load_motifs(args), genome=Genome(args.genome), random_state=args.seed)
    write_h5ad(adata, args.out)
    print(f"wrote obsm['chromvar'] ({adata.obsm['chromvar'].shape[1]} motifs) to {args.out}")


def _cmd_demo(args) -> None:
    from .demo import run_demo

    run_demo(args.out, preset=args.preset, random_state=args.seed)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``seqatac`` command (one subparser per subcommand)."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="seqatac",
        description="Sequence-informed single-cell ATAC-seq models and baselines.",
    )
    parser.add_argument("--version", action="version", version=f"seqatac {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="only print errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    simulate = commands.add_parser("simulate", help="write a simulated dataset with known ground truth",
                                   description="Simulate scATAC-seq (+ genome FASTA, optional paired RNA) "
                                               "with planted TF motifs and save its ground truth.")
    simulate.add_argument("--preset", default="small", choices=["tiny", "small", "medium", "large"])
    simulate.add_argument("--seed", type=int, default=0)
    simulate.add_argument("--rna", action=argparse.BooleanOptionalAction, default=None,
                          help="simulate paired RNA (default: the preset's choice)")
    simulate.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                          help="override a simulation parameter (repeatable), e.g. --set n_cells=500")
    simulate.add_argument("--out", type=Path, required=True, help="output directory")
    simulate.set_defaults(func=_cmd_simulate)

    evaluate = commands.add_parser("evaluate", help="score an embedding (scib-style and papers' metrics)",
                                   description="Compute bio-conservation, batch-correction and label "
                                               "scores of an embedding stored in an h5ad file.")
    evaluate.add_argument("--adata", type=Path, required=True, help="h5ad holding the embedding")
    evaluate.add_argument("--embedding", required=True, help="obsm key, e.g. X_lsi")
    evaluate.add_argument("--label-key", required=True, help="obs column with cell labels")
    evaluate.add_argument("--batch-key", default=None, help="obs column with batches (adds batch metrics)")
    evaluate.add_argument("--out", type=Path, required=True, help="metrics JSON to write")
    evaluate.set_defaults(func=_cmd_evaluate)

    lsi = commands.add_parser("lsi", help="LSI baseline embedding (TF-IDF + truncated SVD)",
                              description="Read scATAC data (h5ad, 10x h5, MatrixMarket+BED) and add "
                                          "obsm['X_lsi'].")
    lsi.add_argument("--atac", type=Path, required=True)
    lsi.add_argument("--n-components", type=int, default=30)
    lsi.add_argument("--seed", type=int, default=0)
    lsi.add_argument("--out", type=Path, required=True, help="h5ad to write")
    lsi.set_defaults(func=_cmd_lsi)

    chromvar = commands.add_parser("chromvar", help="chromVAR-style motif deviations baseline",
                                   description="Bias-corrected motif accessibility deviations (cells × "
                                               "motifs) written to obsm['chromvar'].")
    chromvar.add_argument("--atac", type=Path, required=True)
    chromvar.add_argument("--genome", type=Path, required=True, help="genome FASTA matching the peaks")
    chromvar.add_argument("--motifs", type=Path, default=None, help="MEME/JASPAR/HOMER motif file")
    chromvar.add_argument("--jaspar-release", default="JASPAR2024", help="used when --motifs is not given")
    chromvar.add_argument("--tax-group", default="vertebrates")
    chromvar.add_argument("--seed", type=int, default=0)
    chromvar.add_argument("--out", type=Path, required=True, help="h5ad to write")
    chromvar.set_defaults(func=_cmd_chromvar)

    demo = commands.add_parser("demo", help="run the main job on built-in simulated data",
                               description="Simulate the 'small' dataset, embed it with every available "
                                           "method, score the embeddings and plot them.")
    demo.add_argument("--out", type=Path, default=Path("demo_out"), help="output directory")
    demo.add_argument("--preset", default="small", choices=["tiny", "small", "medium"])
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``seqatac`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.ERROR if args.quiet else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    try:
        args.func(args)
    except SeqatacInputError as error:
        print(f"seqatac {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
