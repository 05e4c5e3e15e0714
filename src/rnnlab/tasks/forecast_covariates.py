"""Covariates beside each series' values: known to the origin, or over the horizon too.

A **past** covariate (``--past-covariates``) is known up to the origin only: it joins the
history the RNN reads as one more feature per step. A **future** covariate
(``--future-covariates``: a price, a promotion, a holiday flag; or ``--calendar``'s phase
of the season) is also known over the horizon: it joins the history the same way, and
its H values after the origin join the head's input, so the forecast of each step sees
that step's value::

    x[t - L : t]      = [value, past..., future...]   (B, L, 1 + P + F)  -> RNN
    future[t : t + H]                                   (B, H, F)          -> head

Each covariate is standardised per series on the training part of the history it
accompanies (its mean and standard deviation over ``[:n]``), so it is scaled like the
values: on what the model may see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rnnlab.errors import ConfigError, DataError


def covariate_columns(past, future, taken: Sequence[str | None] = ()
                      ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``past`` and ``future`` column names as tuples, each column named once.

    Args:
        past, future: a column name or names ("" entries dropped).
        taken: the value, time and id columns, which no covariate may be.

    Raises:
        ConfigError: a column in both lists, or one of ``taken``.
    """
    def names(v) -> tuple[str, ...]:
        cols = (v,) if isinstance(v, str) else tuple(v)
        return tuple(str(c) for c in cols if str(c))

    past, future = names(past), names(future)
    both = set(past) & set(future)
    for col in (*past, *future):
        if col in both or col in set(taken) - {None}:
            what = ("both a past and a future covariate" if col in both
                    else "the value, time or id column")
            raise ConfigError(f"covariate {col!r} is {what}; name each column once")
    return past, future


@dataclass(frozen=True)
class Covariates:
    """Per series, its covariates as arrays aligned with its values.

    Attributes:
        past: per series, (m, P) values known to the origin (m >= the history's length).
        future: per series, (m, F) values known over the horizon too (m >= the history's
            length + H where a forecast is made).
        names: the P + F column names, past first (for messages).
    """

    past: list[np.ndarray]
    future: list[np.ndarray]
    names: tuple[str, ...] = ()

    @property
    def num_past(self) -> int:
        """P, the past covariates per step."""
        return self.past[0].shape[1] if self.past else 0

    @property
    def num_future(self) -> int:
        """F, the future covariates per step."""
        return self.future[0].shape[1] if self.future else 0

    def cut(self, lengths: Sequence[int], horizon: int) -> Covariates:
        """The covariates of histories of ``lengths``: past ones to each length, future ones
        to each length + ``horizon`` (what a forecast from there may know)."""
        return Covariates([p[:n] for p, n in zip(self.past, lengths, strict=True)],
                          [f[: n + horizon] for f, n in zip(self.future, lengths,
                                                            strict=True)], self.names)

    def standardized(self, lengths: Sequence[int]) -> Covariates:
        """Each series' covariates less their mean, over their standard deviation, both on
        the first ``lengths[i]`` rows (a constant covariate becomes 0)."""
        def scale(arrays):
            out = []
            for a, n in zip(arrays, lengths, strict=True):
                head = a[:n]
                mu, sd = head.mean(axis=0), head.std(axis=0)
                out.append((a - mu) / np.where(sd > 0, sd, 1.0))
            return out
        return Covariates(scale(self.past), scale(self.future), self.names)

    def examples(self, ends, window: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        """The covariate parts of ``make_examples``' examples, in its order.

        Args:
            ends: per series, the positions t where an input ends.
            window: most steps read. horizon: H.

        Returns:
            ``(x (N, window, P + F), future (N, H, F))``, x left-aligned and zero-padded
            like the values; future values past a series' known ones are 0.
        """
        P, F = self.num_past, self.num_future
        xs, fs = [], []
        for i, ends_i in enumerate(ends):
            past = self.past[i] if P else np.zeros((0, 0))
            fut = self.future[i] if F else np.zeros((0, 0))
            for t in ends_i:
                a = max(0, t - window)
                x = np.zeros((window, P + F))
                if P:
                    x[: t - a, :P] = past[a:t]
                if F:
                    x[: t - a, P:] = fut[a:t]
                f = np.zeros((horizon, F))
                if F:
                    got = fut[t: t + horizon]
                    f[: len(got)] = got
                xs.append(x), fs.append(f)
        n = len(xs)
        return (np.asarray(xs, dtype=np.float32).reshape(n, window, P + F),
                np.asarray(fs, dtype=np.float32).reshape(n, horizon, F))

    def check_horizon(self, lengths: Sequence[int], horizon: int,
                      ids: Sequence[str]) -> None:
        """Raise ``DataError`` when a future covariate ends before a forecast's horizon."""
        for f, n, name in zip(self.future, lengths, ids, strict=True):
            if self.num_future and len(f) < n + horizon:
                raise DataError(f"{name}: the future covariates end {n + horizon - len(f)} "
                                f"value(s) before the horizon of a forecast from value {n}; "
                                "future covariates must be known over the horizon")


def season_phase(times: np.ndarray | None, n: int, season: int, *, calendar: bool,
                 step: float) -> np.ndarray:
    """(n, 2) sin and cos of each time's phase in the season: ``--calendar``'s features.

    Args:
        times: POSIX seconds (dates) or numbers; None: positions 0..n-1.
        n: rows. season: the season length (> 1).
        calendar: whether the frequency counts months (``step`` months) rather than
            fixed seconds or units (``step`` of them).

    Returns:
        (n, 2) float64.
    """
    if times is None:
        k = np.arange(n, dtype=np.float64)
    elif calendar:
        months = np.round(times).astype("int64").astype("datetime64[s]").astype(
            "datetime64[M]").astype(np.int64)
        k = months // int(step)  # months since 1970-01: the phase within the year
    else:
        k = np.floor(np.asarray(times, dtype=np.float64) / step)
    angle = 2 * np.pi * (np.mod(k, season) / season)
    return np.stack([np.sin(angle), np.cos(angle)], axis=1)
