"""A progress bar for the word2vec trainers; the CLI attaches it, the library only logs."""

from __future__ import annotations

import sys

from rnnlab.word2vec.engine import Word2VecProgress

__all__ = ["TqdmWord2VecProgress"]


class TqdmWord2VecProgress:
    """A progress bar for the word2vec trainers: words done, words/s and the current lr.

    Pass it as ``progress=``. No bar when ``quiet`` or when stderr is not a terminal.

    Args:
        quiet: draw nothing.
        file: where the bar goes (default: standard error).

    Example:
        >>> bar = TqdmWord2VecProgress(quiet=True)
        >>> bar(Word2VecProgress(1, 10, 10, 100.0, 0.01, 2.5))
    """

    def __init__(self, *, quiet: bool = False, file=None):
        self.file = file if file is not None else sys.stderr
        self.disable = quiet or not getattr(self.file, "isatty", lambda: False)()
        self.bar = None

    def __call__(self, p: Word2VecProgress) -> None:
        from tqdm.auto import tqdm

        if self.bar is None:
            self.bar = tqdm(total=p.total_words, unit="word", unit_scale=True, file=self.file,
                            disable=self.disable, dynamic_ncols=True, desc="word2vec")
        self.bar.update(p.words_done - self.bar.n)
        self.bar.set_postfix({"epoch": p.epoch, "words/s": f"{p.words_per_sec:,.0f}",
                              "lr": f"{p.lr:.5f}", "loss": f"{p.loss:.4f}"}, refresh=False)
        if p.words_done >= p.total_words:
            self.bar.close()
