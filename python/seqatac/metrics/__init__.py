"""Benchmarking metrics: scib-metrics 0.5 (names, neighbourhood sizes, scalings), the papers' own
scores, and sequence-specific scores against simulator ground truth."""

from ._batch import graph_connectivity, ilisi_knn, kbet_per_label, silhouette_batch
from ._benchmark import benchmark, evaluate_embedding, scale_table
from ._bio import (
    LEIDEN_RESOLUTIONS,
    clisi_knn,
    isolated_labels,
    leiden_clusters,
    leiden_graph,
    nmi_ari_cluster_labels_kmeans,
    nmi_ari_cluster_labels_leiden,
    silhouette_label,
)
from ._lisi import lisi_knn
from ._neighbors import Neighbors, compute_neighbors
from ._scores import (
    annotation_metrics,
    auroc_auprc,
    cluster_at_n_labels,
    expression_metrics,
    label_score,
    neighbor_score,
)
from ._sequence import (
    denoised_correlation,
    driver_tf_recovery,
    ism_position_auroc,
    ism_position_auroc_per_sequence,
    tf_activity_correlation,
)
from ._stats import auroc_auprc_rows

__all__ = [
    "Neighbors",
    "compute_neighbors",
    "leiden_graph",
    "leiden_clusters",
    # bio conservation
    "nmi_ari_cluster_labels_leiden",
    "nmi_ari_cluster_labels_kmeans",
    "LEIDEN_RESOLUTIONS",
    "silhouette_label",
    "isolated_labels",
    "clisi_knn",
    "lisi_knn",
    # batch correction
    "silhouette_batch",
    "ilisi_knn",
    "kbet_per_label",
    "graph_connectivity",
    # tables
    "benchmark",
    "scale_table",
    "evaluate_embedding",
    # papers' scores
    "label_score",
    "neighbor_score",
    "cluster_at_n_labels",
    "auroc_auprc",
    "auroc_auprc_rows",
    "annotation_metrics",
    "expression_metrics",
    # sequence-specific
    "tf_activity_correlation",
    "driver_tf_recovery",
    "ism_position_auroc",
    "ism_position_auroc_per_sequence",
    "denoised_correlation",
]
