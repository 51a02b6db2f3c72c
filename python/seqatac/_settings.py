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
    """

    verbosity: int = 2

    @property
    def log_level(self) -> int:
        import logging

        return {0: logging.ERROR, 1: logging.WARNING, 2: logging.INFO}.get(self.verbosity, logging.DEBUG)


settings = Settings()
