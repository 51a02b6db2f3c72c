"""The seeds of an EpiFoundation model: its ``random_state`` and the per-purpose seeds derived from it."""

from __future__ import annotations

import numpy as np

from ..._utils import check_random_state
from .. import _training as T


def _resolve_seed(random_state) -> int:
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        return int(random_state)
    return T.child_seed(check_random_state(random_state))


def _derived_seed(seed: int, purpose: int) -> int:
    """A 63-bit seed for one purpose (weights, a task's training, prediction samples) of a model seed."""
    return int(np.random.SeedSequence([int(seed), int(purpose)]).generate_state(1, dtype=np.uint64)[0]) >> 1
