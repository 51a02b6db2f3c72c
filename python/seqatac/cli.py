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
from .data import read_h5ad

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


def _read_json(path: Path) -> dict:
    """A JSON object of parameters from ``path`` (a clear error for a missing or malformed file)."""
    try:
        params = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise SeqatacInputError(f"cannot read the JSON config {str(path)!r} ({err}). Fix: pass a JSON file such as "
                                '{"n_latent": 32, "epochs": 20}.') from None
    if not isinstance(params, dict):
        raise SeqatacInputError(f"the config {str(path)!r} holds a JSON {type(params).__name__}, not an object of "
                                'parameters. Fix: write it as {"name": value, ...}.')
    return params


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
    from .metrics import evaluate_embedding

    adata = read_h5ad(args.adata)
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


def _is_main_process() -> bool:
    """False on the non-zero ranks of a ``torchrun`` launch (only rank 0 writes outputs)."""
    import os

    return os.environ.get("RANK", "0") == "0"


def _cmd_fit_scbasset(args) -> None:
    from .data import Genome, read_atac
    from .models import ScBasset

    adata = read_atac(args.atac)
    ScBasset.setup_anndata(adata, batch_key=args.batch_key, layer=args.layer)
    model = ScBasset(adata, Genome(args.genome), min_cell_fraction=args.min_cell_fraction,
                     standard_chromosomes=args.standard_chromosomes, l2_cell=args.l2_cell, l2_batch=args.l2_batch,
                     sequence_cache=args.sequence_cache, random_state=args.seed,
                     **{"bottleneck_size": args.bottleneck, **_parse_overrides(args.set)})
    model.fit(max_epochs=args.epochs, max_steps=args.max_steps, batch_size=args.batch_size,
              cell_batch_size=args.cell_batch_size, patience=args.patience, device=args.device, precision=args.precision, n_threads=args.threads,
              checkpoint_dir=args.out / "checkpoints", resume=args.resume, verbose=not args.quiet)
    if not _is_main_process():
        return
    model.save(args.out / "model", overwrite=True)
    model.write_to_adata(adata)
    write_h5ad(adata, args.out / "adata.h5ad")
    metrics = model.evaluate("test")["summary"] if len(model.splits["test"]) else {}
    write_json({"test": metrics, "epochs": len(model.history)}, args.out / "metrics.json")
    print(f"trained scBasset for {len(model.history)} epochs: model in {args.out / 'model'}, "
          f"obsm['X_scbasset'] in {args.out / 'adata.h5ad'}; held-out {json.dumps(metrics)}")


def _cmd_fit_cellspace(args) -> None:
    from .data import Genome, read_atac
    from .models.cellspace import CellSpace

    if len(args.genome) not in (1, len(args.atac)):
        raise SeqatacInputError(
            f"got {len(args.atac)} --atac but {len(args.genome)} --genome; pass one genome for all datasets or "
            "one per dataset, in the same order."
        )
    params = _read_json(args.config) if args.config else {}
    params.update(_parse_overrides(args.set))
    adatas = [read_atac(path) for path in args.atac]
    for adata in adatas:
        CellSpace.setup_anndata(adata, layer=args.layer)
    genomes = [Genome(path) for path in args.genome]
    model = CellSpace(adatas, genomes if len(genomes) > 1 else genomes[0], random_state=args.seed, **params)
    model.fit(args.epochs, random_state=args.seed, n_threads=args.threads, chunk_size=args.chunk_size,
              checkpoint_dir=args.out / "checkpoints", resume=args.resume, verbose=not args.quiet)
    model.save(args.out / "model", overwrite=True)
    activity = None if args.no_tf_activity else model.get_tf_activity(_load_motifs(args))
    names = ["adata.h5ad"] if len(adatas) == 1 else [f"adata_{i}.h5ad" for i in range(len(adatas))]
    for name, adata in zip(names, adatas):
        model.write_to_adata(adata, tf_activity=activity)
        write_h5ad(adata, args.out / name)
    memory = model.memory_report()
    write_json({"history": model.history, "memory_bytes": memory}, args.out / "metrics.json")
    print(f"trained CellSpace for {model.epochs_done} epochs on {len(model.cell_names):,} cells "
          f"({model.history['examples_per_s'][-1]:,.0f} examples/s in the last epoch, feature table "
          f"{memory['feature_table'] / 1e6:.0f} MB): model in {args.out / 'model'}, obsm['X_cellspace'] in "
          f"{', '.join(str(args.out / n) for n in names)}")


def _load_scbasset(args, *, with_data: bool):
    from .models import ScBasset

    adata = read_h5ad(args.adata) if with_data else None
    return ScBasset.load(args.model, adata=adata, genome=args.genome), adata


def _cmd_tf_activity(args) -> None:
    model, adata = _load_scbasset(args, with_data=True)
    motifs = _load_motifs(args)
    activity = model.get_tf_activity(motifs, n_backgrounds=args.n_backgrounds, random_state=args.seed,
                                     batch_size=args.batch_size, precision=args.precision,
                                     verbose=not args.quiet)
    model.write_to_adata(adata, tf_activity=activity, motifs=motifs)
    write_h5ad(adata, args.out)
    print(f"wrote obsm['scbasset_tf'] ({adata.n_obs:,} cells × {activity.shape[1]} motifs) to {args.out}")


def _cmd_ism(args) -> None:
    import h5py
    import numpy as np

    from ._utils import atomic_path

    model, _ = _load_scbasset(args, with_data=False)
    if (args.region is None) == (args.sequence is None):
        raise SeqatacInputError("ism needs exactly one of --region chr:start-end or --sequence ACGT...")
    scores = model.get_ism(args.sequence, region=args.region, batch_size=args.batch_size,
                           precision=args.precision, verbose=not args.quiet)
    with atomic_path(args.out) as tmp, h5py.File(tmp, "w") as handle:
        handle.create_dataset("ism", data=scores, compression="gzip")
        handle.create_dataset("obs_names", data=np.asarray(model.cell_names, dtype=object),
                              dtype=h5py.string_dtype())
        handle.attrs["input"] = args.region or "sequence"
    print(f"wrote ISM scores {scores.shape} (sequences × cells × positions) to {args.out}")


def _cmd_denoise(args) -> None:
    from .tl import denoise

    model, _ = _load_scbasset(args, with_data=False)
    adata = read_h5ad(args.atac, backed="r")  # only obs/var are read: peaks may be any regions
    denoise(adata, model, file=args.out, chunk_size=args.chunk_size, batch_size=args.batch_size,
            dtype=args.dtype, precision=args.precision, verbose=not args.quiet)
    print(f"wrote denoised accessibility ({adata.n_obs:,} cells × {adata.n_vars:,} peaks) to {args.out}")


def _cmd_fit_epifoundation(args) -> None:
    from .data import read_atac
    from .models import EpiFoundation

    adata = read_atac(args.atac)
    rna = read_h5ad(args.rna) if args.rna else None
    if args.model:
        model = EpiFoundation.load(args.model, adata=adata, rna=rna)
    else:
        EpiFoundation.setup_anndata(adata, layer=args.layer, batch_key=args.batch_key, labels_key=args.labels_key)
        model = EpiFoundation(adata, rna, preset=args.preset, min_mapped_fraction=args.min_mapped_fraction,
                              random_state=args.seed, **_parse_overrides(args.set))
    training = dict(max_epochs=args.epochs, lr=args.lr, max_tokens=args.max_tokens, max_cells=args.max_cells,
                    grad_accumulation=args.grad_accumulation, device=args.device, precision=args.precision,
                    n_threads=args.threads, checkpoint_dir=str(args.out / "checkpoints" / args.mode),
                    resume=args.resume, verbose=not args.quiet)
    if args.mode == "pretrain":
        history = model.pretrain(adata, rna, **training)
    else:
        history = model.fit(args.mode, adata, rna, labels_key=args.labels_key, **training)
    if not _is_main_process():
        return
    model.save(args.out / "model", overwrite=True)
    model.write_to_adata(adata, rna=rna if args.mode == "expression" else None)
    write_h5ad(adata, args.out / "adata.h5ad")
    if args.mode == "expression":
        write_h5ad(rna, args.out / "rna.h5ad")
    write_json({"mode": args.mode, "history": history.to_dict(orient="records")}, args.out / "history.json")
    print(f"EpiFoundation {args.mode}: {len(history)} epochs, final loss {history['loss'].iloc[-1]:.4f}; model in "
          f"{args.out / 'model'}, obsm['X_epifoundation'] in {args.out / 'adata.h5ad'}")


def _load_epifoundation(args):
    from .data import read_atac
    from .models import EpiFoundation

    adata = read_atac(args.atac)
    return EpiFoundation.load(args.model), adata


def _inference_options(args) -> dict:
    return dict(max_len=args.max_len, max_tokens=args.max_tokens, device=args.device, precision=args.precision,
                n_threads=args.threads, verbose=not args.quiet)


def _cmd_annotate(args) -> None:
    from . import _keys

    model, adata = _load_epifoundation(args)
    if "annotate" not in model.trained:
        raise SeqatacInputError(f"the model in {str(args.model)!r} has no cell-type head; fine-tune it first with "
                                "`seqatac fit epifoundation --mode annotate --labels-key ...`.")
    model.write_to_adata(adata, **_inference_options(args))
    write_h5ad(adata, args.out)
    counts = adata.obs[_keys.EPIFOUNDATION_CELL_TYPE].value_counts()
    print(f"annotated {adata.n_obs:,} cells into obs['{_keys.EPIFOUNDATION_CELL_TYPE}'] (+ confidence) in "
          f"{args.out}: {counts.to_dict()}")


def _cmd_predict_expression(args) -> None:
    import anndata as ad
    import pandas as pd

    from . import _keys

    model, adata = _load_epifoundation(args)
    if args.rna:
        rna = read_h5ad(args.rna)
        model.write_to_adata(adata, rna=rna, **_inference_options(args))
    else:
        levels = model.predict_expression(adata, **_inference_options(args))
        rna = ad.AnnData(obs=adata.obs.copy(), var=pd.DataFrame(index=model.gene_names),
                         layers={_keys.EPIFOUNDATION_EXPRESSION: levels})
    write_h5ad(rna, args.out)
    print(f"wrote layers['{_keys.EPIFOUNDATION_EXPRESSION}'] ({rna.n_obs:,} cells × {rna.n_vars:,} genes) to {args.out}")

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

    fit = commands.add_parser("fit", help="train a sequence model and write its embedding",
                              description="Train a model on scATAC data and save it with the updated h5ad.")
    fit_models = fit.add_subparsers(dest="model", required=True, metavar="MODEL")

    def torch_training_arguments(sub):
        """Device, precision, threads, resume and seed options of the torch-trained models."""
        sub.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
        sub.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
        sub.add_argument("--threads", type=int, default=None, help="torch CPU threads")
        sub.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints")
        sub.add_argument("--seed", type=int, default=0)

    scbasset = fit_models.add_parser(
        "scbasset", help="scBasset CNN (Yuan & Kelley 2022)",
        description="Train scBasset; writes OUT/model (saved model), OUT/adata.h5ad (obsm['X_scbasset'], "
                    "obs['scbasset_intercept']), OUT/metrics.json (held-out auROC/auPR) and OUT/checkpoints. "
                    "Launch with `torchrun --nproc_per_node N -m seqatac.cli fit scbasset ...` for DDP.")
    scbasset.add_argument("--atac", type=Path, required=True, help="cells × peaks data (h5ad, 10x h5, mtx)")
    scbasset.add_argument("--genome", type=Path, required=True, help="genome FASTA matching the peaks")
    scbasset.add_argument("--out", type=Path, required=True, help="output directory")
    scbasset.add_argument("--batch-key", default=None, help="obs column of batches: trains scBasset-BC")
    scbasset.add_argument("--layer", default=None, help="layer holding the counts (default X)")
    scbasset.add_argument("--epochs", type=int, default=1000, help="maximum epochs (early stopping on)")
    scbasset.add_argument("--max-steps", type=int, default=None,
                          help="stop after this many optimizer steps (a resume with more completes the epoch)")
    scbasset.add_argument("--patience", type=int, default=50)
    scbasset.add_argument("--batch-size", type=int, default=128, help="peaks per step")
    scbasset.add_argument("--cell-batch-size", type=int, default=None, help="also subsample cells per step")
    scbasset.add_argument("--bottleneck", type=int, default=32, help="embedding size")
    scbasset.add_argument("--l2-cell", type=float, default=0.0, help="scBasset-BC penalty on the cell path")
    scbasset.add_argument("--l2-batch", type=float, default=0.0, help="scBasset-BC penalty on the batch path")
    scbasset.add_argument("--min-cell-fraction", type=float, default=0.0,
                          help="keep peaks open in at least this fraction of cells (authors: 0.01-0.05)")
    scbasset.add_argument("--standard-chromosomes", action="store_true", help="keep only chr1-22, X, Y")
    scbasset.add_argument("--sequence-cache", type=Path, default=None, help="on-disk int8 sequence cache (.npy)")
    torch_training_arguments(scbasset)
    scbasset.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                          help="architecture option (repeatable), e.g. --set seq_len=1000 --set n_tower_layers=5")
    scbasset.set_defaults(func=_cmd_fit_scbasset)

    cellspace = fit_models.add_parser(
        "cellspace", help="CellSpace k-mer/cell co-embedding (Tayyebi et al. 2023)",
        description="Train CellSpace (StarSpace-style, CPU); writes OUT/model (saved model with the k-mer "
                    "embedding), OUT/adata.h5ad (obsm['X_cellspace'], obsm['cellspace_tf']; adata_<i>.h5ad "
                    "for several datasets), OUT/metrics.json (loss, speed, memory) and OUT/checkpoints. "
                    "Repeat --atac (and --genome) to train datasets with different peak sets jointly.")
    cellspace.add_argument("--atac", type=Path, action="append", required=True,
                           help="cells × peaks data (h5ad, 10x h5, mtx); repeat for joint training")
    cellspace.add_argument("--genome", type=Path, action="append", required=True,
                           help="genome FASTA matching the peaks; once for all datasets or once per --atac")
    cellspace.add_argument("--out", type=Path, required=True, help="output directory")
    cellspace.add_argument("--layer", default=None, help="layer holding the counts (default X)")
    cellspace.add_argument("--epochs", type=int, default=50)
    cellspace.add_argument("--threads", type=int, default=None, help="worker threads (default: all cores)")
    cellspace.add_argument("--chunk-size", type=int, default=512, help="examples per vectorised update")
    cellspace.add_argument("--config", type=Path, default=None, help="JSON of CellSpaceConfig fields")
    cellspace.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                           help="hyper-parameter (repeatable), e.g. --set bucket=500000 --set ngrams=1")
    cellspace.add_argument("--motifs", type=Path, default=None, help="MEME/JASPAR/HOMER file for TF activity")
    cellspace.add_argument("--jaspar-release", default="JASPAR2024", help="used when --motifs is not given")
    cellspace.add_argument("--tax-group", default="vertebrates")
    cellspace.add_argument("--no-tf-activity", action="store_true", help="skip obsm['cellspace_tf']")
    cellspace.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints")
    cellspace.add_argument("--seed", type=int, default=0)
    cellspace.set_defaults(func=_cmd_fit_cellspace)

    epifoundation = fit_models.add_parser(
        "epifoundation", help="EpiFoundation peak Transformer (Wu et al. 2025)",
        description="Pre-train EpiFoundation on paired ATAC + RNA (--mode pretrain), or fine-tune it for cell-type "
                    "annotation (--mode annotate, needs --labels-key) or expression-level prediction (--mode "
                    "expression, needs --rna). Start from a saved model with --model (e.g. a pre-trained one). "
                    "Writes OUT/model, OUT/adata.h5ad (obsm['X_epifoundation'], obs['epifoundation_cell_type']), "
                    "OUT/history.json, OUT/checkpoints (and OUT/rna.h5ad with layers['epifoundation_expression'] "
                    "in expression mode). Launch with `torchrun --nproc_per_node N -m seqatac.cli fit "
                    "epifoundation ...` for DDP.")
    epifoundation.add_argument("--mode", required=True, choices=["pretrain", "annotate", "expression"])
    epifoundation.add_argument("--atac", type=Path, required=True, help="cells × peaks data (h5ad, 10x h5, mtx)")
    epifoundation.add_argument("--rna", type=Path, default=None, help="paired RNA h5ad (same obs_names)")
    epifoundation.add_argument("--out", type=Path, required=True, help="output directory")
    epifoundation.add_argument("--model", type=Path, default=None, help="saved model to continue from")
    epifoundation.add_argument("--preset", default="reference", choices=["reference", "small", "tiny"],
                               help="architecture of a new model (reference = the paper's, GPU work)")
    epifoundation.add_argument("--labels-key", default=None, help="obs column of cell types (annotate)")
    epifoundation.add_argument("--batch-key", default=None,
                               help="obs column of batches: a batch embedding fused into the gene decoders")
    epifoundation.add_argument("--layer", default=None, help="layer holding the counts (default X)")
    epifoundation.add_argument("--min-mapped-fraction", type=float, default=0.5,
                               help="error when fewer peaks of new data map onto the model's peaks")
    epifoundation.add_argument("--epochs", type=int, default=10)
    epifoundation.add_argument("--lr", type=float, default=1e-4, help="peak Adam learning rate (warmup + cosine)")
    epifoundation.add_argument("--max-tokens", type=int, default=16_384, help="tokens per micro-batch")
    epifoundation.add_argument("--max-cells", type=int, default=32, help="cells per micro-batch")
    epifoundation.add_argument("--grad-accumulation", type=int, default=1, help="micro-batches per optimizer step")
    torch_training_arguments(epifoundation)
    epifoundation.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                               help="architecture option of a new model (repeatable), e.g. --set d_model=64")
    epifoundation.set_defaults(func=_cmd_fit_epifoundation)

    def model_arguments(sub, *, adata: bool):
        sub.add_argument("--model", type=Path, required=True, help="saved model directory (fit's OUT/model)")
        sub.add_argument("--genome", type=Path, default=None, help="genome FASTA (default: the one used to fit)")
        if adata:
            sub.add_argument("--adata", type=Path, required=True, help="h5ad with the model's cells and peaks")
        sub.add_argument("--batch-size", type=int, default=128)
        sub.add_argument("--precision", default="fp32", choices=["auto", "fp32", "bf16"])

    tf_activity = commands.add_parser("tf-activity", help="per-cell TF activity by motif insertion (scBasset)",
                                      description="Insert motifs into dinucleotide-shuffled peaks and write "
                                                  "z-scored activities to obsm['scbasset_tf'].")
    model_arguments(tf_activity, adata=True)
    tf_activity.add_argument("--motifs", type=Path, default=None, help="MEME/JASPAR/HOMER motif file")
    tf_activity.add_argument("--jaspar-release", default="JASPAR2024", help="used when --motifs is not given")
    tf_activity.add_argument("--tax-group", default="vertebrates")
    tf_activity.add_argument("--n-backgrounds", type=int, default=1000)
    tf_activity.add_argument("--seed", type=int, default=0)
    tf_activity.add_argument("--out", type=Path, required=True, help="h5ad to write")
    tf_activity.set_defaults(func=_cmd_tf_activity)

    ism = commands.add_parser("ism", help="in silico saturation mutagenesis (cells × positions)",
                              description="ISM scores normalised at the reference base, written to an HDF5 "
                                          "file (dataset 'ism': sequences × cells × positions).")
    model_arguments(ism, adata=False)
    ism.add_argument("--region", default=None, help="genomic region, e.g. chr11:5297158-5297258")
    ism.add_argument("--sequence", default=None, help="a DNA sequence of the model's length")
    ism.add_argument("--out", type=Path, required=True, help="HDF5 file to write")
    ism.set_defaults(func=_cmd_ism)

    denoise = commands.add_parser("denoise", help="denoised accessibility streamed to HDF5",
                                  description="Depth-normalised accessibility (intercept dropped) of every "
                                              "peak of --atac for the model's cells, streamed in chunks.")
    model_arguments(denoise, adata=False)
    denoise.add_argument("--atac", type=Path, required=True, help="h5ad whose var holds the peaks to predict")
    denoise.add_argument("--chunk-size", type=int, default=4096, help="peaks per chunk")
    denoise.add_argument("--dtype", default="float32", choices=["float32", "float16"])
    denoise.add_argument("--out", type=Path, required=True, help="HDF5 file to write")
    denoise.set_defaults(func=_cmd_denoise)

    def epifoundation_arguments(sub):
        sub.add_argument("--model", type=Path, required=True, help="saved EpiFoundation model (fit's OUT/model)")
        sub.add_argument("--atac", type=Path, required=True,
                         help="cells × peaks data; peaks are mapped onto the model's by overlap")
        sub.add_argument("--max-len", type=int, default=None,
                         help="tokens per cell (default: the model's max_len); larger keeps more peaks of long cells")
        sub.add_argument("--max-tokens", type=int, default=32_768, help="tokens per batch")
        sub.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
        sub.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
        sub.add_argument("--threads", type=int, default=None, help="torch CPU threads")

    annotate = commands.add_parser("annotate", help="predict cell types with a fine-tuned EpiFoundation",
                                   description="Write obsm['X_epifoundation'], obs['epifoundation_cell_type'] and "
                                               "obs['epifoundation_cell_type_confidence'] for new cells.")
    epifoundation_arguments(annotate)
    annotate.add_argument("--out", type=Path, required=True, help="h5ad to write")
    annotate.set_defaults(func=_cmd_annotate)

    predict_expression = commands.add_parser(
        "predict-expression", help="predict expression levels with a fine-tuned EpiFoundation",
        description="Predict per-cell expression levels (0 = not expressed .. 9) from ATAC into "
                    "layers['epifoundation_expression'] of --rna (genes the model lacks get NaN) or of a new "
                    "cells × model genes h5ad.")
    epifoundation_arguments(predict_expression)
    predict_expression.add_argument("--rna", type=Path, default=None, help="RNA h5ad of the same cells to fill")
    predict_expression.add_argument("--out", type=Path, required=True, help="h5ad to write")
    predict_expression.set_defaults(func=_cmd_predict_expression)
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
