"""The exception types rnnlab raises for bad input, bad files and failed work.

Every error a user can cause is one of these. Each also subclasses the built-in type
that fits (``ValueError``, ``OSError``, ``FileNotFoundError``), so ``except ValueError``
written against plain Python keeps working. Messages quote the bad value and say what
is allowed.

    RnnlabError
    ├── ConfigError (ValueError)            a bad argument, option or setting
    ├── ShapeError (ValueError)             a tensor whose shape does not fit
    ├── DataError (ValueError)              a malformed file or record (names line/offset)
    ├── DataNotFoundError (FileNotFoundError)  a dataset that is not on disk
    ├── DownloadError (OSError)             a download that failed or did not verify
    ├── UnsafeArchiveError (ValueError)     an archive member that would escape its folder
    ├── CheckpointError (ValueError)        a checkpoint that is corrupt or incompatible
    ├── TrainingError (RuntimeError)        training that cannot go on (NaN loss, ...)
    └── MissingDependencyError (ImportError)  an optional extra that is not installed
"""

from __future__ import annotations


class RnnlabError(Exception):
    """Base class of every error rnnlab raises on purpose."""


class ConfigError(RnnlabError, ValueError):
    """A bad argument, option or configuration value."""


class ShapeError(RnnlabError, ValueError):
    """A tensor's shape does not fit what the function expects."""


class DataError(RnnlabError, ValueError):
    """A malformed data file or record; the message names the line or byte offset."""


class DataNotFoundError(RnnlabError, FileNotFoundError):
    """A dataset or file is not where rnnlab looked; the message says where to put it."""


class DownloadError(RnnlabError, OSError):
    """A download failed or its content did not verify; names the URL and what was expected."""


class UnsafeArchiveError(RnnlabError, ValueError):
    """An archive member would land outside the target folder, or is a link or device."""


class CheckpointError(RnnlabError, ValueError):
    """A checkpoint is corrupt, truncated, tampered with or from an incompatible version."""


class TrainingError(RnnlabError, RuntimeError):
    """Training cannot continue, for example because the loss became NaN or Inf."""


class MissingDependencyError(RnnlabError, ImportError):
    """An optional dependency is missing; the message names the ``pip install`` extra."""


def choice_error(name: str, value: object, allowed) -> ConfigError:
    """Build the ConfigError for a value that is not one of the allowed choices.

    Example:
        >>> str(choice_error("activation", "sigmoidz", ["tanh", "relu"]))
        "activation='sigmoidz' is not allowed; choose one of: 'tanh', 'relu'"
    """
    options = ", ".join(repr(a) for a in allowed)
    return ConfigError(f"{name}={value!r} is not allowed; choose one of: {options}")
