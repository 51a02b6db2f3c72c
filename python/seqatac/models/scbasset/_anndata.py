"""Writing an scBasset model's results into an AnnData of its cells."""

from __future__ import annotations

import json

import pandas as pd
from anndata import AnnData

from ... import _keys
from ..._errors import SeqatacInputError
from ..._utils import jsonable
from ...data import Motif, motif_columns


def write_results(model, adata: AnnData | None, *, tf_activity: pd.DataFrame | None,
                  motifs: list[Motif] | None) -> None:
    """:meth:`ScBasset.write_to_adata` (documented there)."""
    adata = model._adata if adata is None else adata
    if adata is None or not pd.Index(adata.obs_names).equals(model.cell_names):
        raise SeqatacInputError(
            "write_to_adata needs an AnnData with exactly the model's cells in order; pass adata[model.cell_names]."
        )
    adata.obsm[_keys.SCBASSET_OBSM] = model.get_latent_representation()
    adata.obs[_keys.SCBASSET_INTERCEPT] = model.get_cell_intercept()
    uns = adata.uns.setdefault(_keys.SEQATAC_UNS, {}).setdefault(_keys.SCBASSET_UNS, {})
    uns["setup"] = dict(model.setup)
    uns["params"] = {"architecture": model.config.to_dict(), **jsonable(model.params)}
    uns["params"]["architecture"] = json.dumps(uns["params"]["architecture"])
    if "training" in uns["params"]:
        uns["params"]["training"] = json.dumps(uns["params"]["training"])
    if model.model_dir is not None:
        uns["model_dir"] = str(model.model_dir)
    if len(model.history):
        uns["history"] = model.history.copy()
    if tf_activity is not None:
        if not tf_activity.index.equals(model.cell_names):
            raise SeqatacInputError("tf_activity must be indexed by the model's cells (from get_tf_activity).")
        adata.obsm[_keys.SCBASSET_TF] = tf_activity
        if motifs is not None:
            uns["tf_motifs"] = pd.DataFrame({"column": motif_columns(motifs), "motif_id": [m.id for m in motifs],
                                             "motif_name": [m.name for m in motifs]})
