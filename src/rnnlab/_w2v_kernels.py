"""Old home of the word2vec kernels: now :mod:`rnnlab.word2vec.kernels` (the same module)."""

import sys

from rnnlab.word2vec import kernels

sys.modules[__name__] = kernels
