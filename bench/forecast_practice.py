"""rnnlab's global forecaster against statsforecast's AutoETS, AutoTheta and AutoARIMA.

Real series from statsmodels' datasets (none of the forecasting sets shipped in aeon or
sktime), each backtested at identical rolling origins (statsforecast's
``cross_validation(h, n_windows, step_size)``, which ``rnnlab backtest`` reproduces):

==========  =========  =======================================================  ====
panel       frequency  series                                                   h
==========  =========  =======================================================  ====
fertility   yearly     births per woman, ~200 countries, 1960-2013              6
fertility20 yearly     the same, 1960-1979 only (validation of short panels)     6
grunfeld    yearly     investment, value and capital of 11 US firms, 1935-54    6
yearly2     yearly     the Nile's flow (1871-1970), sunspot activity (1700-)     6
macro       quarterly  12 US macroeconomic series, 1959-2009                    8
monthly2    monthly    El Nino sea temperatures (1950-2010), Mauna Loa CO2       12
quarterly2  quarterly  Danish money demand (5 series, 1974-87), US inflation     8
                       and interest rates (2 series, 1972-98): validation only
yearly16    yearly     Longley's 6 US series (1947-62), copper market (5 series, 6
                       1951-75): validation only, very short series
==========  =========  =======================================================  ====

``--split val`` backtests each series without its test part (the values the test
origins score), which is where rnnlab's defaults were chosen; ``--split test`` (the
default) scores the test origins. Every model is scored by the same code
(``rnnlab.tasks.forecast_metrics.score_windows``): MASE against the in-sample seasonal
naive of each training part, sMAPE, and the 80% interval's coverage.

Run it in the bench environment (statsforecast and statsmodels installed), with this
checkout's rnnlab first on the path::

    PYTHONPATH=src nice -n 10 /work/venv-bench/bin/python bench/forecast_practice.py \\
        --panels grunfeld yearly2 --json results.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PEERS = ("AutoETS", "AutoTheta", "AutoARIMA")
#: Panels only ever used to choose settings, scored whole under either split.
VALIDATION_ONLY = ("fertility20", "quarterly2", "yearly16")
SEASON = {"yearly": 1, "quarterly": 4, "monthly": 12}
STEP_MONTHS = {"yearly": 12, "quarterly": 3, "monthly": 1}


@dataclasses.dataclass
class PanelSpec:
    name: str
    freq: str
    horizon: int
    windows: int
    series: dict  # id -> (start month index since year 0, values)


def _contiguous_tail(values: np.ndarray, start: int) -> tuple[int, np.ndarray]:
    """The last run of values without NaN, and its start (inner gaps cut the series)."""
    ok = ~np.isnan(values)
    if not ok.any():
        return start, values[:0]
    end = np.flatnonzero(ok)[-1] + 1
    begin = end
    while begin > 0 and ok[begin - 1]:
        begin -= 1
    return start + begin, values[begin:end]


def load_panels() -> dict[str, PanelSpec]:
    """The five panels, as ``{name: PanelSpec}``, from statsmodels' datasets."""
    import statsmodels.api as sm

    ds = sm.datasets
    panels = {}
    fert = ds.fertility.load_pandas().data
    years = [c for c in fert.columns if c.isdigit()]
    series = {}
    for _, row in fert.iterrows():
        b, v = _contiguous_tail(row[years].to_numpy(dtype=float), int(years[0]))
        if v.size >= 13:
            series[row["Country Code"]] = (12 * b, v)
    panels["fertility"] = PanelSpec("fertility", "yearly", 6, 2, series)
    # Validation only: the first 20 years of each country, a short panel like grunfeld's
    # (8 values before the first origin), scored on years the fertility test never sees.
    panels["fertility20"] = PanelSpec("fertility20", "yearly", 6, 2, {
        k: (b, v[:20]) for k, (b, v) in series.items() if b == 12 * 1960 and v.size >= 32})

    g = ds.grunfeld.load_pandas().data
    series = {}
    for firm, rows in g.groupby("firm", sort=False):
        rows = rows.sort_values("year")
        for col in ("invest", "value", "capital"):
            series[f"{firm}:{col}"] = (12 * int(rows["year"].iloc[0]),
                                       rows[col].to_numpy(dtype=float))
    panels["grunfeld"] = PanelSpec("grunfeld", "yearly", 6, 2, series)

    nile = ds.nile.load_pandas().data
    spots = ds.sunspots.load_pandas().data
    panels["yearly2"] = PanelSpec("yearly2", "yearly", 6, 4, {
        "nile": (12 * int(nile["year"].iloc[0]), nile["volume"].to_numpy(dtype=float)),
        "sunspots": (12 * int(spots["YEAR"].iloc[0]),
                     spots["SUNACTIVITY"].to_numpy(dtype=float))})

    macro = ds.macrodata.load_pandas().data
    start = 12 * int(macro["year"].iloc[0]) + 3 * (int(macro["quarter"].iloc[0]) - 1)
    panels["macro"] = PanelSpec("macro", "quarterly", 8, 4, {
        c: (start, macro[c].to_numpy(dtype=float)) for c in macro.columns
        if c not in ("year", "quarter")})

    el = ds.elnino.load_pandas().data
    sst = el.drop(columns="YEAR").to_numpy(dtype=float).ravel()
    co2 = ds.co2.load_pandas().data["co2"]
    monthly = co2.resample("MS").mean()  # weekly -> monthly means (NaN weeks left out)
    b, v = _contiguous_tail(monthly.to_numpy(dtype=float), 0)
    first = monthly.index[0]
    panels["monthly2"] = PanelSpec("monthly2", "monthly", 12, 4, {
        "elnino": (12 * int(el["YEAR"].iloc[0]), sst),
        "co2": (12 * first.year + first.month - 1 + b, v)})

    # Validation-only panels (never in the test table): tuning data beside the cut panels.
    dan = ds.danish_data.load_pandas().data
    q2 = {f"danish:{c}": (12 * 1974, dan[c].to_numpy(dtype=float)) for c in dan.columns}
    ii = ds.interest_inflation.load_pandas().data
    s0 = 12 * int(ii["year"].iloc[0]) + 3 * (int(ii["quarter"].iloc[0]) - 1)
    q2.update({f"us:{c}": (s0, ii[c].to_numpy(dtype=float)) for c in ("Dp", "R")})
    panels["quarterly2"] = PanelSpec("quarterly2", "quarterly", 8, 2, q2)
    lon = ds.longley.load_pandas().data
    cop = ds.copper.load_pandas().data
    y16 = {f"longley:{c}": (12 * 1947, lon[c].to_numpy(dtype=float)) for c in lon.columns
           if c != "YEAR"}
    y16.update({f"copper:{c}": (12 * 1951, cop[c].to_numpy(dtype=float)) for c in cop.columns
                if c != "TIME"})
    panels["yearly16"] = PanelSpec("yearly16", "yearly", 6, 2, y16)
    return panels


def cut_test(spec: PanelSpec) -> PanelSpec:
    """The validation version of a panel: every series without its test part."""
    drop = spec.horizon * spec.windows  # step = horizon: the last h * windows values
    series = {k: (s, v[:-drop]) for k, (s, v) in spec.series.items()
              if v.size - drop >= spec.horizon + 2}
    shortest = min(v.size for _, v in series.values())
    windows = max(1, min(spec.windows, (shortest - 2) // spec.horizon))
    return dataclasses.replace(spec, name=spec.name + ":val", series=series, windows=windows)


def write_csv(spec: PanelSpec, path: Path) -> Path:
    """The panel as a long CSV with ISO dates (rnnlab infers the frequency from them)."""
    lines = ["id,ds,y"]
    for sid, (start, values) in spec.series.items():
        for i, v in enumerate(values):
            m = start + i * STEP_MONTHS[spec.freq]
            lines.append(f"{sid},{m // 12:04d}-{m % 12 + 1:02d}-01,{v:.6g}")
    path.write_text("\n".join(lines) + "\n")
    return path


def run_rnnlab(spec: PanelSpec, folder: Path, model_overrides: dict, fit_overrides: dict):
    from rnnlab.tasks.forecast_backtest import (
        BacktestConfig,
        BacktestDataConfig,
        BacktestSettings,
        run_backtest,
    )

    config = BacktestConfig(
        data=BacktestDataConfig(series=str(write_csv(spec, folder / f"{spec.name}.csv")),
                                column="y", time_column="ds", id_column="id"),
        backtest=BacktestSettings(horizon=spec.horizon, windows=spec.windows))
    config = dataclasses.replace(
        config, model=dataclasses.replace(config.model, **model_overrides),
        fit=dataclasses.replace(config.fit, **fit_overrides))
    result = run_backtest(config)
    return result


def run_statsforecast(spec: PanelSpec, peers=PEERS):
    """statsforecast's cross_validation; returns ({model: windows}, seconds, cuts)."""
    import pandas as pd
    from statsforecast import StatsForecast
    from statsforecast import models as sf_models

    m = SEASON[spec.freq]
    rows = [(sid, i + 1, float(v)) for sid, (_, vals) in spec.series.items()
            for i, v in enumerate(vals)]
    df = pd.DataFrame(rows, columns=["unique_id", "ds", "y"])
    models = [getattr(sf_models, name)(season_length=m) for name in peers]
    # AutoETS refuses tiny training parts; statsforecast's fallback is then the naive.
    sf = StatsForecast(models=models, freq=1, n_jobs=1, fallback_model=sf_models.Naive())
    start = time.perf_counter()
    cv = sf.cross_validation(df=df, h=spec.horizon, n_windows=spec.windows,
                             step_size=spec.horizon, level=[80])
    seconds = time.perf_counter() - start
    cv = cv.reset_index() if "unique_id" not in cv.columns else cv
    out = {name: [] for name in peers}
    cuts = []
    for (sid, cutoff), g in cv.groupby(["unique_id", "cutoff"], sort=False):
        g = g.sort_values("ds")
        cuts.append((str(sid), int(cutoff)))
        for name in peers:
            out[name].append((str(sid), int(cutoff), g["y"].to_numpy(),
                              {"mean": g[name].to_numpy(),
                               "lo-80": g[f"{name}-lo-80"].to_numpy(),
                               "hi-80": g[f"{name}-hi-80"].to_numpy()}))
    return out, seconds, sorted(cuts)


def score_peer(spec: PanelSpec, windows) -> dict:
    from rnnlab.tasks.forecast_global import series_scale
    from rnnlab.tasks.forecast_metrics import score_windows

    m = SEASON[spec.freq]
    ys, scales, fcs = [], [], []
    for sid, cutoff, y, f in windows:
        train = spec.series[sid][1][:cutoff]
        ys.append(y), scales.append(series_scale(train, m)), fcs.append(f)
    return score_windows(ys, scales, fcs, {0.1: "lo-80", 0.5: "mean", 0.9: "hi-80"})


def rnnlab_cuts(result) -> list[tuple[str, int]]:
    cuts = []
    for f in result.forecasts:
        s = next(s for s in result.panel.series if s.id == f["id"])
        cuts.append((f["id"], int(list(s.labels).index(f["origin"])) + 1))
    return sorted(cuts)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--panels", nargs="+", default=["grunfeld", "yearly2", "macro",
                                                        "monthly2", "fertility"])
    parser.add_argument("--split", choices=["val", "test"], default="test")
    parser.add_argument("--peers", nargs="*", default=list(PEERS))
    parser.add_argument("--model", default="{}", help="JSON overrides of the model part")
    parser.add_argument("--fit", default="{}", help="JSON overrides of the fit part")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default=None, help="append the results to this file")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    panels = load_panels()
    model_over, fit_over = json.loads(args.model), json.loads(args.fit)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.panels:
            whole = args.split == "test" or name in VALIDATION_ONLY
            spec = panels[name] if whole else cut_test(panels[name])
            start = time.perf_counter()
            result = run_rnnlab(spec, Path(tmp), model_over, fit_over)
            rn_seconds = time.perf_counter() - start
            row = {"panel": spec.name, "freq": spec.freq, "series": len(spec.series),
                   "h": spec.horizon, "windows": spec.windows,
                   "model": model_over, "fit": fit_over,
                   "rnnlab": {**result.metrics["rnnlab"], "seconds": round(rn_seconds, 1)},
                   **{b: result.metrics[b] for b in ("naive", "seasonal_naive", "drift",
                                                     "linear_ar")}}
            if args.peers:
                windows, sf_seconds, cuts = run_statsforecast(spec, tuple(args.peers))
                if cuts != rnnlab_cuts(result):
                    raise SystemExit(f"{spec.name}: origins differ from statsforecast's")
                for peer in args.peers:
                    row[peer] = score_peer(spec, windows[peer])
                row["statsforecast_seconds"] = round(sf_seconds, 1)
            rows.append(row)
            _print_row(row, args.peers)
    if args.json:
        path = Path(args.json)
        old = json.loads(path.read_text()) if path.exists() else []
        path.write_text(json.dumps(old + rows, indent=1))
    return 0


def _print_row(row: dict, peers) -> None:
    names = ["rnnlab", *peers, "naive", "seasonal_naive", "drift", "linear_ar"]
    print(f"\n{row['panel']} ({row['freq']}, {row['series']} series, h={row['h']}, "
          f"{row['windows']} origins): rnnlab {row['rnnlab']['seconds']} s, statsforecast "
          f"{row.get('statsforecast_seconds', '-')} s", flush=True)
    print(f"{'model':<15} {'MASE':>7} {'sMAPE':>7} {'cover80':>8} {'MASE/ETS':>9}")
    ets = row.get("AutoETS", {}).get("mase")
    for n in names:
        m = row.get(n)
        if m is None:
            continue
        cov = m.get("coverage", {}).get("80")
        ratio = f"{m['mase'] / ets:9.3f}" if ets else ""
        print(f"{n:<15} {m['mase']:7.3f} {m['smape']:7.2f} "
              f"{'' if cov is None else f'{cov:8.3f}':>8} {ratio}", flush=True)


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
    sys.exit(main())
