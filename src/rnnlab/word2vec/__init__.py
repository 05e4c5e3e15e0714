"""Word2vec: skip-gram and CBOW with negative sampling, NCE or sampled softmax.

References:
    Mikolov, T., Chen, K., Corrado, G. and Dean, J. (2013). Efficient estimation of word
    representations in vector space. ICLR workshop.
    Mikolov, T., Sutskever, I., Chen, K., Corrado, G. and Dean, J. (2013). Distributed
    representations of words and phrases and their compositionality. NIPS.
    Gutmann, M. and Hyvarinen, A. (2010). Noise-contrastive estimation. AISTATS.
    Jean, S. et al. (2015). On using very large target vocabulary for NMT (sampled softmax).

The update rules are word2vec.c's (and gensim's): for skip-gram each context word's input
vector predicts the centre word; CBOW averages the context and adds the whole gradient to
every context word; the window is shrunk at random per position; frequent words are dropped
with probability 1 - (sqrt(f / t) + 1) t / f (f the word's share of the retained corpus,
t = ``sample``); the learning rate falls linearly from ``alpha`` to ``min_alpha`` over all
raw words of all epochs::

    sentence   the  cat  sat  on  the  mat        window=2, reduced to b=1 at "sat"
                    [cat] sat [on]                 pairs (cat -> sat), (on -> sat)

Speed: numba rather than a C extension. The hot loop (dot products and axpys of length D over
shuffled rows) is compiled with ``@njit(nogil=True, fastmath=True, cache=True)``: LLVM
vectorises it as well as gensim's BLAS calls without their call overhead, the GIL is released
so plain Python threads run in parallel, and nothing needs a compiler at install time. The
cost is numba's first-call compile (a few seconds, then cached on disk).

The modules, low to high:

    config     Word2VecConfig, the settings (with their CLI flags)
    vocab      tokenising, streaming the corpus to an id file, the vocabulary
    kernels    the compiled loops (train a chunk, merge shards, pack and apply deltas)
    engine     the one round engine: chunks, rounds, NaN check, progress, history
    threads    train_word2vec: the engine with a thread merge (one process)
    processes  train_word2vec_processes / _in_job: the engine over torch.distributed
    progress   TqdmWord2VecProgress, the bar the CLI attaches

Both trainers return ``(WordVectors, history)`` and write nothing; the caller saves the
vectors (``rnnlab.embeddings.save_word_vectors``, rank 0 only), as
``rnnlab.tasks.word2vec.run_word2vec`` does.

Example:
    >>> cfg = Word2VecConfig(dim=8, min_count=1, epochs=1, workers=1)
    >>> wv, history = train_word2vec([["a", "b", "c"]] * 20, cfg)
    >>> wv.vectors.shape, len(history)
    ((3, 8), 1)
"""

from rnnlab.word2vec.config import DEFAULT_THREADS, LOSSES, MODELS, Word2VecConfig
from rnnlab.word2vec.engine import S_PER_ROUND_FACTOR, Word2VecProgress
from rnnlab.word2vec.processes import (
    train_word2vec_distributed,
    train_word2vec_in_job,
    train_word2vec_processes,
)
from rnnlab.word2vec.progress import TqdmWord2VecProgress
from rnnlab.word2vec.threads import train_word2vec
from rnnlab.word2vec.vocab import (
    MAX_SENTENCE,
    Vocabulary,
    build_vocab,
    corpus_paths,
    iter_corpus,
    keep_probabilities,
    tokenize,
)

__all__ = [
    "DEFAULT_THREADS",
    "LOSSES",
    "MAX_SENTENCE",
    "MODELS",
    "S_PER_ROUND_FACTOR",
    "TqdmWord2VecProgress",
    "Vocabulary",
    "Word2VecConfig",
    "Word2VecProgress",
    "build_vocab",
    "corpus_paths",
    "iter_corpus",
    "keep_probabilities",
    "tokenize",
    "train_word2vec",
    "train_word2vec_distributed",
    "train_word2vec_in_job",
    "train_word2vec_processes",
]
