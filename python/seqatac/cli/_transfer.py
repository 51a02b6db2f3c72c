"""``seqatac transfer-labels``: label query cells from annotated reference cells in one shared embedding
(:func:`seqatac.tl.transfer_labels`: kNN vote or logistic regression), optionally embedding both together first."""

from __future__ import annotations

from pathlib import Path

from .. import _keys
from .._errors import SeqatacInputError
from .._utils import atomic_path, write_h5ad
from ._common import add_threads, check_new_obs_column, fraction, output_file, positive_int, read_h5ad, seed

#: the obsm key each --joint-embedding method writes by default, and the uns key of its run record
_JOINT_METHODS = {"spectral": ("X_spectral", "spectral"), "lsi": (_keys.LSI_OBSM, _keys.LSI_UNS)}
#: model embeddings whose uns record names the saved model that produced them
_MODEL_RECORDS = {_keys.SCBASSET_OBSM: _keys.SCBASSET_UNS, _keys.EPIFOUNDATION_OBSM: _keys.EPIFOUNDATION_UNS}

_RECIPE = (
    "Embeddings computed separately (one spectral or LSI run per file) have unrelated axes, so distances "
    "between them mean nothing. Recipe: embed reference and query together (--joint-embedding spectral: "
    "one run on the concatenated cells; both files need the same peaks), then vote; or, in Python, "
    "concatenate, run seqatac.baselines.spectral once, split and call seqatac.tl.transfer_labels."
)


def _embedding_origin(adata, key: str):
    """What produced ``obsm[key]``: ("run", spectrum) from a spectral/LSI run record, ("model", directory)
    from a saved scBasset/EpiFoundation model, or None when the file does not say."""
    import numpy as np

    uns_key = {obsm: uns for obsm, uns in _JOINT_METHODS.values()}.get(key, key)
    record = adata.uns.get(uns_key)
    if isinstance(record, dict):
        for spectrum in ("eigenvalues", "singular_values"):
            if spectrum in record:
                return "run", np.asarray(record[spectrum], dtype=float)
    if key in _MODEL_RECORDS:
        model_dir = adata.uns.get(_keys.SEQATAC_UNS, {}).get(_MODEL_RECORDS[key], {}).get("model_dir")
        if model_dir:
            return "model", str(model_dir)
    return None


def _check_shared_space(reference, query, key: str) -> None:
    """Refuse embeddings that the files do not show to be one space (one run, or one saved model)."""
    import numpy as np

    origins = [_embedding_origin(adata, key) for adata in (reference, query)]
    fix = ("Fix: pass --joint-embedding spectral to embed both together here, or --assume-shared-space if the "
           "query was projected into the reference's embedding (e.g. by the same trained model).")
    if None in origins:
        missing = " and ".join(name for name, origin in zip(("reference", "query"), origins) if origin is None)
        raise SeqatacInputError(
            f"cannot tell whether obsm[{key!r}] of reference and query is one shared space: the {missing} "
            f"file has no record of the run or model that made it. {fix}"
        )
    (kind_a, what_a), (kind_b, what_b) = origins
    if kind_a == kind_b and (np.array_equal(what_a, what_b) if kind_a == "run" else what_a == what_b):
        return
    if kind_a == kind_b == "run":
        made_by = "two separate embedding runs (their spectra differ)"
    else:
        made_by = " and ".join("a spectral/LSI run" if kind == "run" else f"the model in {what!r}"
                               for kind, what in origins)
    raise SeqatacInputError(
        f"obsm[{key!r}] of reference and query come from {made_by}, so they are not one space and a "
        f"label transfer between them would be meaningless. {fix}"
    )


def _check_embedding_present(reference, query, key: str) -> None:
    for name, adata in (("reference", reference), ("query", query)):
        if key not in adata.obsm:
            raise SeqatacInputError(
                f"the {name} has no obsm[{key!r}] (it has {sorted(adata.obsm)}). Fix: pass --joint-embedding "
                "spectral to embed reference and query together here (`seqatac spectral` or `seqatac lsi` run on "
                "each file separately gives two unrelated spaces), or --embedding-key with a key both files share."
            )


def _peak_keys(adata):
    import pandas as pd

    return pd.MultiIndex.from_frame(adata.var[[_keys.CHROM, _keys.START, _keys.END]].astype(str))


def _joint_embedding(reference, query, *, method: str, key: str, n_components: int, seed: int) -> None:
    """Embed reference and query cells in one run of ``method``; write the rows back to each ``obsm[key]``."""
    import anndata as ad
    from scipy import sparse

    from ..baselines import lsi, spectral

    reference_peaks, query_peaks = _peak_keys(reference), _peak_keys(query)
    order = query_peaks.get_indexer(reference_peaks)
    if len(reference_peaks) != len(query_peaks) or (order < 0).any():
        shared = int(reference_peaks.isin(query_peaks).sum())
        raise SeqatacInputError(
            f"reference and query have different peaks ({len(reference_peaks):,} and {len(query_peaks):,}, "
            f"{shared:,} in both); a joint embedding needs the same features in both. Fix: count both samples "
            "on one peak set (e.g. peaks called on the merged fragments, or the query counted in the "
            f"reference's peaks), or subset both files to the {shared:,} shared peaks."
        )
    joint = ad.AnnData(sparse.vstack([reference.X, sparse.csr_matrix(query.X)[:, order]], format="csr"))
    embed = spectral if method == "spectral" else lsi
    embed(joint, n_components=n_components, key_added=key, random_state=seed)
    embedding = joint.obsm[key]
    reference.obsm[key] = embedding[: reference.n_obs]
    query.obsm[key] = embedding[reference.n_obs :]
    record_key = _JOINT_METHODS[method][1] if key == _JOINT_METHODS[method][0] else key
    # the run record without its per-cell (degree) and per-peak (features, in reference order) arrays
    query.uns[record_key] = {name: value for name, value in joint.uns[record_key].items()
                             if name not in ("degree", "features")}
    query.uns[record_key]["joint_with_reference_cells"] = reference.n_obs


def _transfer_labels(args) -> None:
    import pandas as pd

    from ..data import read_atac
    from ..tl import transfer_labels

    if args.csv is not None and args.csv.resolve() == args.out.resolve():
        raise SeqatacInputError("--csv and --out name the same file. Fix: give the CSV another path.")
    read = read_atac if args.joint_embedding else read_h5ad  # a joint embedding needs validated counts
    reference, query = read(args.reference), read(args.query)
    if args.label_key not in reference.obs:
        raise SeqatacInputError(
            f"the reference has no obs column {args.label_key!r} (it has {list(reference.obs.columns)}). "
            "Fix: pass --label-key with the column that holds the reference's cell labels."
        )
    if args.joint_embedding:
        key = args.embedding_key or _JOINT_METHODS[args.joint_embedding][0]
        _joint_embedding(reference, query, method=args.joint_embedding, key=key, n_components=args.n_components,
                         seed=args.seed)
    else:
        key = args.embedding_key or "X_spectral"
        _check_embedding_present(reference, query, key)
        if not args.assume_shared_space:
            _check_shared_space(reference, query, key)
    key_added = args.key_added or f"{args.label_key}_transferred"
    check_new_obs_column(query, key_added, data=f"the query {str(args.query)!r}")
    transfer_labels(reference, query, embedding_key=key, label_key=args.label_key, method=args.method,
                    n_neighbors=args.k, min_confidence=args.min_confidence, metric=args.metric, key_added=key_added)
    query.uns[key_added]["params"]["joint_embedding"] = args.joint_embedding or "none"
    write_h5ad(query, args.out)
    confidence_key = f"{key_added}_confidence"
    if args.csv is not None:
        table = pd.DataFrame({key_added: query.obs[key_added].astype(str), confidence_key: query.obs[confidence_key]},
                             index=pd.Index(query.obs_names, name="cell"))
        with atomic_path(args.csv) as tmp:
            table.to_csv(tmp)
    counts = query.obs[key_added].value_counts()
    print(f"labelled {query.n_obs:,} query cells into obs['{key_added}'] (+ '{confidence_key}') in {args.out}"
          f"{f' and {args.csv}' if args.csv else ''}: {counts[counts > 0].to_dict()}")


def add_commands(commands) -> None:
    """Register ``transfer-labels``."""
    sub = commands.add_parser(
        "transfer-labels", help="label query cells from annotated reference cells (kNN vote or logistic regression)",
        description="Label each query cell from the annotated reference cells in one embedding both files share "
                    "(a vote of its --k nearest reference cells, or a logistic regression), with a confidence "
                    "per cell (below --min-confidence: 'unassigned'). Writes the query h5ad with obs[KEY] and "
                    f"obs[KEY_confidence]. {_RECIPE}")
    sub.add_argument("--reference", type=Path, required=True, help="annotated cells (.h5ad)")
    sub.add_argument("--query", type=Path, required=True, help="cells to label (.h5ad)")
    sub.add_argument("--label-key", required=True, help="obs column of the reference's labels")
    sub.add_argument("--embedding-key", default=None,
                     help="obsm key of the shared embedding (default: X_spectral, or the --joint-embedding "
                          "method's key)")
    sub.add_argument("--joint-embedding", default=None, choices=sorted(_JOINT_METHODS),
                     help="embed reference + query together first (same peaks needed); the query's embedding "
                          "is written to the output")
    sub.add_argument("--n-components", type=positive_int, default=30, help="components of --joint-embedding")
    sub.add_argument("--assume-shared-space", action="store_true",
                     help="skip the check that both embeddings come from one run or one saved model")
    sub.add_argument("--method", default="knn", choices=["knn", "logistic"],
                     help="knn: vote of the --k nearest reference cells, confidence = vote share (default); "
                          "logistic: logistic regression on the embedding, confidence = class probability (the "
                          "more accurate on the real benchmark sets)")
    sub.add_argument("--k", "--n-neighbors", dest="k", type=positive_int, default=15,
                     help="reference cells voting per query cell (knn; default: 15)")
    sub.add_argument("--min-confidence", type=fraction, default=0.5,
                     help="vote share below which a cell is 'unassigned' (default: 0.5; 0 labels every cell)")
    sub.add_argument("--metric", default="euclidean", choices=["euclidean", "cosine"], help="distance of knn")
    sub.add_argument("--key-added", default=None, help="obs column written (default: LABEL_KEY_transferred)")
    sub.add_argument("--seed", type=seed, default=0, help="seed of --joint-embedding")
    sub.add_argument("--csv", type=output_file, default=None, help="also write cell, label, confidence as CSV")
    add_threads(sub)
    sub.add_argument("--out", type=output_file, required=True, help="query h5ad to write")
    sub.set_defaults(func=_transfer_labels)
