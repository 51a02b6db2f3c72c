"""Subcommands on a saved model: scBasset's ``tf-activity``, ``ism``, ``denoise``; EpiFoundation's ``annotate``,
``predict-expression``."""

from __future__ import annotations

from pathlib import Path

from .._errors import SeqatacInputError
from .._utils import atomic_path, write_h5ad
from ._common import (
    add_motifs,
    add_threads,
    check_new_obs_column,
    fraction,
    load_motifs,
    output_file,
    positive_int,
    read_h5ad,
    seed,
)


def _load_scbasset(args, *, with_data: bool, needs_genome: bool = True):
    from ..models import ScBasset

    adata = read_h5ad(args.adata) if with_data else None
    model = ScBasset.load(args.model, adata=adata, genome=args.genome)
    if needs_genome and model.genome is None:
        raise SeqatacInputError(f"the model in {str(args.model)!r} has no usable genome FASTA recorded (moved or "
                                "deleted?). Fix: pass --genome FASTA, the genome its peaks were called on.")
    return model, adata


def _tf_activity(args) -> None:
    model, adata = _load_scbasset(args, with_data=True)
    motifs = load_motifs(args)
    activity = model.get_tf_activity(motifs, n_backgrounds=args.n_backgrounds, random_state=args.seed,
                                     batch_size=args.batch_size, precision=args.precision,
                                     verbose=not args.quiet)
    model.write_to_adata(adata, tf_activity=activity, motifs=motifs)
    write_h5ad(adata, args.out)
    print(f"wrote obsm['scbasset_tf'] ({adata.n_obs:,} cells × {activity.shape[1]} motifs) to {args.out}")


def _ism(args) -> None:
    import h5py
    import numpy as np

    model, _ = _load_scbasset(args, with_data=False, needs_genome=args.region is not None)
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


def _denoise(args) -> None:
    from ..interpret import denoise

    model, _ = _load_scbasset(args, with_data=False)
    adata = read_h5ad(args.atac, backed="r")  # only obs/var are read: peaks may be any regions
    denoise(adata, model, file=args.out, chunk_size=args.chunk_size, batch_size=args.batch_size,
            dtype=args.dtype, precision=args.precision, verbose=not args.quiet)
    print(f"wrote denoised accessibility ({adata.n_obs:,} cells × {adata.n_vars:,} peaks) to {args.out}")


def _load_epifoundation(args):
    from ..data import read_atac
    from ..models import EpiFoundation

    adata = read_atac(args.atac)
    return EpiFoundation.load(args.model), adata


def _inference_options(args) -> dict:
    return dict(max_len=args.max_len, max_tokens=args.max_tokens, device=args.device, precision=args.precision,
                n_threads=args.threads, verbose=not args.quiet)


def _annotate(args) -> None:
    from .. import _keys

    if args.key_added is not None and args.min_confidence is None:
        raise SeqatacInputError("--key-added names the column of the thresholded labels, which only "
                                "--min-confidence writes. Fix: add --min-confidence (e.g. 0.5), or leave out "
                                "--key-added (the head's labels go to obs['epifoundation_cell_type']).")
    model, adata = _load_epifoundation(args)
    if "annotate" not in model.trained:
        raise SeqatacInputError(f"the model in {str(args.model)!r} has no cell-type head; fine-tune it first with "
                                "`seqatac fit epifoundation --mode annotate --labels-key ...`.")
    written = _keys.EPIFOUNDATION_CELL_TYPE
    if args.min_confidence is not None:
        written = args.key_added or f"{model.params.get('labels_key') or _keys.CELL_TYPE}_transferred"
        check_new_obs_column(adata, written, data=f"--atac {str(args.atac)!r}")
    model.write_to_adata(adata, **_inference_options(args))
    if args.min_confidence is not None:
        head = adata.obs[[_keys.EPIFOUNDATION_CELL_TYPE, _keys.EPIFOUNDATION_CONFIDENCE]]  # no second prediction
        model.transfer_labels(adata, min_confidence=args.min_confidence, key_added=written,
                              predicted=head.set_axis(["cell_type", "confidence"], axis=1))
    write_h5ad(adata, args.out)
    counts = adata.obs[written].value_counts()
    print(f"annotated {adata.n_obs:,} cells into obs['{written}'] (+ confidence) in {args.out}: {counts.to_dict()}")


def _predict_expression(args) -> None:
    import anndata as ad
    import pandas as pd

    from .. import _keys

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


def add_commands(commands) -> None:
    """Register the subcommands that use a saved model."""
    def model_arguments(sub, *, adata: bool):
        """Options of the scBasset subcommands: the saved model, its genome, batch size, precision, threads."""
        sub.add_argument("--model", type=Path, required=True, help="saved model directory (fit's OUT/model)")
        sub.add_argument("--genome", type=Path, default=None, help="genome FASTA (default: the one used to fit)")
        if adata:
            sub.add_argument("--adata", type=Path, required=True, help="h5ad with the model's cells and peaks")
        sub.add_argument("--batch-size", type=positive_int, default=128)
        sub.add_argument("--precision", default="fp32", choices=["auto", "fp32", "bf16"])
        add_threads(sub, "torch CPU threads")

    tf_activity = commands.add_parser("tf-activity", help="per-cell TF activity by motif insertion (scBasset)",
                                      description="Insert motifs into dinucleotide-shuffled peaks and write "
                                                  "z-scored activities to obsm['scbasset_tf'].")
    model_arguments(tf_activity, adata=True)
    add_motifs(tf_activity)
    tf_activity.add_argument("--n-backgrounds", type=positive_int, default=1000)
    tf_activity.add_argument("--seed", type=seed, default=0)
    tf_activity.add_argument("--out", type=output_file, required=True, help="h5ad to write")
    tf_activity.set_defaults(func=_tf_activity)

    ism = commands.add_parser("ism", help="in silico saturation mutagenesis (cells × positions)",
                              description="ISM scores normalised at the reference base, written to an HDF5 "
                                          "file (dataset 'ism': sequences × cells × positions).")
    model_arguments(ism, adata=False)
    ism.add_argument("--region", default=None, help="genomic region, e.g. chr11:5297158-5297258")
    ism.add_argument("--sequence", default=None, help="a DNA sequence of the model's length")
    ism.add_argument("--out", type=output_file, required=True, help="HDF5 file to write")
    ism.set_defaults(func=_ism)

    denoise = commands.add_parser("denoise", help="denoised accessibility streamed to HDF5",
                                  description="Depth-normalised accessibility (intercept dropped) of every "
                                              "peak of --atac for the model's cells, streamed in chunks.")
    model_arguments(denoise, adata=False)
    denoise.add_argument("--atac", type=Path, required=True, help="h5ad whose var holds the peaks to predict")
    denoise.add_argument("--chunk-size", type=positive_int, default=4096, help="peaks per chunk")
    denoise.add_argument("--dtype", default="float32", choices=["float32", "float16"])
    denoise.add_argument("--out", type=output_file, required=True, help="HDF5 file to write")
    denoise.set_defaults(func=_denoise)

    def epifoundation_arguments(sub):
        sub.add_argument("--model", type=Path, required=True, help="saved EpiFoundation model (fit's OUT/model)")
        sub.add_argument("--atac", type=Path, required=True,
                         help="cells × peaks data; peaks are mapped onto the model's by overlap")
        sub.add_argument("--max-len", type=positive_int, default=None,
                         help="tokens per cell (default: the model's max_len); larger keeps more peaks of long cells")
        sub.add_argument("--max-tokens", type=positive_int, default=32_768, help="tokens per batch")
        sub.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
        sub.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
        add_threads(sub, "torch CPU threads")

    annotate = commands.add_parser("annotate", help="predict cell types with a fine-tuned EpiFoundation",
                                   description="Write obsm['X_epifoundation'], obs['epifoundation_cell_type'] and "
                                               "obs['epifoundation_cell_type_confidence'] for new cells.")
    epifoundation_arguments(annotate)
    annotate.add_argument("--min-confidence", type=fraction, default=None,
                          help="also write obs[KEY] as `seqatac transfer-labels` does: the head's type, or "
                               "'unassigned' where its probability is below this (e.g. 0.5)")
    annotate.add_argument("--key-added", default=None,
                          help="with --min-confidence: the obs column (default <labels key>_transferred)")
    annotate.add_argument("--out", type=output_file, required=True, help="h5ad to write")
    annotate.set_defaults(func=_annotate)

    predict_expression = commands.add_parser(
        "predict-expression", help="predict expression levels with a fine-tuned EpiFoundation",
        description="Predict per-cell expression levels (0 = not expressed .. 9) from ATAC into "
                    "layers['epifoundation_expression'] of --rna (genes the model lacks get NaN) or of a new "
                    "cells × model genes h5ad.")
    epifoundation_arguments(predict_expression)
    predict_expression.add_argument("--rna", type=Path, default=None, help="RNA h5ad of the same cells to fill")
    predict_expression.add_argument("--out", type=output_file, required=True, help="h5ad to write")
    predict_expression.set_defaults(func=_predict_expression)
