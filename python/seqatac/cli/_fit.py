"""``seqatac fit MODEL``: train scBasset, CellSpace or EpiFoundation and write the model with the updated data."""

from __future__ import annotations

import json
from pathlib import Path

from .._errors import SeqatacInputError
from .._utils import write_h5ad, write_json
from ._common import (
    add_motifs,
    add_threads,
    is_main_process,
    load_motifs,
    output_directory,
    output_file,
    parse_overrides,
    positive_int,
    read_h5ad,
    read_json,
    seed,
)


def _fit_scbasset(args) -> None:
    from ..data import Genome, read_atac
    from ..models import ScBasset

    adata = read_atac(args.atac)
    ScBasset.setup_anndata(adata, batch_key=args.batch_key, layer=args.layer)
    model = ScBasset(adata, Genome(args.genome), min_cell_fraction=args.min_cell_fraction,
                     standard_chromosomes=args.standard_chromosomes, l2_cell=args.l2_cell, l2_batch=args.l2_batch,
                     sequence_cache=args.sequence_cache, random_state=args.seed,
                     **{"bottleneck_size": args.bottleneck, **parse_overrides(args.set)})
    model.fit(max_epochs=args.epochs, max_steps=args.max_steps, batch_size=args.batch_size,
              cell_batch_size=args.cell_batch_size, patience=args.patience, device=args.device, precision=args.precision,
              n_threads=args.threads,
              checkpoint_dir=args.out / "checkpoints", resume=args.resume, verbose=not args.quiet)
    if not is_main_process():
        return
    model.save(args.out / "model", overwrite=True)
    model.write_to_adata(adata)
    write_h5ad(adata, args.out / "adata.h5ad")
    metrics = model.evaluate("test")["summary"] if len(model.splits["test"]) else {}
    write_json({"test": metrics, "epochs": len(model.history)}, args.out / "metrics.json")
    print(f"trained scBasset for {len(model.history)} epochs: model in {args.out / 'model'}, "
          f"obsm['X_scbasset'] in {args.out / 'adata.h5ad'}; held-out {json.dumps(metrics)}")


def _fit_cellspace(args) -> None:
    from ..data import Genome, read_atac
    from ..models.cellspace import CellSpace

    if len(args.genome) not in (1, len(args.atac)):
        raise SeqatacInputError(
            f"got {len(args.atac)} --atac but {len(args.genome)} --genome; pass one genome for all datasets or "
            "one per dataset, in the same order."
        )
    params = read_json(args.config) if args.config else {}
    params.update(parse_overrides(args.set))
    adatas = [read_atac(path) for path in args.atac]
    for adata in adatas:
        CellSpace.setup_anndata(adata, layer=args.layer)
    genomes = [Genome(path) for path in args.genome]
    model = CellSpace(adatas, genomes if len(genomes) > 1 else genomes[0], random_state=args.seed, **params)
    model.fit(args.epochs, random_state=args.seed, n_threads=args.threads, chunk_size=args.chunk_size,
              checkpoint_dir=args.out / "checkpoints", resume=args.resume, verbose=not args.quiet)
    model.save(args.out / "model", overwrite=True)
    activity = None if args.no_tf_activity else model.get_tf_activity(load_motifs(args))
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


def _fit_epifoundation(args) -> None:
    from ..data import read_atac
    from ..models import EpiFoundation

    adata = read_atac(args.atac)
    rna = read_h5ad(args.rna) if args.rna else None
    if args.model:
        model = EpiFoundation.load(args.model, adata=adata, rna=rna)
    else:
        EpiFoundation.setup_anndata(adata, layer=args.layer, batch_key=args.batch_key, labels_key=args.labels_key)
        model = EpiFoundation(adata, rna, preset=args.preset, min_mapped_fraction=args.min_mapped_fraction,
                              random_state=args.seed, **parse_overrides(args.set))
    training = dict(max_tokens=args.max_tokens, max_cells=args.max_cells, grad_accumulation=args.grad_accumulation,
                    device=args.device, precision=args.precision, n_threads=args.threads,
                    checkpoint_dir=str(args.out / "checkpoints" / args.mode), resume=args.resume, verbose=not args.quiet)
    # options left out keep the mode's defaults (annotation has its own: TASK_DEFAULTS)
    given = {"max_epochs": args.epochs, "lr": args.lr, "max_len": args.train_max_len,
             "validation_fraction": args.validation_fraction, "patience": args.patience,
             "label_smoothing": args.label_smoothing, "head_warmup_epochs": args.head_warmup_epochs}
    training.update({key: value for key, value in given.items() if value is not None})
    if args.class_weight is not None:
        training["class_weight"] = None if args.class_weight == "none" else args.class_weight
    if args.mode == "pretrain":
        history = model.pretrain(adata, rna, **training)
    else:
        peak_init = None if args.peak_init == "none" else args.peak_init
        history = model.fit(args.mode, adata, rna, labels_key=args.labels_key, peak_init=peak_init, **training)
    if not is_main_process():
        return
    model.save(args.out / "model", overwrite=True)
    model.write_to_adata(adata, rna=rna if args.mode == "expression" else None, device=args.device,
                         precision=args.precision, n_threads=args.threads, verbose=not args.quiet)
    write_h5ad(adata, args.out / "adata.h5ad")
    if args.mode == "expression":
        write_h5ad(rna, args.out / "rna.h5ad")
    write_json({"mode": args.mode, "history": history.to_dict(orient="records")}, args.out / "history.json")
    print(f"EpiFoundation {args.mode} ({model.params['preset']} preset): {len(history)} epochs, final loss "
          f"{history['loss'].iloc[-1]:.4f}; model in {args.out / 'model'}, obsm['X_epifoundation'] in {args.out / 'adata.h5ad'}")


def _torch_training_arguments(sub) -> None:
    """Device, precision, threads, resume and seed options of the torch-trained models."""
    sub.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    sub.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    add_threads(sub, "torch CPU threads")
    sub.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints")
    sub.add_argument("--seed", type=seed, default=0)


def add_commands(commands) -> None:
    """Register ``fit`` and its per-model subcommands."""
    fit = commands.add_parser("fit", help="train a sequence model and write its embedding",
                              description="Train a model on scATAC data and save it with the updated h5ad.")
    fit_models = fit.add_subparsers(dest="model", required=True, metavar="MODEL")

    scbasset = fit_models.add_parser(
        "scbasset", help="scBasset CNN (Yuan & Kelley 2022)",
        description="Train scBasset; writes OUT/model (saved model), OUT/adata.h5ad (obsm['X_scbasset'], "
                    "obs['scbasset_intercept']), OUT/metrics.json (held-out auROC/auPR) and OUT/checkpoints. "
                    "Launch with `torchrun --nproc_per_node N -m seqatac.cli fit scbasset ...` for DDP.")
    scbasset.add_argument("--atac", type=Path, required=True, help="cells × peaks data (h5ad, 10x h5, mtx)")
    scbasset.add_argument("--genome", type=Path, required=True, help="genome FASTA matching the peaks")
    scbasset.add_argument("--out", type=output_directory, required=True, help="output directory")
    scbasset.add_argument("--batch-key", default=None, help="obs column of batches: trains scBasset-BC")
    scbasset.add_argument("--layer", default=None, help="layer holding the counts (default X)")
    scbasset.add_argument("--epochs", type=positive_int, default=1000, help="maximum epochs (early stopping on)")
    scbasset.add_argument("--max-steps", type=positive_int, default=None,
                          help="stop after this many optimizer steps (a resume with more completes the epoch)")
    scbasset.add_argument("--patience", type=positive_int, default=50)
    scbasset.add_argument("--batch-size", type=positive_int, default=128, help="peaks per step")
    scbasset.add_argument("--cell-batch-size", type=positive_int, default=None, help="also subsample cells per step")
    scbasset.add_argument("--bottleneck", type=positive_int, default=32, help="embedding size")
    scbasset.add_argument("--l2-cell", type=float, default=0.0, help="scBasset-BC penalty on the cell path")
    scbasset.add_argument("--l2-batch", type=float, default=0.0, help="scBasset-BC penalty on the batch path")
    scbasset.add_argument("--min-cell-fraction", type=float, default=0.0,
                          help="keep peaks open in at least this fraction of cells (authors: 0.01-0.05)")
    scbasset.add_argument("--standard-chromosomes", action="store_true", help="keep only chr1-22, X, Y")
    scbasset.add_argument("--sequence-cache", type=output_file, default=None, help="on-disk int8 sequence cache (.npy)")
    _torch_training_arguments(scbasset)
    scbasset.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                          help="architecture option (repeatable), e.g. --set seq_len=1000 --set n_tower_layers=5")
    scbasset.set_defaults(func=_fit_scbasset, writes_directory=True)

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
    cellspace.add_argument("--out", type=output_directory, required=True, help="output directory")
    cellspace.add_argument("--layer", default=None, help="layer holding the counts (default X)")
    cellspace.add_argument("--epochs", type=positive_int, default=50)
    add_threads(cellspace, "worker threads")
    cellspace.add_argument("--chunk-size", type=positive_int, default=512, help="examples per vectorised update")
    cellspace.add_argument("--config", type=Path, default=None, help="JSON of CellSpaceConfig fields")
    cellspace.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                           help="hyper-parameter (repeatable), e.g. --set bucket=500000 --set ngrams=1")
    add_motifs(cellspace, help="MEME/JASPAR/HOMER file for TF activity")
    cellspace.add_argument("--no-tf-activity", action="store_true", help="skip obsm['cellspace_tf']")
    cellspace.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints")
    cellspace.add_argument("--seed", type=seed, default=0)
    cellspace.set_defaults(func=_fit_cellspace, writes_directory=True)

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
    epifoundation.add_argument("--out", type=output_directory, required=True, help="output directory")
    epifoundation.add_argument("--model", type=Path, default=None, help="saved model to continue from")
    epifoundation.add_argument("--preset", default="auto", choices=["auto", "reference", "small", "tiny"],
                               help="architecture of a new model: auto = reference (the paper's) on a GPU, "
                                    "small on CPU; the choice is printed")
    epifoundation.add_argument("--labels-key", default=None, help="obs column of cell types (annotate)")
    epifoundation.add_argument("--batch-key", default=None,
                               help="obs column of batches: a batch embedding fused into the gene decoders")
    epifoundation.add_argument("--layer", default=None, help="layer holding the counts (default X)")
    epifoundation.add_argument("--min-mapped-fraction", type=float, default=0.5,
                               help="error when fewer peaks of new data map onto the model's peaks")
    epifoundation.add_argument("--epochs", type=positive_int, default=None,
                               help="most epochs (default 10; annotate: 30, with early stopping)")
    epifoundation.add_argument("--lr", type=float, default=None,
                               help="peak Adam learning rate, warmup + cosine (default: 3e-3 for the small and tiny presets, 1e-4 for reference; annotate: 1e-3)")
    epifoundation.add_argument("--train-max-len", type=positive_int, default=None,
                               help="peaks sampled per cell and step in training (default the model's; annotate: 512)")
    epifoundation.add_argument("--validation-fraction", type=float, default=None,
                               help="share of the cells held in to watch (default 0; annotate: 0.1, by type)")
    epifoundation.add_argument("--patience", type=positive_int, default=None,
                               help="stop after this many epochs without a lower validation loss; keeps the best "
                                    "epoch (annotate default 5)")
    epifoundation.add_argument("--class-weight", choices=["balanced", "none"], default=None,
                               help="annotate: weight each type's loss by n / (n_types · n_type) (default balanced)")
    epifoundation.add_argument("--label-smoothing", type=float, default=None, help="annotate (default 0.1)")
    epifoundation.add_argument("--head-warmup-epochs", type=int, default=None,
                               help="epochs in which only the task's head learns (a linear probe) before every "
                                    "weight does (annotate from an LSI start: default 5, else 0)")
    epifoundation.add_argument("--peak-init", choices=["auto", "lsi", "none"], default="auto",
                               help="annotate: start the encoder from the LSI of the training cells (auto: when "
                                    "the model is untrained)")
    epifoundation.add_argument("--max-tokens", type=positive_int, default=16_384, help="tokens per micro-batch")
    epifoundation.add_argument("--max-cells", type=positive_int, default=32, help="cells per micro-batch")
    epifoundation.add_argument("--grad-accumulation", type=positive_int, default=1, help="micro-batches per optimizer step")
    _torch_training_arguments(epifoundation)
    epifoundation.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                               help="architecture option of a new model (repeatable), e.g. --set d_model=64")
    epifoundation.set_defaults(func=_fit_epifoundation, writes_directory=True)
