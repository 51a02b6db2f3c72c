"""Analyses on top of embeddings and models (scanpy-style: write into the AnnData, return None or a copy).

The model-agnostic sequence analyses live in :mod:`seqatac.interpret` and are re-exported here.
"""

from ..data import codes_to_onehot, compare_motifs, motif_columns, motif_similarity
from ..interpret import denoise, ism, predict, shuffled_backgrounds, tf_activity
from ..models.cellspace import DenovoMotifs, denovo_motifs
from ._graph import cell_graph, leiden, merge_clusters, merge_small_clusters, snn_graph
from ._layout import layout_2d
from ._transfer import transfer_labels
from ._variable_peaks import variable_peaks

__all__ = [
    "snn_graph",
    "cell_graph",
    "leiden",
    "merge_small_clusters",
    "merge_clusters",
    "denovo_motifs",
    "compare_motifs",
    "motif_similarity",
    "DenovoMotifs",
    "variable_peaks",
    "layout_2d",
    "transfer_labels",
    "predict",
    "codes_to_onehot",
    "ism",
    "tf_activity",
    "shuffled_backgrounds",
    "motif_columns",
    "denoise",
]
