"""What the Python engine prints while R drives it through reticulate.

reticulate sends Python's ``sys.stdout``/``sys.stderr`` straight to the R console, past R's condition system:
``suppressMessages()`` cannot silence a progress bar and ``suppressWarnings()`` cannot silence a Python warning.
:class:`OutputCapture` takes them over for the length of one R call: without ``verbose`` the printed output is
dropped, and warnings are always recorded so that R can raise them again as R warnings (which R users can
handle like any other).
"""

from __future__ import annotations

import contextlib
import io
import warnings

from .._settings import settings


class OutputCapture:
    """Capture printed output and warnings between :meth:`start` and :meth:`stop`.

    Parameters
    ----------
    verbose
        Let printed output (progress bars, messages) through to the console; ``False`` drops it.
        Warnings are recorded either way.

    Examples
    --------
    >>> capture = OutputCapture(verbose=False)
    >>> capture.start()
    >>> ...                      # calls into seqatac
    >>> messages = capture.stop()  # the warnings, as "Category: message" strings
    """

    def __init__(self, verbose: bool = False):
        self.verbose = bool(verbose)
        self.output = io.StringIO()
        self._stack: contextlib.ExitStack | None = None
        self._caught: list | None = None
        self._verbosity: int | None = None

    def start(self) -> OutputCapture:
        """Begin capturing (a second call without :meth:`stop` in between is refused)."""
        if self._stack is not None:
            raise RuntimeError("OutputCapture.start() called twice without stop().")
        stack = contextlib.ExitStack()
        self._caught = stack.enter_context(warnings.catch_warnings(record=True))
        warnings.simplefilter("always")
        if not self.verbose:
            stack.enter_context(contextlib.redirect_stdout(self.output))
            stack.enter_context(contextlib.redirect_stderr(self.output))
            self._verbosity = settings.verbosity
            settings.verbosity = min(settings.verbosity, 1)
        self._stack = stack
        return self

    def stop(self) -> list[str]:
        """End capturing; the warnings raised meanwhile, each as ``"Category: message"``, in order."""
        if self._stack is None:
            return []
        self._stack.close()
        self._stack = None
        if self._verbosity is not None:
            settings.verbosity = self._verbosity
            self._verbosity = None
        caught, self._caught = self._caught or [], None
        messages = []
        for record in caught:
            text = f"{record.category.__name__}: {record.message}"
            if text not in messages:
                messages.append(text)
        return messages

    @property
    def printed(self) -> str:
        """The output dropped so far (empty with ``verbose``)."""
        return self.output.getvalue()
