"""CellSpace benchmark: speed and memory at the authors' defaults, quality against LSI, TF and motif recovery.

Sections (``--sections``, default all):

- ``speed``: the authors' defaults (k 8, N 3, L 150, d 30, 50 negative candidates, 2,000,000 buckets) on a
  toy of 400 events × 300 cells of 3 types with planted motifs, 10 epochs = 80,000 examples, with 1 and 2
  threads; examples/s counted as StarSpace counts them (one example = one window + its positive + its
  negatives), peak RSS of a fresh process, and the 15-NN label purity of the cells. With ``--cpp PATH``
  (the authors' ``CellSpace`` binary, github.com/zakieh-tayyebi/CellSpace, ``make opt``) the same toys run
  through it too (first seed only), with 1 and 2 worker threads, right after ours, so that both are timed
  under the same load.
- ``medium``: simulator ``medium`` (10,000 cells × 30,000 peaks, 8 types, 2 batches), LSI vs CellSpace without
  any batch key. CellSpace runs on the 10,000 most variable peaks (the authors' workflow: peaks selected
  across LSI clusters, ``seqatac.tl.variable_peaks``) for the default 50 epochs, on all peaks (20 epochs by
  default, to bound the run time on 2 shared cores), and on the variable peaks with k-mers only (N = 1), with
  the default 150-bp windows and with 300-bp windows (``--runs NAME ...`` redoes only some of them).
  Reported: label score (k = 10, 50, 100),
  ARI/NMI of Leiden at the number of types and of scib's resolution sweep, iLISI of the batches; TF
  activity of the simulator's JASPAR panel and the rank of each type's primary driver; de novo motifs from
  Leiden clusters of the CellSpace graph (and from the true types; each group's 30 most frequent neighbour
  10-mers, as no 10-mer reaches the paper's 20% of a group's cells here), matched to JASPAR 2024 CORE
  vertebrates, with the rank of each planted motif among all JASPAR motifs;
  a joint cells + motifs layout and the training loss.

Writes ``benchmarks/results/cellspace.json`` (sections merged into an existing file) and PNGs beside it.
Usage: ``python benchmarks/cellspace.py [--sections speed medium] [--epochs 50] [--threads 2] [--cpp PATH]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
OUT = RESULTS / "cellspace.json"

#: Toys of 400 events × 300 cells, 3 types (the size the authors' C++ was timed on: 80,000 examples).
TOYS = {
    "strong": dict(depth_mean=-3.0, activity_primary=5.0, frac_noise=0.1, n_secondary_activators=0),
    "weak": dict(depth_mean=-2.5),
}


def toy(name: str, seed: int = 0):
    """Simulated toy with peaks that are open in at least one cell (the C++ crashes on empty peaks)."""
    from seqatac.simulate import simulate_atac

    sim = simulate_atac(
        "tiny", random_state=seed, rna=False, n_cells=300, n_peaks=400, n_cell_types=3, n_batches=1,
        n_trajectories=0, n_genes=10, n_truth_peaks=100, **TOYS[name],
    )  # fmt: skip
    keep = np.asarray((sim.atac.X > 0).sum(axis=0)).ravel() > 0
    sim.atac = sim.atac[:, keep].copy()
    return sim


def purity(X: np.ndarray, labels, k: int = 15) -> float:
    from seqatac.metrics import label_score

    X = X / np.linalg.norm(X, axis=1, keepdims=True)
    return float(label_score(X, np.asarray(labels), k=k))


# ============================================================================================ speed


def speed_worker(toy_name: str, seed: int, threads: int, epochs: int) -> dict:
    """One timed run in this (fresh) process; prints a JSON line."""
    import torch
    from seqatac.models.cellspace import CellSpace

    sim = toy(toy_name, seed)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    model = CellSpace(sim.atac, sim.genome, random_state=seed)
    started = time.perf_counter()
    model.fit(epochs, random_state=seed, n_threads=threads, verbose=False)
    seconds = time.perf_counter() - started
    n_examples = len(model._data.train_events) * model.config.examples_per_event * epochs
    return {
        "implementation": "seqatac",
        "toy": toy_name,
        "seed": seed,
        "threads": threads,
        "examples": n_examples,
        "seconds": seconds,
        "examples_per_s": n_examples / seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_before_model_mb": rss_before,
        "memory": model.memory_report(),
        "purity15": purity(model.get_latent_representation(), sim.atac.obs["cell_type"]),
        "final_loss": model.history["loss"][-1],
        "torch_threads_outside_fit": torch.get_num_threads(),
    }


def cpp_run(binary: str, toy_name: str, seed: int, threads: int, epochs: int) -> dict:
    """The authors' C++ on the same toy (``-thread`` counts the norm-truncation thread, so workers + 1)."""
    import pandas as pd
    from seqatac.data import parse_regions

    sim = toy(toy_name, seed)
    adata = sim.atac
    with tempfile.TemporaryDirectory() as tmp:
        matrix = adata.X.tocoo()
        with open(f"{tmp}/m.mtx", "w") as handle:  # no comment line: the C++ reads the size from line 2
            handle.write(f"%%MatrixMarket matrix coordinate pattern general\n{adata.n_obs} {adata.n_vars} {matrix.nnz}\n")
            handle.writelines(f"{r + 1} {c + 1}\n" for r, c in zip(matrix.row, matrix.col))
        regions = parse_regions(adata.var)
        with open(f"{tmp}/p.fa", "w") as handle:
            for i, (chrom, start, end) in enumerate(zip(regions["chrom"], regions["start"], regions["end"])):
                handle.write(f">p{i}\n{sim.genome.fetch(chrom, start, end)}\n")
        command = [binary, "-output", f"{tmp}/cs", "-cpMat", f"{tmp}/m.mtx", "-peaks", f"{tmp}/p.fa",
                   "-epoch", str(epochs), "-thread", str(threads + 1)]
        started = time.perf_counter()
        completed = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True)  # GNU time
        seconds = time.perf_counter() - started
        if completed.returncode:
            raise RuntimeError(f"C++ CellSpace failed: {completed.stderr[-2000:]}")
        rss_kb = next(int(line.split()[-1]) for line in completed.stderr.splitlines() if "Maximum resident" in line)
        table = pd.read_csv(f"{tmp}/cs.tsv", sep="\t", header=None, index_col=0)
    cells = table.loc[[f"__label__C{i + 1}" for i in range(adata.n_obs)]].to_numpy()
    n_examples = adata.n_vars * 20 * epochs
    return {
        "implementation": "authors_cpp",
        "toy": toy_name,
        "seed": seed,
        "threads": threads,
        "examples": n_examples,
        "seconds": seconds,
        "examples_per_s": n_examples / seconds,
        "peak_rss_mb": rss_kb / 1024,
        "purity15": purity(cells, adata.obs["cell_type"]),
    }


def speed_section(args) -> dict:
    runs = []
    for toy_name in ("strong", "weak"):
        for seed in args.seeds:
            for threads in (1, 2):
                command = [sys.executable, __file__, "--worker", toy_name, str(seed), str(threads), str(args.toy_epochs)]
                output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
                runs.append(json.loads(output.strip().splitlines()[-1]))
                print(f"  seqatac {toy_name} seed {seed} threads {threads}: {runs[-1]['examples_per_s']:,.0f} ex/s, "
                      f"purity {runs[-1]['purity15']:.3f}", flush=True)
                if args.cpp and seed == args.seeds[0]:  # the C++ is slow: one seed, same toy, same load
                    runs.append(cpp_run(args.cpp, toy_name, seed, threads, args.toy_epochs))
                    print(f"  C++     {toy_name} seed {seed} threads {threads}: "
                          f"{runs[-1]['examples_per_s']:,.0f} ex/s, purity {runs[-1]['purity15']:.3f}", flush=True)
    summary = {}
    for implementation in sorted({r["implementation"] for r in runs}):
        for threads in (1, 2):
            selected = [r for r in runs if r["implementation"] == implementation and r["threads"] == threads]
            summary[f"{implementation}_{threads}_threads"] = {
                "n_runs": len(selected),
                "examples_per_s_median": float(np.median([r["examples_per_s"] for r in selected])),
                "peak_rss_mb_max": float(max(r["peak_rss_mb"] for r in selected)),
                **{f"purity15_{t}": float(np.mean([r["purity15"] for r in selected if r["toy"] == t])) for t in TOYS},
            }
    plot_speed(runs)
    if args.cpp:  # speed-up on the runs both made (same toys, seed, thread count, back to back)
        for threads in (1, 2):
            pairs = [(o["examples_per_s"], c["examples_per_s"]) for o in runs for c in runs
                     if o["implementation"] == "seqatac" and c["implementation"] == "authors_cpp"
                     and (o["toy"], o["seed"], o["threads"]) == (c["toy"], c["seed"], c["threads"]) == (o["toy"], o["seed"], threads)]
            summary[f"speedup_{threads}_threads"] = [ours / theirs for ours, theirs in pairs]
    return {"runs": runs, "summary": summary}


def plot_speed(runs: list[dict]) -> None:
    """Bar chart of examples/s per implementation and thread count (median over runs, log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, values = [], []
    for implementation, name in (("authors_cpp", "authors' C++"), ("seqatac", "seqatac")):
        for threads in (1, 2):
            selected = [r["examples_per_s"] for r in runs if r["implementation"] == implementation and r["threads"] == threads]
            if selected:
                labels.append(f"{name}\n{threads} thread{'s' if threads > 1 else ''}")
                values.append(float(np.median(selected)))
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    bars = ax.bar(labels, values, color=["#999999"] * (len(values) - 2) + ["#1f77b4"] * 2)
    ax.bar_label(bars, labels=[f"{v:,.0f}" for v in values], fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("examples / s (median)")
    ax.set_title("CellSpace training speed at the authors' defaults\n(toy 400 events × 300 cells, shared 2-core machine)", fontsize=9)
    fig.tight_layout()
    fig.savefig(RESULTS / "cellspace_speed.png", dpi=110)
    plt.close(fig)


# ============================================================================================ medium


def embedding_metrics(X: np.ndarray, labels: np.ndarray, batch: np.ndarray) -> dict:
    from seqatac.metrics import (
        cluster_at_n_labels,
        ilisi_knn,
        label_score,
        nmi_ari_cluster_labels_leiden,
    )

    scores = label_score(X, labels, k=[10, 50, 100])
    at_k = cluster_at_n_labels(X, labels, random_state=0)
    sweep = nmi_ari_cluster_labels_leiden(X, labels, random_state=0)
    return {
        **{f"label_score_k{k}": float(v) for k, v in scores.items()},
        "ari_leiden_at_k": at_k["ari"],
        "nmi_leiden_at_k": at_k["nmi"],
        "ari_leiden_sweep": float(sweep["ari"]),
        "nmi_leiden_sweep": float(sweep["nmi"]),
        "ilisi_batch": float(ilisi_knn(X, batch)),
    }


def train_cellspace(adata, genome, epochs: int, threads: int, checkpoint: Path | None, params: dict):
    from seqatac.models.cellspace import CellSpace

    model = CellSpace(adata, genome, random_state=0, **params)
    model.fit(epochs, random_state=0, n_threads=threads, verbose=True, checkpoint_dir=checkpoint,
              resume=checkpoint is not None)
    return model


def tf_names(activity, truth):
    """TF activity (cells × panel motifs) with its columns renamed from JASPAR motif names to the simulator's TFs."""
    tfs = truth["tfs"]
    return activity.rename(columns=dict(zip(tfs["motif_name"], tfs["tf"])))


def driver_summary(activity, labels, truth) -> dict:
    """Rank of each type's primary driver TF in ``activity`` (TF-named columns), and the top-1/top-3 fractions."""
    from seqatac.metrics import driver_tf_recovery

    primary = {cell_type: [drivers[0]] for cell_type, drivers in truth["drivers"].items()}
    recovery = driver_tf_recovery(activity, labels, primary)
    return {
        "ranks": {t: int(r) for t, r in recovery["best_rank"].items()},
        "top1_fraction": float(recovery["top1"].mean()),
        "top3_fraction": float(recovery["top3"].mean()),
        "n_candidate_tfs": int(activity.shape[1]),
    }


def motif_analyses(model, adata, genome, truth, panel, resolution: float, top_kmers: int) -> dict:
    """Driver-TF ranks from the panel's TF activity, and de novo motifs from Leiden clusters and true types:
    PFMs of the 10-mers (the paper's recipe, ``*_10mer_pfms``) and PFMs refined on the peaks' sites."""
    from seqatac import tl
    from seqatac.data import jaspar
    from seqatac.data._regions import parse_regions

    tfs = truth["tfs"]
    labels = adata.obs["cell_type"].to_numpy()
    activity = tf_names(model.get_tf_activity(panel), truth)
    out = {"driver_tf": driver_summary(activity, labels, truth)}
    model.write_to_adata(adata, tf_activity=activity)
    tl.cell_graph(adata, n_neighbors=30)
    tl.leiden(adata, resolution=resolution, random_state=0)
    tl.merge_small_clusters(adata, min_cells=50)
    planted = tfs[tfs["used"]]
    known = jaspar()
    regions = parse_regions(adata.var)
    sequences = [genome.fetch(r.chrom, r.start, r.end) for r in regions.itertuples()]
    groupings = {"denovo_leiden": adata.obs["leiden"].astype(str).to_numpy(), "denovo_true_types": labels}
    for (name, groups), refine in itertools.product(groupings.items(), (False, True)):
        name = name if refine else f"{name}_10mer_pfms"
        started = time.perf_counter()
        denovo = tl.denovo_motifs(model, groups, top_kmers=top_kmers, known_motifs=known,
                                  sequences=sequences if refine else None)
        seconds = time.perf_counter() - started
        # rank of each planted motif among all JASPAR motifs, for its best-matching de novo motif
        rank = {tf: None for tf in planted["tf"]}
        if denovo.motifs:
            similarity = tl.motif_similarity(denovo.motifs, known)
            ranks = similarity.rank(axis=1, ascending=False, method="min")
            for row in planted.itertuples():
                rank[row.tf] = int(ranks[row.motif_id].min())
        activators = list(planted.loc[planted["role"] == "activator", "tf"])
        hit = lambda tfs_, top: float(np.mean([rank[t] is not None and rank[t] <= top for t in tfs_]))
        out[name] = {
            "seconds": seconds,
            "n_groups": int(len(set(groups))),
            "n_motifs": len(denovo.motifs),
            "planted_best_rank": rank,
            "planted_top1_fraction": hit(planted["tf"], 1),
            "planted_top3_fraction": hit(planted["tf"], 3),
            "activators_top1_fraction": hit(activators, 1),
            "activators_top3_fraction": hit(activators, 3),
            "table": denovo.table.drop(columns=["kmers"]).reset_index().to_dict(orient="records") if denovo.motifs else [],
        }
        print(f"  {name}:", {k: v for k, v in out[name].items() if k != "table"}, flush=True)
    print("  drivers:", json.dumps(out["driver_tf"]), flush=True)
    return out


def medium_section(args) -> dict:
    from seqatac import tl
    from seqatac.baselines import lsi
    from seqatac.data import jaspar
    from seqatac.simulate import simulate_atac

    result: dict = {"preset": args.preset, "seed": args.medium_seed, "threads": args.threads}
    sim = simulate_atac(args.preset, random_state=args.medium_seed, rna=False)
    adata, truth = sim.atac, sim.truth
    labels = adata.obs["cell_type"].to_numpy()
    batch = adata.obs["batch"].to_numpy()
    lsi(adata, random_state=0)
    result["lsi"] = embedding_metrics(adata.obsm["X_lsi"], labels, batch)
    print("  LSI:", json.dumps(result["lsi"]), flush=True)
    panel = jaspar(ids=list(truth["tfs"]["motif_id"]))
    tl.variable_peaks(adata, n_top=args.variable_peaks, use_rep="X_lsi", random_state=0)
    variable = adata[:, adata.var["variable"].to_numpy()].copy()
    runs = {  # name: (peaks, epochs, hyper-parameters other than the authors' defaults)
        "cellspace_variable_peaks": (variable, args.epochs, {}),
        "cellspace_all_peaks": (adata, args.epochs_all, {}),
        "cellspace_variable_peaks_kmers_only": (variable, args.epochs, {"ngrams": 1}),
        # whole-peak context per example: 300-bp windows of the 500-bp peaks
        "cellspace_variable_peaks_kmers_only_L300": (variable, args.epochs, {"ngrams": 1, "sample_length": 300}),
    }
    for name, (data, epochs, params) in runs.items():
        if epochs <= 0 or (args.runs and name not in args.runs):
            continue
        checkpoint = Path(args.checkpoint_dir) / name if args.checkpoint_dir else None
        model = train_cellspace(data, sim.genome, epochs, args.threads, checkpoint, params)
        cells = model.get_latent_representation()
        unit = cells / np.linalg.norm(cells, axis=1, keepdims=True)  # cosine geometry for the euclidean metrics
        run = {
            "n_peaks": int(data.n_vars),
            "epochs": epochs,
            "params": params,
            "train_seconds": float(sum(model.history["seconds"])),  # over all sessions of a resumed run
            "examples_per_s_median": float(np.median(model.history["examples_per_s"])),
            "memory": model.memory_report(),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "history": model.history,
            "metrics": embedding_metrics(unit, labels, batch),
            "command": " ".join(["python benchmarks/cellspace.py", *sys.argv[1:]]),
        }
        print(f"  {name}:", json.dumps(run["metrics"]), flush=True)
        run.update(motif_analyses(model, data, sim.genome, truth, panel, args.resolution, args.top_kmers))
        result[name] = run
        if name == "cellspace_variable_peaks":
            suffix = "" if (args.preset, args.medium_seed) == ("medium", 0) else f"_{args.preset}_seed{args.medium_seed}"
            plot_medium(model, data, truth, panel, suffix)
    return result


def plot_medium(model, adata, truth, panel, suffix: str) -> None:
    """Joint cells + motifs embedding and training loss of the main run (``suffix`` names other data's plots)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from seqatac import pl

    names = dict(zip(truth["tfs"]["motif_name"], truth["tfs"]["tf"]))
    subset = adata[np.random.default_rng(0).choice(adata.n_obs, size=min(3000, adata.n_obs), replace=False)].copy()
    motif_embedding = model.get_motif_embedding(panel)
    motif_embedding.index = [names.get(c, c) for c in motif_embedding.index]
    pl.joint_embedding(subset, motif_embedding, color="cell_type", method="auto", random_state=0,
                       title="CellSpace (medium, variable peaks): 3,000 cells and the simulator's TF motifs",
                       save=RESULTS / f"cellspace_joint_embedding{suffix}.png")
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(np.arange(1, len(model.history["loss"]) + 1), model.history["loss"], marker="o", ms=3)
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean loss per example")
    ax.set_title("CellSpace training loss (medium, variable peaks)")
    fig.tight_layout()
    fig.savefig(RESULTS / f"cellspace_loss{suffix}.png", dpi=110)
    plt.close(fig)


# ============================================================================================ main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", nargs="+", default=["speed", "medium"], choices=["speed", "medium"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="toy seeds (speed section)")
    parser.add_argument("--toy-epochs", type=int, default=10, help="10 epochs = 80,000 examples on the toy")
    parser.add_argument("--epochs", type=int, default=50, help="epochs on medium's variable peaks (authors' default)")
    parser.add_argument("--epochs-all", type=int, default=20, help="epochs on all of medium's peaks (0 = skip)")
    parser.add_argument("--variable-peaks", type=int, default=10_000, help="variable peaks kept for the main run")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--medium-seed", type=int, default=0)
    parser.add_argument("--preset", default="medium", help="simulator preset of the quality section")
    parser.add_argument("--out", type=Path, default=OUT, help="JSON to write (sections merged into it)")
    parser.add_argument("--resolution", type=float, default=1.0, help="Leiden resolution for de novo groups")
    parser.add_argument("--top-kmers", type=int, default=30, help="10-mers kept per group for de novo motifs")
    parser.add_argument("--checkpoint-dir", default=None, help="checkpoint (and resume) the medium run there")
    parser.add_argument("--runs", nargs="+", default=None, help="medium runs to (re)do, by name (default all)")
    parser.add_argument("--cpp", default=None, help="path of the authors' CellSpace binary, for the comparison")
    parser.add_argument("--replot-speed", action="store_true", help="only redraw cellspace_speed.png")
    parser.add_argument("--worker", nargs=4, metavar=("TOY", "SEED", "THREADS", "EPOCHS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.replot_speed:  # redraw the speed chart from the JSON, without measuring again
        plot_speed(json.loads(args.out.read_text())["speed"]["runs"])
        return 0
    if args.worker:
        toy_name, seed, threads, epochs = args.worker
        print(json.dumps(speed_worker(toy_name, int(seed), int(threads), int(epochs))))
        return 0
    out = args.out
    results = json.loads(out.read_text()) if out.is_file() else {}
    results["machine"] = {"platform": platform.platform(), "python": platform.python_version(),
                          "note": "2 shared cores unless stated otherwise; times are upper bounds under load"}
    for section in args.sections:
        print(f"== {section}", flush=True)
        started = time.perf_counter()
        if section == "speed":
            results[section] = speed_section(args)
        else:  # runs left out by --runs keep their previous results
            results[section] = {**results.get(section, {}), **medium_section(args)}
        results[section]["command"] = " ".join(["python benchmarks/cellspace.py", *sys.argv[1:]])
        results[section]["wall_seconds"] = time.perf_counter() - started
        RESULTS.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
