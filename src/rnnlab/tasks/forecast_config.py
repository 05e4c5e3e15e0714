"""The forecasting job's configuration: data, model and fit parts, composed.

``ForecastTaskConfig(data=ForecastDataConfig(...), model=ForecastModelConfig(...),
fit=ForecastFitConfig(...))`` is what ``rnnlab train forecast`` builds from its flags and
what ``config.json`` saves (under ``"config"``). A few fields default to ``None`` ("auto")
because their value depends on the kind of series:

=====================  ==========================  ==============================
field                  the synthetic series        a series file
=====================  ==========================  ==============================
data.iterations        1500 fresh batches          (not allowed: train by epochs)
data.window_norm       "none" (the notebook's)     "last"
data.column            --                          the file's only numeric column
fit.epochs             1 (one pass; fresh batches) 20
fit.shuffle            False                       True
fit.checkpoint_unit    "step", every 500           "epoch", every 1
=====================  ==========================  ==============================

:meth:`ForecastTaskConfig.resolved` fills them in; training saves the resolved config, so
``config.json`` holds each value once, as it was used. ``ForecastConfig(units=8, epochs=3,
...)`` is the 0.1.0 flat constructor, kept for old callers: it builds the resolved composed
config from the 30 flat keywords.

A file with several series (``data.id_column``) trains one global model by default
(``panel.global_model``, auto); the ``panel`` part holds that model's own settings, and
:func:`global_defaults` (what ``rnnlab train forecast`` starts from for such a file) sets
the model and fit parts to the global model's measured defaults.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from rnnlab.config import option
from rnnlab.data.series import MISSING_POLICIES, SAMPLERS
from rnnlab.errors import ConfigError, choice_error
from rnnlab.models.forecaster import CELLS, INITS, PROJECTIONS, ForecasterConfig
from rnnlab.tasks.forecast_covariates import covariate_columns
from rnnlab.tasks.forecast_global import (
    GlobalFitConfig,
    GlobalModelConfig,
    GlobalOptions,
    auto_window,
)
from rnnlab.training import FitConfig

SYNTHETIC = "synthetic"
DEFAULT_ITERATIONS = 1500
DEFAULT_EPOCHS = 20
SYNTHETIC_CHECKPOINT_EVERY = 500
WINDOW_NORMS = ("auto", "none", "last")


@dataclass(frozen=True)
class ForecastDataConfig:
    """Which series, how it is read, cut into windows and split (the ``data`` part)."""

    series: str = option(SYNTHETIC, metavar="{synthetic,PATH}",
                         help="the notebook's synthetic series or a CSV/Parquet file")
    column: str | None = option(None, help="the value column of a file",
                                auto="the file's only numeric column")
    time_column: str | None = option(None, help="a time column (numbers or ISO dates, "
                                     "sorted); forecast plots use it on the x-axis")
    id_column: str | None = option(None, help="an id column for several series in one file")
    missing: str = option("error", choices=MISSING_POLICIES,
                          help="missing values: error (stop at the first), drop (remove "
                               "the row) or interpolate (fill linearly between neighbours)")
    window: int = option(20, help="input steps of each window")
    horizon: int = option(1, help="values forecast after each window")
    period: int | None = option(None, help="season length for the seasonal naive baseline")
    val_fraction: float = option(0.15, help="share of each series' rows for validation")
    test_fraction: float = option(0.15, help="share of each series' rows for the test")
    sampler: str = option("uniform", choices=SAMPLERS,
                          help="synthetic window starts (the notebook's draw was normal)")
    window_norm: str = option("auto", choices=WINDOW_NORMS,
                              auto="last for a file, none for the synthetic series",
                              help="last: subtract each window's last input (learn changes)")
    iterations: int | None = option(None, auto="1500 for the synthetic series",
                                    help="batches of fresh windows for the synthetic series "
                                         "(a file trains by --epochs)")

    def __post_init__(self):
        if self.sampler not in SAMPLERS:
            raise choice_error("sampler", self.sampler, SAMPLERS)
        if self.window_norm not in WINDOW_NORMS:
            raise choice_error("window_norm", self.window_norm, WINDOW_NORMS)
        if self.missing not in MISSING_POLICIES:
            raise choice_error("missing", self.missing, MISSING_POLICIES)
        for name in ("window", "horizon"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"window={self.window!r} and horizon={self.horizon!r} must "
                                  "both be >= 1")
        if self.period is not None and not 1 <= self.period <= self.window:
            raise ConfigError(f"period={self.period!r} must be in [1, window={self.window}]")
        for name in ("val_fraction", "test_fraction"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)!r} must be in [0, 1)")
        if self.is_synthetic:
            if self.iterations is not None and (isinstance(self.iterations, bool) or not
                                                isinstance(self.iterations, int)
                                                or self.iterations < 1):
                raise ConfigError(f"iterations={self.iterations!r} must be >= 1")
        elif self.iterations is not None:
            raise ConfigError(f"iterations={self.iterations!r} applies to the synthetic "
                              "series; train a series file by epochs")

    @property
    def is_synthetic(self) -> bool:
        return self.series == SYNTHETIC

    @property
    def relative(self) -> bool:
        """Whether windows are taken relative to their last input (see ``window_norm``)."""
        if self.window_norm == "auto":
            return not self.is_synthetic
        return self.window_norm == "last"

    def resolved(self) -> ForecastDataConfig:
        """``iterations`` and ``window_norm`` as this kind of series uses them."""
        norm = "last" if self.relative else "none"
        iterations = (self.iterations or DEFAULT_ITERATIONS) if self.is_synthetic else None
        return dataclasses.replace(self, window_norm=norm, iterations=iterations)


@dataclass(frozen=True)
class ForecastModelConfig:
    """The ``Forecaster`` to train (the ``model`` part); the horizon comes from the data."""

    cell: str = option("rnn", flag="--model", choices=CELLS, help="the recurrent cell")
    num_units: int = option(100, flag="--units", help="units per layer")
    num_layers: int = option(1, flag="--layers", help="stacked recurrent layers")
    activation: str = option("relu", choices=("relu", "tanh"),
                             help="the rnn cell's activation (lstm and gru ignore it)")
    dropout: float = option(0.0, help="drop probability between stacked layers")
    projection: str = option("dense", choices=PROJECTIONS,
                             help="one Linear over all steps, or OutputProjectionWrapper")
    init: str = option("torch", choices=INITS,
                       help="initial weights: torch (uniform) or keras (Glorot/orthogonal)")
    direct_head: bool = option(False, help="also predict all horizon values from the last "
                                           "state; the validation windows then choose "
                                           "recursive or direct forecasts")

    def __post_init__(self):
        self.forecaster(1)  # validates every field now, not after loading data

    def forecaster(self, horizon: int) -> ForecasterConfig:
        """The architecture for windows forecast ``horizon`` values ahead."""
        return ForecasterConfig(
            cell=self.cell, num_units=self.num_units, num_layers=self.num_layers,
            activation=self.activation, dropout=self.dropout, projection=self.projection,
            horizon=horizon if self.direct_head else 0, init=self.init)


_AUTO_FIT = {"epochs": 1, "shuffle": True, "checkpoint_every": 1, "checkpoint_unit": "epoch"}


@dataclass(frozen=True)
class ForecastFitConfig(FitConfig):
    """``FitConfig`` whose kind-dependent fields may be None ("auto") until resolved.

    Resolved (see the module doc), it is a plain ``FitConfig`` for ``rnnlab.train.fit``.
    """

    epochs: int | None = option(None, resumable=True, help="passes over a file's windows",
                                auto="20 for a file; the synthetic series makes one pass "
                                     "over --iterations fresh batches")
    shuffle: bool | None = option(None, cli=False, auto="True for a file, False for the "
                                  "synthetic series (each batch is fresh)")
    checkpoint_every: int | None = option(None, cli=False,
                                          auto="500 steps (synthetic), 1 epoch (a file)")
    checkpoint_unit: str | None = option(None, cli=False,
                                         auto="step (synthetic), epoch (a file)")

    def __post_init__(self):
        stand_in = {k: v for k, v in _AUTO_FIT.items() if getattr(self, k) is None}
        if stand_in:
            dataclasses.replace(self, **stand_in)  # FitConfig's checks of every other field
        else:
            super().__post_init__()

    def resolved(self, synthetic: bool) -> ForecastFitConfig:
        """The auto fields as a synthetic (``synthetic=True``) or a file run uses them."""
        if synthetic:
            auto = {"epochs": 1, "shuffle": False, "checkpoint_unit": "step",
                    "checkpoint_every": SYNTHETIC_CHECKPOINT_EVERY}
        else:
            auto = {"epochs": DEFAULT_EPOCHS, "shuffle": True, "checkpoint_unit": "epoch",
                    "checkpoint_every": 1}
        return dataclasses.replace(self, **{k: v for k, v in auto.items()
                                            if getattr(self, k) is None})

    def plain(self) -> FitConfig:
        """The resolved settings as a ``FitConfig`` (what ``fit`` takes)."""
        return FitConfig(**dataclasses.asdict(self))


def default_fit() -> ForecastFitConfig:
    """The notebook's training settings: Adam at 1e-3, batches of 50."""
    return ForecastFitConfig(batch_size=50, lr=1e-3)


@dataclass(frozen=True)
class ForecastPanelConfig(GlobalOptions):
    """The global model of a file with several series (the ``panel`` part).

    A file with several series (``--id-column``) trains one global model across them
    (``rnnlab.tasks.forecast_global``) unless ``global_model=False``; ``--model``,
    ``--units``, ``--layers``, ``--window``, ``--horizon``, ``--period`` and the fit flags
    then set the global model's, with the global defaults of :func:`global_defaults`.
    """

    global_model: bool | None = option(None, auto="True for a file with several series",
                                       help="one global model over every series "
                                            "(--no-global-model: the windowed model, "
                                            "pooled)")
    freq: str | None = option(None, help="the frequency (Y, Q, M, W, D, H, or yearly, ...)",
                              auto="inferred from the time column")
    past_covariates: tuple = option((), metavar="COL,COL", help="columns known up to each "
                                    "origin, read beside the values (global model)")
    future_covariates: tuple = option((), metavar="COL,COL", help="columns known over the "
                                      "horizon too: prices, promotions (global model)")
    calendar: bool = option(False, help="the phase of the season (month of the year, "
                                        "weekday...) as a future covariate (global model)")
    min_steps: int = option(1500, help="train the global model for at least this many "
                                       "optimizer steps (a small panel gets more epochs)")

    def __post_init__(self):
        super().__post_init__()
        past, future = covariate_columns(self.past_covariates, self.future_covariates)
        object.__setattr__(self, "past_covariates", past)
        object.__setattr__(self, "future_covariates", future)
        GlobalFitConfig(min_steps=self.min_steps)


@dataclass(frozen=True)
class ForecastTaskConfig:
    """Everything a forecasting run needs: ``data``, ``model`` and ``fit``.

    The defaults are the notebook's: a relu RNN of 100 units, Adam at 1e-3, batch 50,
    window 20, 1500 iterations on the synthetic series (held-out forecast MSE about 6e-4;
    docs/forecasting.md).

    Example:
        >>> cfg = ForecastTaskConfig(data=ForecastDataConfig(iterations=100))
        >>> cfg.resolved().fit.epochs, cfg.resolved().fit.checkpoint_unit
        (1, 'step')
    """

    data: ForecastDataConfig = dataclasses.field(default_factory=ForecastDataConfig)
    model: ForecastModelConfig = dataclasses.field(default_factory=ForecastModelConfig)
    fit: ForecastFitConfig = dataclasses.field(default_factory=default_fit)
    panel: ForecastPanelConfig = dataclasses.field(default_factory=ForecastPanelConfig)

    def __post_init__(self):
        if not isinstance(self.fit, ForecastFitConfig):  # a plain FitConfig given
            object.__setattr__(self, "fit", ForecastFitConfig(**dataclasses.asdict(self.fit)))
        # Resolved synthetic runs have epochs=1 (one pass), so 1 is the one value allowed.
        if self.data.is_synthetic and self.fit.epochs not in (None, 1):
            raise ConfigError(f"epochs={self.fit.epochs!r} applies to a series file; the "
                              "synthetic series trains by iterations (each a fresh batch)")

    @property
    def is_synthetic(self) -> bool:
        return self.data.is_synthetic

    @property
    def relative(self) -> bool:
        """Whether windows are taken relative to their last input (``data.window_norm``)."""
        return self.data.relative

    def resolved(self) -> ForecastTaskConfig:
        """Every auto field filled in for this kind of series (``data.column`` excepted:
        it needs the file, and training fills it in)."""
        return dataclasses.replace(self, data=self.data.resolved(),
                                   fit=self.fit.resolved(self.is_synthetic))

    def __getattr__(self, name: str) -> Any:
        # 0.1.0's flat names read through to the parts (cfg.window, cfg.units, cfg.lr);
        # ``model`` is the model part now (0.1.0's cell name is ``cfg.model.cell``).
        where = _FLAT_PATH.get(name)
        if where is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(object.__getattribute__(self, where[0]), where[1])

    def model_config(self) -> ForecasterConfig:
        """The ``Forecaster``'s architecture for this config's horizon."""
        return self.model.forecaster(self.data.horizon)

    def fit_config(self) -> FitConfig:
        """The resolved training settings, as ``rnnlab.train.fit`` takes them."""
        return self.fit.resolved(self.is_synthetic).plain()

    def global_model_config(self) -> GlobalModelConfig:
        """The global model's part, as ``fit_global`` takes it.

        Raises:
            ConfigError: a setting of the windowed model only (``--direct-head``,
                ``--dropout``...) that differs from its default.
        """
        windowed = [f"{f.name}={getattr(self.model, f.name)!r}"
                    for f in dataclasses.fields(ForecastModelConfig)
                    if f.name in _WINDOWED_ONLY and getattr(self.model, f.name) != f.default]
        if windowed:
            raise ConfigError(f"{', '.join(windowed)} applies to the windowed model; the "
                              "global model does not use it (drop it, or pass "
                              "global_model=False)")
        return GlobalModelConfig(**self.panel.options(), cell=self.model.cell,
                                 num_units=self.model.num_units,
                                 num_layers=self.model.num_layers, window=self.data.window)

    def global_fit_config(self) -> GlobalFitConfig:
        """The global model's training settings (``fit`` with the panel's ``min_steps``)."""
        fit = self.fit.resolved(False)
        fields = {f.name: getattr(fit, f.name) for f in dataclasses.fields(FitConfig)}
        return GlobalFitConfig(**fields, min_steps=self.panel.min_steps)


#: Model fields the global model has no use for.
_WINDOWED_ONLY = ("activation", "dropout", "projection", "init", "direct_head")


def global_defaults(horizon: int = 1, season: int = 1, **data: Any) -> ForecastTaskConfig:
    """The forecast task's config for one global model over a panel, with its defaults.

    The global model's measured defaults (docs/forecasting.md): an ensemble of 3 GRUs
    of 32 units reading ``max(12, 3 H, 2 season + H)`` values, Adam at 3e-3 in batches
    of 128, at most 40 epochs (at least ``min_steps`` steps) with patience 6, gradients
    clipped at 1.

    Args:
        horizon: H. season: the panel's season length (for the window).
        data: other fields of the data part (``series``, ``column``, ``id_column``...).

    Example:
        >>> cfg = global_defaults(horizon=6, series="panel.csv", id_column="id")
        >>> cfg.model.cell, cfg.data.window, cfg.panel.global_model
        ('gru', 18, True)
    """
    g = GlobalFitConfig()
    fit = dataclasses.replace(default_fit(), epochs=g.epochs, batch_size=g.batch_size,
                              lr=g.lr, patience=g.patience, clip_grad_norm=g.clip_grad_norm)
    m = GlobalModelConfig()
    data.setdefault("window", auto_window(horizon, season))
    return ForecastTaskConfig(
        data=ForecastDataConfig(horizon=horizon, **data),
        model=ForecastModelConfig(cell=m.cell, num_units=m.num_units, num_layers=m.num_layers),
        fit=fit, panel=ForecastPanelConfig(global_model=True))


# --------------------------------------------------------------------------- 0.1.0's flat form

_FLAT_DATA = tuple(f.name for f in dataclasses.fields(ForecastDataConfig))
_FLAT_MODEL = {"model": "cell", "units": "num_units", "layers": "num_layers",
               "activation": "activation", "dropout": "dropout", "projection": "projection",
               "init": "init", "direct_head": "direct_head"}
_FLAT_FIT = ("epochs", "batch_size", "lr", "clip_grad_norm", "schedule", "patience", "seed",
             "device", "max_steps")
FLAT_FIELDS = (*_FLAT_DATA, *_FLAT_MODEL, *_FLAT_FIT)
_FLAT_PATH = {**{k: ("data", k) for k in _FLAT_DATA},
              **{k: ("model", v) for k, v in _FLAT_MODEL.items() if k != "model"},
              **{k: ("fit", k) for k in _FLAT_FIT}}


def from_flat(flat: dict[str, Any], *, where: str = "forecast settings") -> ForecastTaskConfig:
    """The resolved composed config from 0.1.0's flat keywords (``units=8, epochs=3``).

    Raises:
        ConfigError: an unknown keyword (the message lists the known ones), a value the
            parts refuse, or a file series without ``column`` (0.1.0 required it).
    """
    unknown = sorted(set(flat) - set(FLAT_FIELDS))
    if unknown:
        raise ConfigError(f"unknown {where} {unknown}; known: {sorted(FLAT_FIELDS)}")
    data = ForecastDataConfig(**{k: flat[k] for k in _FLAT_DATA if k in flat})
    if not data.is_synthetic and data.column is None:
        raise ConfigError(f"series={data.series!r} is a file: name its value column")
    model = ForecastModelConfig(**{_FLAT_MODEL[k]: flat[k] for k in _FLAT_MODEL if k in flat})
    fit = dataclasses.replace(default_fit(), **{k: flat[k] for k in _FLAT_FIT if k in flat})
    # 0.1.0 pooled the series of a file into the windowed model: its configs still do.
    panel = ForecastPanelConfig(global_model=False)
    return ForecastTaskConfig(data=data, model=model, fit=fit, panel=panel).resolved()


class ForecastConfig:
    """0.1.0's flat constructor: ``ForecastConfig(units=8, iterations=100)``.

    Builds (and returns) the resolved :class:`ForecastTaskConfig`; the keywords are the
    flat names of 0.1.0 (``model``, ``units``, ``layers`` for the model part; ``epochs``,
    ``batch_size``, ``lr``, ``clip_grad_norm``, ``schedule``, ``patience``, ``seed``,
    ``device``, ``max_steps`` for fit; the data part's own names).

    Example:
        >>> cfg = ForecastConfig(iterations=100, units=20)
        >>> cfg.model.num_units, cfg.data.iterations, cfg.fit.epochs
        (20, 100, 1)
    """

    def __new__(cls, **flat: Any) -> ForecastTaskConfig:  # type: ignore[misc]
        return from_flat(flat)

    @staticmethod
    def from_dict(d: dict[str, Any]) -> ForecastTaskConfig:
        """The composed config from a saved flat dict (0.1.0's ``config.json["forecast"]``)."""
        if not isinstance(d, dict):
            raise ConfigError(f"forecast settings: expected an object, got {d!r}")
        return from_flat(d)

