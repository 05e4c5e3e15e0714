"""The word2vec job: check the corpus and the output file, train on threads or processes, write.

Everything a user can get wrong is checked before the first word is read, so a refused run
changes nothing on disk and a run that trains is one whose vectors can be saved::

    corpus paths exist?  out free (or overwrite)?  out's folder writable (made if missing)?
         |                      |                          |
         +---------- any "no": raise, nothing written -----+--> train --> write out (rank 0)

Threads or processes: one process trains on ``config.workers`` threads (2 when None);
``nproc > 1``, or a launcher such as torchrun, trains one shard per process with one thread
each. Only rank 0 (or the launching process) checks and writes ``out``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from rnnlab.errors import ConfigError, DataNotFoundError
from rnnlab.training.distributed import detect_env, is_main_process
from rnnlab.vectors import WordVectors, save_word_vectors
from rnnlab.word2vec import (
    Word2VecConfig,
    Word2VecProgress,
    train_word2vec,
    train_word2vec_processes,
)

__all__ = ["check_corpus", "claim_output", "run_word2vec", "summary_line"]


def check_corpus(corpus: Sequence[str | os.PathLike]) -> list[Path]:
    """The corpus arguments as paths, each an existing file or a folder holding .txt files.

    A string is always a path here, never text to train on.

    Args:
        corpus: file or folder paths (one sentence or document per line; ``.gz`` allowed).

    Returns:
        The paths, in order.

    Raises:
        ConfigError: no corpus was given.
        DataNotFoundError: a path that is neither a file nor a folder, or a folder without
            .txt files; names every such path.

    Example:
        >>> check_corpus(["no/such/file.txt"])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        rnnlab.errors.DataNotFoundError: corpus path 'no/such/file.txt' does not exist (...)
    """
    if isinstance(corpus, str | os.PathLike):
        corpus = [corpus]
    paths = [Path(p) for p in corpus]
    if not paths:
        raise ConfigError("corpus=[] is empty; give at least one text file or folder")
    missing = [str(p) for p in paths if not (p.is_file() or p.is_dir())]
    if missing:
        what = "path" if len(missing) == 1 else "paths"
        verb = "does" if len(missing) == 1 else "do"
        raise DataNotFoundError(f"corpus {what} {', '.join(map(repr, missing))} {verb} not "
                                "exist (give text files or folders of .txt files)")
    empty = [str(p) for p in paths if p.is_dir() and next(p.rglob("*.txt"), None) is None]
    if empty:
        raise DataNotFoundError(f"corpus folder {', '.join(map(repr, empty))} holds no .txt "
                                "files (a folder is read as one document per .txt file)")
    return paths


def claim_output(out: str | os.PathLike, *, overwrite: bool = False) -> list[Path]:
    """Make sure ``out`` can be written, before training: refuse, or create its folders.

    Refuses an existing file unless ``overwrite`` (and a folder always); creates the
    missing parent folders; then creates and removes a temp file beside ``out``, so a
    folder that cannot be written fails now, not after the training.

    Args:
        out: the vector file to write later.
        overwrite: an existing file may be replaced.

    Returns:
        The folders created (deepest last), for :func:`run_word2vec` to remove again when
        training fails.

    Raises:
        ConfigError: ``out`` exists (without ``overwrite``), is a folder, or cannot be
            written; the message names the path.
    """
    out = Path(out)
    if out.is_dir():
        raise ConfigError(f"out={str(out)!r} is a folder; give a file name for the vectors")
    if out.exists() and not overwrite:
        raise ConfigError(f"out={str(out)!r} already exists; pass overwrite=True to replace it")
    missing = [p for p in [out.parent, *out.parent.parents] if not p.exists()][::-1]
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".probe")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        _remove_empty(missing)
        raise ConfigError(f"out={str(out)!r} cannot be written: "
                          f"{e.strerror or e}{f' ({e.filename})' if e.filename else ''}") from e
    return missing


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders this run created, deepest first, while they are empty."""
    for folder in reversed(folders):
        with contextlib.suppress(OSError):
            folder.rmdir()


def run_word2vec(
    corpus: Sequence[str | os.PathLike],
    config: Word2VecConfig,
    out: str | os.PathLike,
    *,
    binary: bool = False,
    overwrite: bool = False,
    nproc: int = 1,
    timeout_s: float | None = None,
    progress: Callable[[Word2VecProgress], None] | None = None,
) -> tuple[WordVectors, list[dict]]:
    """Train word2vec on files or folders and write the vectors to ``out`` (rank 0).

    Args:
        corpus: text files (one sentence or document per line, ``.gz`` allowed) or folders
            of .txt files (one document each); every one must exist.
        config: the settings; ``workers=None`` means 2 threads alone, 1 per process.
        out: the vector file: word2vec text, or binary with ``binary=True``; ``.gz`` gzips.
        binary: word2vec binary format.
        overwrite: replace an existing ``out``.
        nproc: local processes (1: threads in this process); ignored under torchrun.
        timeout_s: how long a process waits for the others (None: RNNLAB_DIST_TIMEOUT or 300).
        progress: called after each round with a Word2VecProgress (rank 0 only).

    Returns:
        (WordVectors, history) as ``rnnlab.word2vec.train_word2vec``.

    Raises:
        ConfigError: a bad ``nproc``, ``out`` exists, is a folder or cannot be written.
        DataNotFoundError: a corpus path that does not exist.
        DataError, TrainingError: as the trainers.

    Example:
        >>> cfg = Word2VecConfig(dim=50, min_count=2)
        >>> wv, history = run_word2vec(["corpus.txt"], cfg, "vectors/v.txt")  # doctest: +SKIP
    """
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise ConfigError(f"nproc={nproc!r} is not allowed; give an integer >= 1")
    paths = check_corpus(corpus)
    several = nproc > 1 or detect_env() is not None
    writer = is_main_process()
    created = claim_output(out, overwrite=overwrite) if writer else []
    try:
        if several:
            wv, history = train_word2vec_processes(paths, config, nproc=nproc,
                                                   timeout_s=timeout_s, progress=progress)
        else:
            wv, history = train_word2vec(paths, config, progress)
        if writer:
            save_word_vectors(out, wv, binary=binary)
    except BaseException:
        _remove_empty(created)
        raise
    return wv, history


def summary_line(wv: WordVectors, history: list[dict], out: str | os.PathLike) -> str:
    """The line ``rnnlab word2vec`` prints: words, dimensions, file and final loss.

    Example:
        >>> import numpy as np
        >>> wv = WordVectors(words=("a", "b"), vectors=np.zeros((2, 3), np.float32))
        >>> summary_line(wv, [{"loss": 1.5}], "v.txt")
        '2 words x 3 dims -> v.txt; final epoch loss 1.5000'
    """
    last = history[-1] if history else {}
    return (f"{len(wv)} words x {wv.dim} dims -> {out}; final epoch loss "
            f"{last.get('loss', float('nan')):.4f}")
