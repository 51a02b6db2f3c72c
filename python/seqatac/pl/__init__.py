"""Plots (matplotlib) and the self-contained HTML report that embeds them."""

from ._embedding import embedding
from ._heatmap import confusion_matrix, tf_activity_heatmap
from ._joint_embedding import joint_embedding
from ._logo import motif_logo, motif_matches
from ._report import figure_to_data_uri, html_report
from ._training import training_curves

__all__ = [
    "embedding",
    "joint_embedding",
    "tf_activity_heatmap",
    "confusion_matrix",
    "motif_logo",
    "motif_matches",
    "training_curves",
    "html_report",
    "figure_to_data_uri",
]
