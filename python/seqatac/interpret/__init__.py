"""Model-agnostic sequence analyses (after tangermeme): predictions, in-silico mutagenesis, TF activity by
motif insertion and denoised accessibility, for any model that follows one small protocol.

The protocol is a ``torch.nn.Module`` whose ``forward`` maps one-hot sequences ``(batch, 4, L)`` to outputs
``(batch, ...)`` (for the seqatac models: one value per cell). :func:`denoise` also needs the model object
to offer ``predictor("denoised")`` (such a module), ``genome``, ``seq_len`` and ``cell_names``. Nothing here
imports a model: the model classes call these functions, and :mod:`seqatac.tl` re-exports them.
"""

from ._denoise import denoise, select_peaks
from ._ism import ism
from ._predict import check_sequences, iter_predict, predict, preserve_model_state
from ._tf_activity import shuffled_backgrounds, tf_activity

__all__ = [
    "predict",
    "iter_predict",
    "check_sequences",
    "preserve_model_state",
    "ism",
    "tf_activity",
    "shuffled_backgrounds",
    "denoise",
    "select_peaks",
]
