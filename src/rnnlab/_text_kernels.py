"""Compiled tokenizing kernel of the Keras-style ``Tokenizer`` (numba, ``nogil``, cached on disk).

Private: ``rnnlab.text`` owns the design and its docstring explains it, with the layout of
the buffers handed here. One kernel, ``_run``, cuts a chunk's buffer into words (and on
Unicode white space when asked) and interns each word's bytes in an open-addressing hash
table (FNV-1a), counting tokens and the texts they occur in (so ``word_docs`` costs nothing
extra), or looks the words up in a table of the word index. When the table is full it
stops and ``Interner`` grows it and resumes. Around it:

- ``Interner``: the hash table, and ``feed`` to run the kernel over one chunk.
- ``Lookup``: a word index as the kernel reads it.
- ``scan_delim`` and ``LIST_DELIM``: the kernel's per-byte table of word ends.
- ``to_lists`` and ``cyclic_gc_paused``: the output lists, made fast.
"""

from __future__ import annotations

import contextlib
import gc
from itertools import pairwise

import numpy as np
from numba import njit

ENC = "surrogatepass"  # texts may hold lone surrogates; keep them round-trippable
END, TOK = 0xFF, 0xFE  # end of a text; start of a token in list mode (neither is UTF-8)
MODE_COUNT, MODE_IDS, MODE_LOOKUP = 0, 1, 2

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_S32 = np.uint64(32)


@contextlib.contextmanager
def cyclic_gc_paused():
    """Pause the cyclic garbage collector while building millions of small lists.

    The lists and ints made here hold no reference cycles, but each full collection
    would walk every one of them (about 15% of the time on IMDB); reference counting
    still frees memory as usual. The previous state is restored on exit.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# ---------------------------------------------------------------------- compiled kernel


@njit(inline="always")
def _space_len(buf, p):
    """Bytes of the non-ASCII white space ``str.split()`` cuts on at ``buf[p]``, else 0."""
    b0, n = buf[p], buf.shape[0]
    if b0 == 0xC2:  # U+0085, U+00A0
        return 2 if p + 1 < n and (buf[p + 1] == 0x85 or buf[p + 1] == 0xA0) else 0
    if p + 2 >= n:
        return 0
    b1, b2 = buf[p + 1], buf[p + 2]
    if b0 == 0xE1:  # U+1680
        ok = b1 == 0x9A and b2 == 0x80
    elif b0 == 0xE2:  # U+2000-200A, U+2028, U+2029, U+202F, U+205F
        ok = ((b1 == 0x80 and (0x80 <= b2 <= 0x8A or b2 == 0xA8 or b2 == 0xA9 or b2 == 0xAF))
              or (b1 == 0x81 and b2 == 0x9F))
    else:  # 0xE3: U+3000
        ok = b1 == 0x80 and b2 == 0x80
    return 3 if ok else 0


@njit(cache=True, nogil=True)
def _run(buf, delim, lists, mode, doc0, pos, slots, hashes, wends, wbytes, counts, docs,
         last, meta, values, oov, out, out_ends):
    """Cut ``buf`` into words and intern, count or look them up; resumable.

    Args:
        buf: (N,) uint8, texts each ended by 0xFF (scan mode) or tokens each started by
            0xFE (list mode, ``lists`` 1).
        delim: (256,) uint8 per byte: 1 ends a word (0xFF, 0xFE in list mode, the split
            bytes in scan mode); 2 may start non-ASCII white space (split=None); 0 else.
        mode: 0 intern and count; 1 the same and write each token's word id to ``out``;
            2 write each token's ``values[word id]`` (``oov`` if unknown; < 0: drop).
        doc0: the number of texts before this buffer (for document counts).
        pos: (3,) int64 (text, byte, out position) to start from; updated.
        slots, hashes, wends, wbytes, counts, docs, last, meta: the hash table (see
            ``Interner``); meta is (number of words, number of word bytes, bytes of the word
            that did not fit).
        out, out_ends: (T,) int32 outputs, and the end in ``out`` of each text.

    Returns:
        True when done; False when the table is full (grow it and call again).
    """
    d, p, k = pos[0], pos[1], pos[2]
    n = buf.shape[0]
    mask = np.uint64(slots.shape[0] - 1)
    while p < n:
        b = buf[p]
        if b == END:
            out_ends[d] = k
            d += 1
            p += 1
            continue
        c = delim[b]
        if c == 1:
            p += 1
            if lists == 0:
                continue
        elif c == 2:
            m = _space_len(buf, p)
            if m:
                p += m
                continue
        s = p
        h = _FNV_OFFSET
        while True:
            c = delim[buf[p]]
            if c == 1 or (c == 2 and _space_len(buf, p)):
                break
            h = (h ^ np.uint64(buf[p])) * _FNV_PRIME
            p += 1
        i = np.int64((h ^ (h >> _S32)) & mask)
        w = -1
        while True:
            w = slots[i]
            if w < 0:
                break
            if hashes[w] == h and wends[w + 1] - wends[w] == p - s:
                o = wends[w] - s
                j = s
                while j < p and wbytes[o + j] == buf[j]:
                    j += 1
                if j == p:
                    break
            i = np.int64((np.uint64(i) + np.uint64(1)) & mask)
        if mode == MODE_LOOKUP:
            v = oov if w < 0 else values[w]
            if v >= 0:
                out[k] = v
                k += 1
            continue
        if w < 0:
            nw, nb = meta[0], meta[1]
            if nw == hashes.shape[0] or nb + p - s > wbytes.shape[0]:
                pos[0], pos[1], pos[2] = d, s - lists, k  # list mode: back to the 0xFE
                meta[2] = p - s
                return False
            wbytes[nb:nb + p - s] = buf[s:p]
            wends[nw + 1] = nb + p - s
            hashes[nw] = h
            slots[i] = nw
            meta[0], meta[1] = nw + 1, nb + p - s
            w = nw
        counts[w] += 1
        if last[w] != doc0 + d:
            last[w] = doc0 + d
            docs[w] += 1
        if mode == MODE_IDS:
            out[k] = w
            k += 1
    pos[0], pos[1], pos[2] = d, p, k
    return True


@njit(cache=True, nogil=True)
def _rehash(slots, hashes, n):
    """Put the words 0..n-1 into the empty ``slots`` (power-of-two size) by their hash."""
    mask = np.uint64(slots.shape[0] - 1)
    for w in range(n):
        h = hashes[w]
        i = np.int64((h ^ (h >> _S32)) & mask)
        while slots[i] >= 0:
            i = np.int64((np.uint64(i) + np.uint64(1)) & mask)
        slots[i] = w


def _extend(a: np.ndarray, size: int, fill) -> np.ndarray:
    return np.concatenate([a, np.full(size - len(a), fill, a.dtype)])


class Interner:
    """Words as bytes -> ids 0, 1, ... in order of first appearance, with their counts.

    ``slots`` (4W,) int32 is an open-addressing table of word ids (-1: empty; at most a
    quarter full, so probes stay short); per word id, ``hashes`` (W,) uint64 is its FNV-1a
    hash, ``wbytes[wends[id]:wends[id + 1]]`` its bytes, ``counts`` and ``docs`` (W,) int64
    its counts of tokens and texts, ``last`` the last text it was seen in.
    """

    def __init__(self, words: int = 1024, nbytes: int = 1 << 14):
        W = 1 << max(10, (words - 1).bit_length())
        self.slots = np.full(4 * W, -1, np.int32)
        self.hashes = np.zeros(W, np.uint64)
        self.wends = np.zeros(W + 1, np.int64)
        self.wbytes = np.zeros(max(nbytes, 1), np.uint8)
        self.counts = np.zeros(W, np.int64)
        self.docs = np.zeros(W, np.int64)
        self.last = np.full(W, -1, np.int64)
        self.meta = np.zeros(3, np.int64)  # words, bytes used, bytes of a word that did not fit
        self.n_docs = 0

    def __len__(self) -> int:
        return int(self.meta[0])

    def _grow(self) -> None:
        nw, nb, need = (int(x) for x in self.meta)
        if nw == len(self.hashes):
            W = 2 * nw
            self.hashes = _extend(self.hashes, W, 0)
            self.wends = _extend(self.wends, W + 1, 0)
            self.counts = _extend(self.counts, W, 0)
            self.docs = _extend(self.docs, W, 0)
            self.last = _extend(self.last, W, -1)
            self.slots = np.full(4 * W, -1, np.int32)
            _rehash(self.slots, self.hashes, nw)
        if nb + need > len(self.wbytes):
            self.wbytes = _extend(self.wbytes, max(2 * len(self.wbytes), nb + need), 0)

    def feed(self, buf: bytes, n_texts: int, lists: bool, delim: np.ndarray, mode: int,
             values: np.ndarray | None = None, oov: int = -1) -> tuple[np.ndarray, np.ndarray]:
        """Run the kernel over one chunk (see ``_run``).

        Returns:
            (T,) int32 word ids (mode 1) or indices (mode 2), and (n_texts,) int64 the end
            of each text's tokens in them.
        """
        a = np.frombuffer(buf, np.uint8)
        size = 0 if mode == MODE_COUNT else len(buf) if lists else len(buf) // 2 + 1
        out = np.empty(size, np.int32)
        ends = np.empty(n_texts, np.int64)
        pos = np.zeros(3, np.int64)
        values = _NO_VALUES if values is None else values
        while not _run(a, delim, int(lists), mode, self.n_docs, pos, self.slots, self.hashes,
                       self.wends, self.wbytes, self.counts, self.docs, self.last, self.meta,
                       values, oov, out, ends):
            self._grow()
        assert pos[0] == n_texts and pos[1] == len(buf), (pos, n_texts, len(buf))
        if mode != MODE_LOOKUP:
            self.n_docs += n_texts
        return out[:pos[2]], ends

    def words(self) -> list[str]:
        nw, nb = int(self.meta[0]), int(self.meta[1])
        raw = self.wbytes[:nb].tobytes()
        ends = self.wends[:nw + 1].tolist()
        return [raw[a:b].decode("utf-8", ENC) for a, b in pairwise(ends)]


_NO_VALUES = np.zeros(0, np.int32)
LIST_DELIM = np.zeros(256, np.uint8)
LIST_DELIM[[TOK, END]] = 1


def scan_delim(cut: bytes, unicode_ws: bool) -> np.ndarray:
    """The kernel's ``delim`` table for the scan mode.

    Args:
        cut: the bytes that end a word (0xFF, the end of a text, always does).
        unicode_ws: also cut on non-ASCII white space, as ``str.split()``.

    Returns:
        (256,) uint8, as ``_run`` reads it.
    """
    delim = np.zeros(256, np.uint8)
    delim[[*cut, END]] = 1
    if unicode_ws:
        delim[[0xC2, 0xE1, 0xE2, 0xE3]] = 2  # lead bytes of such white space: see _space_len
    return delim


class Lookup:
    """A word index as the kernel reads it.

    ``table`` interns the words kept under ``num_words``, in the word index's order; the
    kernel writes ``values[id]`` for a known word and ``oov`` for others, each a place in
    ``ints``, the indices as Python ints (the oov token's last), or -1: dropped. As in
    Keras, without an oov token a word whose index is 0 is dropped too.
    """

    def __init__(self, key: tuple, word_index: dict[str, int], num_words: int | None,
                 oov_index: int | None):
        self.key = key
        # words past num_words are absent: they map to the oov index like unknown ones
        kept = [(w, i) for w, i in word_index.items() if num_words is None or i < num_words]
        buf = b"".join([b"\xfe" + w.encode("utf-8", ENC) for w, _ in kept] + [b"\xff"])
        self.table = Interner(len(kept), len(buf))
        self.table.feed(buf, 1, True, LIST_DELIM, MODE_COUNT)
        assert len(self.table) == len(kept)  # the words of a dict are distinct
        self.values = np.array([j if i or oov_index is not None else -1
                                for j, (_, i) in enumerate(kept)], np.int32)
        self.oov = -1 if oov_index is None else len(kept)
        self.ints = np.array([i for _, i in kept] + [oov_index], object)


def to_lists(ints: np.ndarray, vals: np.ndarray, ends: np.ndarray) -> list[list[int]]:
    """Cut ``ints[vals]`` into one list per text at ``ends`` (no int object made per token)."""
    flat = ints[vals].tolist()
    e = ends.tolist()
    return [flat[a:b] for a, b in pairwise([0, *e])]

