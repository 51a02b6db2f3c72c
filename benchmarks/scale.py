"""Memory bounds at scale: 1,000,000 cells × 100,000 peaks, every stage in a fresh, watched subprocess.

Stages (run one with its subcommand, or all in order with ``all``)::

    python benchmarks/scale.py generate    --data DIR   # the 1M-cell h5ad + genome, written chunk by chunk
    python benchmarks/scale.py scbasset    --data DIR   # scBasset: a bounded number of steps, all 1M cells
    python benchmarks/scale.py cellspace   --data DIR   # CellSpace: a bounded number of examples
    python benchmarks/scale.py denoise     --data DIR   # denoised accessibility streamed into an HDF5 file
    python benchmarks/scale.py tf-activity --data DIR   # motif-insertion TF activity for all cells
    python benchmarks/scale.py all         --data DIR

``generate`` simulates a ``large``-style base (``--base-cells`` cells × 100,000 peaks, the ``large`` preset
with a lower ``depth_mean`` so that a cell has ~700 open peaks) and writes ``DIR/atac.h5ad`` with
``--cells`` cells whose count rows are drawn with replacement from the base, ``--chunk`` cells at a time
straight into the h5ad's CSR datasets: neither a dense matrix nor the full 1M-cell matrix is ever in memory.
``denoise`` and ``tf-activity`` use the model ``scbasset`` saved in ``DIR/scbasset_model``.

Each stage runs in a fresh ``nice -n 19`` subprocess whose peak RSS (``VmHWM`` of ``/proc/<pid>/status``)
is its record; the parent polls the child's RSS and kills it above ``--kill-gb`` (recorded as a failure).
Results are merged into ``benchmarks/results/scale.json`` (one entry per stage) with the 1-minute load
average before and after (figures measured under load are upper bounds on time).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import RESULTS, load_average, machine, memory_gb

OUT = RESULTS / "scale.json"
LIMIT_GB = 24.0  # the acceptance bound
STAGES = ("generate", "scbasset", "cellspace", "denoise", "tf-activity")


# ------------------------------------------------------------------------------------------- helpers


def _merge(stage: str, record: dict, out: Path) -> None:
    from seqatac._utils import atomic_path

    payload = json.loads(out.read_text()) if out.exists() else {}
    payload.setdefault("limit_gb", LIMIT_GB)
    payload["machine"] = machine()
    payload.setdefault("stages", {})[stage] = record
    payload["all_under_limit"] = all(
        r.get("ok", False) and r["peak_rss_gb"] < LIMIT_GB for r in payload["stages"].values()
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {out} [{stage}]", flush=True)


def _watched(stage: str, args: argparse.Namespace) -> dict:
    """Run ``stage`` in a fresh ``nice -n 19`` subprocess; poll its RSS, kill it above ``args.kill_gb``."""
    command = ["nice", "-n", "19", sys.executable, __file__, "_stage", stage, *_forwarded(args)]
    load_before = load_average()
    with tempfile.TemporaryFile("w+") as stdout:
        child = subprocess.Popen(command, stdout=stdout, text=True)
        polled_gb, killed = 0.0, False
        while child.poll() is None:
            rss = memory_gb("VmRSS", child.pid)
            polled_gb = max(polled_gb, rss if rss == rss else 0.0)
            if rss > args.kill_gb:
                child.kill()
                killed = True
            time.sleep(0.5)
        stdout.seek(0)
        lines = stdout.read().strip().splitlines()
    record = {"command": " ".join(["python", "benchmarks/scale.py", stage, *_forwarded(args)]),
              "load_before": load_before, "load_after": load_average(), "polled_max_rss_gb": round(polled_gb, 2)}
    if child.returncode == 0 and lines:
        record |= json.loads(lines[-1]) | {"ok": True}
    else:
        record |= {"ok": False, "returncode": child.returncode, "killed_over_gb": args.kill_gb if killed else None,
                   "peak_rss_gb": round(polled_gb, 2)}
    record["under_load"] = max(record["load_before"], record["load_after"]) > 1.5
    return record


def _forwarded(args: argparse.Namespace) -> list[str]:
    """The options of ``args`` as command-line flags (for the child process)."""
    flags = []
    for name, value in vars(args).items():
        if name in ("stage", "out") or value is None:
            continue
        flags += [f"--{name.replace('_', '-')}", str(value)]
    return flags


def _result(started: float, **fields) -> dict:
    """A stage's record: its fields, wall time and the process's own peak RSS (VmHWM)."""
    return {**fields, "seconds": round(time.perf_counter() - started, 1), "peak_rss_gb": round(memory_gb("VmHWM"), 2)}


# ------------------------------------------------------------------------------------------- stages


def generate(args) -> dict:
    """Simulate the base and write ``DIR/atac.h5ad`` (cells resampled from it) and ``DIR/genome.fa``."""
    import anndata as ad
    import h5py
    import scipy.sparse as sp
    from seqatac._utils import atomic_path
    from seqatac.data import write_fasta
    from seqatac.simulate import simulate_atac

    started = time.perf_counter()
    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    sim = simulate_atac("large", random_state=args.seed, n_cells=args.base_cells, n_peaks=args.peaks,
                        depth_mean=args.depth_mean)
    simulate_seconds = time.perf_counter() - started
    write_fasta(sim.genome, data / "genome.fa")
    base = sim.atac.X.tocsr()
    base_obs = sim.atac.obs[["cell_type", "batch"]]
    var = sim.atac.var[["chrom", "start", "end"]].copy()
    del sim

    rng = np.random.default_rng(args.seed)
    rows = rng.integers(base.shape[0], size=args.cells)
    indptr = np.zeros(args.cells + 1, dtype=np.int64)
    np.cumsum(np.diff(base.indptr)[rows], out=indptr[1:])
    nnz = int(indptr[-1])
    width = len(str(args.cells - 1))
    obs = base_obs.iloc[rows].set_axis([f"cell{i:0{width}d}" for i in range(args.cells)])
    obs["base_cell"] = rows
    skeleton = ad.AnnData(X=sp.csr_matrix((args.cells, args.peaks), dtype=np.float32), obs=obs, var=var)
    path = data / "atac.h5ad"
    with atomic_path(path) as tmp:
        skeleton.write_h5ad(tmp)
        del skeleton, obs
        with h5py.File(tmp, "r+") as handle:
            group = handle["X"]
            for name in ("data", "indices", "indptr"):
                del group[name]
            group.create_dataset("indptr", data=indptr)
            values = group.create_dataset("data", shape=(nnz,), dtype=np.float32)
            indices = group.create_dataset("indices", shape=(nnz,), dtype=np.int32)
            for lo in range(0, args.cells, args.chunk):
                block = base[rows[lo:lo + args.chunk]]
                at = indptr[lo]
                values[at:at + block.nnz] = block.data
                indices[at:at + block.nnz] = block.indices
    open_peaks = np.diff(indptr)
    return _result(
        started, n_cells=args.cells, n_peaks=args.peaks, base_cells=args.base_cells, nnz=nnz,
        density=nnz / (args.cells * args.peaks), median_open_peaks=float(np.median(open_peaks)),
        mean_open_peaks=float(open_peaks.mean()), simulate_seconds=round(simulate_seconds, 1),
        file_gb=round(path.stat().st_size / 2**30, 2),
        csr_in_memory_gb=round((nnz * 8 + indptr.nbytes) / 2**30, 2),  # float32 values + int32 indices + indptr
    )


def _read_cells_and_peaks(data: Path):
    """``obs``/``var`` of the 1M-cell h5ad without its matrix (an AnnData with ``X=None``)."""
    import anndata as ad

    backed = ad.read_h5ad(data / "atac.h5ad", backed="r")
    adata = ad.AnnData(obs=backed.obs, var=backed.var)
    backed.file.close()
    return adata


def _read_and_build(data: Path, build) -> tuple:
    """Read the h5ad into memory, then ``build(adata)`` a model; returns (adata, model, start time, build end
    time, read/build seconds and the RSS after each)."""
    from seqatac.data import read_h5ad

    started = time.perf_counter()
    adata = read_h5ad(data / "atac.h5ad")
    loaded = time.perf_counter()
    rss_loaded = memory_gb("VmRSS")
    model = build(adata)
    built = time.perf_counter()
    stats = {"read_seconds": round(loaded - started, 1), "build_seconds": round(built - loaded, 1),
             "rss_after_read_gb": round(rss_loaded, 2), "rss_after_build_gb": round(memory_gb("VmRSS"), 2)}
    return adata, model, started, built, stats


def scbasset(args) -> dict:
    """Build scBasset on all cells and peaks (data in memory) and train ``--steps`` steps; save the model."""
    from seqatac.models import ScBasset

    data = Path(args.data)
    adata, model, started, built, stats = _read_and_build(
        data, lambda adata: ScBasset(adata, data / "genome.fa", sequence_cache=data / "peaks.npy",
                                     random_state=args.seed))
    model._peak_codes()  # encode the peaks (memory-mapped cache) before the clock of the steps starts
    encoded = time.perf_counter()
    model.fit(max_epochs=1, max_steps=args.steps, batch_size=args.batch_size, early_stopping=False,
              restore_best=False, device="cpu", n_threads=args.threads, verbose=False)
    trained = time.perf_counter()
    model.save(data / "scbasset_model", overwrite=True)
    return _result(
        started, n_cells=adata.n_obs, n_peaks=adata.n_vars, nnz=int(adata.X.nnz),
        parameters=model.module.n_parameters, architecture="authors' defaults (seq_len 1344, bottleneck 32)",
        precision=model.params["training"]["precision"], steps=args.steps, batch_size=args.batch_size,
        **stats, encode_seconds=round(encoded - built, 1), train_seconds=round(trained - encoded, 1),
        s_per_step=round((trained - encoded) / args.steps, 2),
        embedding_shape=list(model.get_latent_representation().shape),
    )


def cellspace(args) -> dict:
    """Build CellSpace on all cells and peaks (data in memory) and train one epoch of ``--examples-per-event``."""
    from seqatac.data import Genome
    from seqatac.models import CellSpace

    data = Path(args.data)
    adata, model, started, built, stats = _read_and_build(
        data, lambda adata: CellSpace(adata, Genome(data / "genome.fa"), random_state=args.seed,
                                      examples_per_event=args.examples_per_event))
    model.fit(1, random_state=args.seed, n_threads=args.threads, verbose=False)
    trained = time.perf_counter()
    examples = len(model._data.train_events) * args.examples_per_event
    return _result(
        started, n_cells=adata.n_obs, n_peaks=adata.n_vars, examples=examples,
        examples_per_event=args.examples_per_event, config="authors' defaults (k 8, N 3, d 30, 2,000,000 buckets)",
        **stats, train_seconds=round(trained - built, 1), examples_per_s=round(examples / (trained - built)),
        memory_report_mb={k: round(v / 2**20, 1) for k, v in model.memory_report().items()},
        embedding_shape=list(model.get_latent_representation().shape),
    )


def denoise(args) -> dict:
    """Denoised accessibility of ``--denoise-peaks`` peaks × all cells, streamed into an HDF5 file."""
    import h5py
    from seqatac.models import ScBasset
    from seqatac.tl import denoise as denoise_to

    started = time.perf_counter()
    data = Path(args.data)
    model = ScBasset.load(data / "scbasset_model", genome=data / "genome.fa")
    adata = _read_cells_and_peaks(data)
    peaks = np.sort(np.random.default_rng(args.seed).choice(adata.n_vars, args.denoise_peaks, replace=False))
    path = data / "denoised.h5"
    ready = time.perf_counter()
    denoise_to(adata, model, file=path, peaks=peaks, dtype="float16", device="cpu", verbose=False)
    seconds = time.perf_counter() - ready
    with h5py.File(path, "r") as handle:
        shape = list(handle["denoised"].shape)
        cells = handle["denoised"][: args.chunk]  # a chunk of cells: rows of the file, read without the rest
        finite = bool(np.isfinite(cells).all())
    return _result(
        started, shape=shape, dtype="float16", file_gb=round(path.stat().st_size / 2**30, 2),
        denoise_seconds=round(seconds, 1), peaks_per_s=round(args.denoise_peaks / seconds, 2),
        values_per_s=round(shape[0] * shape[1] / seconds), cell_chunk_read=list(cells.shape), finite=finite,
    )


def tf_activity(args) -> dict:
    """Motif-insertion TF activity of ``--motifs`` simulator motifs with ``--backgrounds`` backgrounds, all cells."""
    from seqatac.data import jaspar
    from seqatac.models import ScBasset
    from seqatac.simulate import MOTIF_IDS

    started = time.perf_counter()
    data = Path(args.data)
    model = ScBasset.load(data / "scbasset_model", genome=data / "genome.fa")
    motifs = jaspar(ids=list(MOTIF_IDS.values())[: args.motifs])
    ready = time.perf_counter()
    activity = model.get_tf_activity(motifs, n_backgrounds=args.backgrounds, random_state=args.seed,
                                     device="cpu", verbose=False)
    seconds = time.perf_counter() - ready
    passes = args.backgrounds * (len(motifs) + 1)
    return _result(
        started, shape=list(activity.shape), motifs=[m.name for m in motifs], backgrounds=args.backgrounds,
        forward_passes=passes, tf_seconds=round(seconds, 1), sequences_per_s=round(passes / seconds, 2),
        finite=bool(np.isfinite(activity.to_numpy()).all()),
    )


STAGE_FUNCTIONS = {"generate": generate, "scbasset": scbasset, "cellspace": cellspace, "denoise": denoise,
                   "tf-activity": tf_activity}


# ------------------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=(*STAGES, "all", "_stage"))
    parser.add_argument("child_stage", nargs="?", help=argparse.SUPPRESS)
    parser.add_argument("--data", required=True, help="directory of the generated data and models")
    parser.add_argument("--cells", type=int, default=1_000_000)
    parser.add_argument("--peaks", type=int, default=100_000)
    parser.add_argument("--base-cells", type=int, default=100_000)
    parser.add_argument("--depth-mean", type=float, default=-6.9)
    parser.add_argument("--chunk", type=int, default=20_000, help="cells written at a time")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20, help="scBasset training steps")
    parser.add_argument("--batch-size", type=int, default=128, help="scBasset peaks per step")
    parser.add_argument("--examples-per-event", type=int, default=5, help="CellSpace examples per peak")
    parser.add_argument("--denoise-peaks", type=int, default=1024)
    parser.add_argument("--motifs", type=int, default=8)
    parser.add_argument("--backgrounds", type=int, default=128)
    parser.add_argument("--out", default=str(OUT), help="result JSON (stages merged into it)")
    parser.add_argument("--kill-gb", type=float, default=18.0, help="kill a stage whose RSS exceeds this")
    args = parser.parse_args()
    if args.stage == "_stage":  # child: run one stage, print its record as the last line
        stage = args.child_stage
        import torch

        torch.set_num_threads(args.threads)
        print(json.dumps(STAGE_FUNCTIONS[stage](args)), flush=True)
        return
    del args.child_stage
    for stage in STAGES if args.stage == "all" else (args.stage,):
        stage_args = argparse.Namespace(**{k: v for k, v in vars(args).items() if k != "stage"})
        record = _watched(stage, stage_args)
        print(json.dumps(record, indent=1), flush=True)
        _merge(stage, record, Path(args.out))
        if not record["ok"] and stage == "generate":
            raise SystemExit("generation failed; the other stages need its data")


if __name__ == "__main__":
    main()
