"""Package-wide settings (``seqatac.settings``)."""

from dataclasses import dataclass


@dataclass
class Settings:
    """Run-time settings.

    Attributes
    ----------
    verbosity
        0 = errors only, 1 = warnings, 2 = info (default), 3 = debug. Controls the level of the
        ``seqatac`` logger only when the user has not configured logging themselves; progress bars are
        governed by each function's ``verbose`` argument.
    deterministic
        False (default). True makes model training use deterministic kernels only, meant to make a seed
        give the same weights on GPU as well (not verified on a GPU yet):
        ``torch.use_deterministic_algorithms(True)`` (an operation with no deterministic kernel raises a
        RuntimeError naming it), cuDNN deterministic without benchmarking, ``CUBLAS_WORKSPACE_CONFIG=:4096:8``
        when unset, and one CellSpace worker thread by default instead of Hogwild threads. Applied while
        ``fit``/``pretrain`` train, then restored. CPU training with a fixed ``n_threads`` is deterministic
        without it. See docs/determinism.md.
    """

    verbosity: int = 2
    deterministic: bool = False

    @property
    def log_level(self) -> int:
        import logging

        return {0: logging.ERROR, 1: logging.WARNING, 2: logging.INFO}.get(self.verbosity, logging.DEBUG)


settings = Settings()
