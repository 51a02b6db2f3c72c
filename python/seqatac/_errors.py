"""Exception and warning classes raised by seqatac."""


class SeqatacInputError(ValueError):
    """Input data, files or arguments that seqatac cannot use.

    The message always says what is wrong and how to fix it.
    """


class SeqatacWarning(UserWarning):
    """Warnings issued by seqatac (filter them with ``warnings.filterwarnings``)."""
