"""``run_demo``: simulate, run the three models and the baselines on the same cells, score, report."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Sequence
from pathlib import Path

from .. import _keys
from .._errors import SeqatacInputError
from .._utils import atomic_path, jsonable, write_h5ad, write_json
from . import _evaluate, _report, _stages
from ._settings import demo_settings

logger = logging.getLogger(__name__)

MODELS = ("cellspace", "epifoundation", "scbasset")


@contextlib.contextmanager
def _thread_limit(n: int):
    """At most ``n`` threads in torch and in every BLAS/OpenMP pool for the block (restored afterwards)."""
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with threadpool_limits(limits=n):
            yield
    finally:
        torch.set_num_threads(before)


class _Clock:
    """Runs the stages under a thread limit, keeps their wall times and prints one line per stage."""

    def __init__(self, verbose: bool, threads: int):
        self.verbose = verbose
        self.threads = threads
        self.timings: dict[str, float] = {}
        self.started = time.perf_counter()

    def run(self, name: str, function, *args, summary=None, **kwargs):
        started = time.perf_counter()
        with _thread_limit(self.threads):
            result = function(*args, **kwargs)
        self.timings[name] = time.perf_counter() - started
        if self.verbose:
            line = summary(result) if summary is not None else ""
            print(f"[{time.perf_counter() - self.started:6.1f} s] {name:<18} {self.timings[name]:6.1f} s  {line}",
                  flush=True)
        return result


def run_demo(
    out_dir: str | Path,
    *,
    preset: str = "small",
    random_state: int = 0,
    models: Sequence[str] = MODELS,
    n_threads: int | None = None,
    settings: dict | None = None,
    verbose: bool = True,
) -> dict:
    """Simulate a dataset and run CellSpace, EpiFoundation and scBasset beside LSI and chromVAR on its cells.

    Stages: simulation with paired RNA; LSI; chromVAR-style deviations of the simulator's 16 JASPAR motifs;
    **CellSpace** on the variable peaks (embedding, TF activity, Leiden clusters of its graph, de novo motifs
    matched to JASPAR 2024); **EpiFoundation** (pre-training on the paired RNA of all batches but the last,
    cell-type fine-tuning on their labels, annotation of the held-out batch against LSI + kNN, expression
    fine-tuning and prediction against gene activity); **scBasset** (a short CPU-sized run; its epoch count
    is reported). Every embedding is scored with :func:`seqatac.metrics.evaluate_embedding`, every TF activity
    with :func:`seqatac.metrics.driver_tf_recovery`. On two CPU cores ``small`` took 4 min 50 s idle (8 min
    25 s under a load of 4–5 from other jobs) and ``tiny`` (a few steps of each model) ~15 s.

    Parameters
    ----------
    out_dir
        Output directory (created). Receives ``atac.h5ad`` (every embedding, TF activity, cluster and 2-D
        layout), ``rna.h5ad`` (with ``layers["epifoundation_expression"]``), ``metrics.json``, ``metrics.csv``
        (one row per method) and ``report.html`` (self-contained: every plot embedded as a base64 PNG).
    preset
        Simulator preset and demo sizes: ``"tiny"``, ``"small"`` or ``"medium"`` (see
        :data:`seqatac.demo.PRESETS`).
    random_state
        Seed of the simulation and of every method.
    models
        Which of ``"cellspace"``, ``"epifoundation"``, ``"scbasset"`` to run (the baselines always run).
    n_threads
        Threads of every stage: torch, the BLAS/OpenMP pools and CellSpace's Hogwild workers (None: 1, which
        also makes CellSpace deterministic). On shared cores, libraries running several threads wait for one
        another and slow down many-fold (measured here: 2 threads 3-20× slower than 1 under a load of 5);
        on an idle machine more threads are faster.
    settings
        Overrides of the preset's :class:`~seqatac.demo.DemoSettings` fields, e.g. ``{"scbasset_epochs": 5}``.
    verbose
        Print one line per stage with its wall time, then the metrics table and where the report is.

    Returns
    -------
    The content of ``metrics.json``.
    """
    models = list(models)
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        raise SeqatacInputError(f"unknown model(s) {unknown} for the demo; choose from {list(MODELS)}.")
    config = demo_settings(preset, settings)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return _run(out_dir, preset, random_state, models, n_threads, config, verbose)


def _run(out_dir: Path, preset: str, random_state: int, models: Sequence[str], n_threads: int | None, config,
         verbose: bool) -> dict:
    from ..data import jaspar
    from ..simulate import simulate_atac

    threads = n_threads or 1
    clock = _Clock(verbose, threads)

    simulation = clock.run("simulate", simulate_atac, preset, random_state=random_state, rna=True, summary=lambda s: (
        f"{s.atac.n_obs:,} cells × {s.atac.n_vars:,} peaks (+ {s.rna.n_vars:,} genes), "
        f"{s.atac.obs[_keys.CELL_TYPE].nunique()} cell types, {s.atac.obs[_keys.BATCH].nunique()} batches"))
    atac, truth = simulation.atac, simulation.truth
    panel = jaspar(ids=list(truth["tfs"]["motif_id"]))
    baselines = clock.run("LSI + chromVAR", _stages.run_baselines, simulation, panel, random_state=random_state,
                          summary=lambda r: f"LSI, chromVAR deviations of {r['tf_activity'].shape[1]} motifs")
    results = {"chromvar": baselines}
    training: dict[str, dict] = {}
    known = jaspar() if "cellspace" in models else []  # JASPAR 2024 CORE vertebrates, for the de novo motifs
    if "cellspace" in models:
        cellspace = clock.run("CellSpace", _stages.run_cellspace, simulation, panel, known, config,
                              random_state=random_state, n_threads=threads, summary=lambda r: (
                                  f"{r['epochs']} epochs on {r['n_peaks']:,} peaks, "
                                  f"{atac.obs['leiden'].nunique()} Leiden clusters, "
                                  f"{len(r['denovo'].motifs)} de novo motifs"))
        cellspace["denovo_summary"] = _stages.denovo_summary(cellspace["denovo"], truth)
        results["cellspace"] = cellspace
        training["cellspace"] = {"epochs": cellspace["epochs"],
                                 "train_seconds": float(cellspace["history"]["seconds"].sum())}
    if "epifoundation" in models:
        epi = clock.run("EpiFoundation", _stages.run_epifoundation, simulation, config, random_state=random_state,
                        n_threads=threads, summary=lambda r: (
                            f"{r['epochs']['pretrain']}+{r['epochs']['annotate']}+{r['epochs']['expression']} epochs, "
                            f"held-out accuracy {r['annotation']['epifoundation']['accuracy']:.3f} "
                            f"(LSI + kNN {r['annotation']['lsi_knn']['accuracy']:.3f})"))
        results["epifoundation"] = epi
        seconds = float(sum(h["seconds"].sum() for h in epi["histories"].values()))
        training["epifoundation"] = {"epochs": sum(epi["epochs"].values()), "train_seconds": seconds}
    if "scbasset" in models:
        scbasset = clock.run("scBasset", _stages.run_scbasset, simulation, panel, config, random_state=random_state,
                             n_threads=threads, summary=lambda r: (
                                 f"{r['epochs']} epochs ({r['n_parameters']:,} parameters, {r['precision']}), "
                                 f"held-out peaks auROC {r['held_out_peaks']['auroc_per_cell']:.3f}"))
        results["scbasset"] = scbasset
        training["scbasset"] = {"epochs": scbasset["epochs"],
                                "train_seconds": float(scbasset["history"]["seconds"].sum())}

    methods = [m for m, (key, _) in _evaluate.EMBEDDINGS.items() if key in atac.obsm]
    activities = {m: results[m]["tf_activity"] for m in ("chromvar", "cellspace", "scbasset") if m in results}
    embedding = clock.run("evaluate", _evaluate.score_embeddings, atac, methods, random_state=random_state,
                          summary=lambda r: f"{len(r)} embeddings scored")
    drivers = _evaluate.score_drivers(activities, atac)
    table = _evaluate.metrics_table(embedding, drivers, results.get("epifoundation"), training)
    clock.run("2-D layouts", _report.add_layouts, atac, methods, iterations=config.layout_iterations,
              random_state=random_state, summary=lambda _: f"t-SNE of {len(methods)} embeddings")

    metrics = {
        "preset": preset, "seed": random_state, "models": list(models), "settings": config.to_dict(),
        "data": {"n_cells": atac.n_obs, "n_peaks": atac.n_vars, "n_genes": simulation.rna.n_vars,
                 "n_cell_types": int(atac.obs[_keys.CELL_TYPE].nunique()),
                 "n_batches": int(atac.obs[_keys.BATCH].nunique())},
        "methods": {m: row.to_dict() for m, row in table.iterrows()},
        "embedding": embedding, "driver_tf": drivers,
    }
    if "cellspace" in results:
        metrics["denovo_motifs"] = results["cellspace"]["denovo_summary"]
    if "epifoundation" in results:
        metrics["annotation"] = results["epifoundation"]["annotation"]
        metrics["expression"] = results["epifoundation"]["expression"]
    if "scbasset" in results:
        metrics["scbasset"] = {key: results["scbasset"][key]
                               for key in ("epochs", "n_parameters", "precision", "held_out_peaks")}
    metrics["training"] = training
    histories = {}  # per-epoch training histories (the report's training curves)
    if "cellspace" in results:
        histories["cellspace"] = results["cellspace"]["history"]
    for stage, history in results.get("epifoundation", {}).get("histories", {}).items():
        histories[f"epifoundation {stage}"] = history
    if "scbasset" in results:
        histories["scbasset"] = results["scbasset"]["history"]
    metrics["history"] = {name: history.to_dict(orient="list") for name, history in histories.items()}

    def write_outputs():
        report = out_dir / "report.html"
        n_figures = _report.write_report(report, atac=atac, preset=preset, random_state=random_state, results=results,
                                         table=table, embedding=embedding, drivers=drivers, known_motifs=known,
                                         timings=clock.timings)
        write_h5ad(atac, out_dir / "atac.h5ad")
        if _keys.EPIFOUNDATION_EXPRESSION in simulation.rna.layers:
            write_h5ad(simulation.rna, out_dir / "rna.h5ad")
        with atomic_path(out_dir / "metrics.csv") as tmp:
            table.to_csv(tmp, float_format="%.6g")
        return n_figures

    metrics["report_figures"] = clock.run("report + files", write_outputs, summary=lambda n: f"{n} figures embedded")
    metrics["timings_s"] = {name: round(seconds, 2) for name, seconds in clock.timings.items()}
    metrics = jsonable(metrics)
    write_json(metrics, out_dir / "metrics.json")
    if verbose:
        print(f"\nmetrics on the same {atac.n_obs:,} cells (blank: does not apply; annotation and expression on "
              f"the held-out batch, LSI's annotation = LSI + kNN):")
        print(_evaluate.printable_table(table))
        if "scbasset" in results:
            print(f"\nscBasset: {results['scbasset']['epochs']} epochs of a CPU-sized network "
                  f"({results['scbasset']['n_parameters']:,} parameters; the authors train theirs up to 1,000 epochs "
                  f"on a GPU): label score {table.loc['scbasset', 'label_score_k50']:.3f} vs LSI "
                  f"{table.loc['lsi', 'label_score_k50']:.3f}.")
        print(f"\ntotal {time.perf_counter() - clock.started:.0f} s. Report: {(out_dir / 'report.html').resolve()}")
        print(f"also wrote {', '.join(p.name for p in sorted(out_dir.iterdir()) if not p.name.startswith('.'))}")
    return metrics
