"""The forecasting sections: held-out scores beside the baselines, the task's plots, and for
a backtest the metrics table and each series' forecasts with their prediction intervals.
"""

from __future__ import annotations

from collections import defaultdict

from rnnlab.report.html import cards, esc, figure, img, num, seconds, section, table
from rnnlab.report.run import RunInfo
from rnnlab.report.svg import Series, line_chart

#: The forecast task's pictures (``rnnlab.tasks.forecast.PLOTS``), with captions.
PLOTS = (("forecast.png", "multi-step forecast after held-out windows"),
         ("prediction.png", "one step ahead over the held-out part"),
         ("series.png", "the series"))
#: Series drawn for a backtest (the first ones of the panel).
MAX_SERIES = 6


def forecast_sections(info: RunInfo) -> str:
    """A forecast run: held-out MSE/MAE, the baselines' and the task's plots (a global
    model's: its test origin's table and forecasts, as a backtest's)."""
    ev = info.evaluation
    parts = []
    if ev and "metrics" in ev:
        parts += panel_parts(ev)
    elif ev:
        head = [(f"{ev.get('split', 'test')} mse", ev.get("mse")), ("mae", ev.get("mae")),
                ("steps", ev.get("steps")), ("windows", ev.get("windows"))]
        if "next_step_mse" in ev:
            head.append(("next-step mse", ev["next_step_mse"]))
        parts.append(cards(head))
        rows = [["rnnlab", ev.get("mse"), ev.get("mae"), "-"]]
        beats = ev.get("beats") or {}
        for name, base in (ev.get("baselines") or {}).items():
            rows.append([name, base.get("mse"), base.get("mae"),
                         "yes" if beats.get(name) else "no"])
        parts.append("<h3>Beside the baselines</h3>"
                     + table(["model", "mse", "mae", "rnnlab beats it"], rows))
        if ev.get("beats_persistence") is False:
            parts.append('<p class="bad">The model does not beat persistence (the last '
                         "value) on this series.</p>")
    later = [[key, e.get("mse"), e.get("mae"), e.get("windows")]
             for key, e in info.evaluations.items() if isinstance(e, dict) and "mse" in e]
    if later:
        parts.append("<h3>rnnlab evaluate</h3>" + table(["scored", "mse", "mae", "windows"],
                                                        later))
    plots = PLOTS if "metrics" not in (ev or {}) else (
        ("forecast.png", "history, truth, and the forecast with its interval at the test "
                         "origin"),)
    figures = [img(info.file(name), name, caption) for name, caption in plots]
    if any(figures):
        parts.append(f'<div class="grid">{"".join(figures)}</div>')
    return section("Forecasts", "".join(parts), ident="forecast")


def metrics_rows(metrics: dict) -> tuple[list[str], list[list]]:
    """The backtest table: one row per model; mase, smape, mae, rmse, coverage, pinball."""
    levels = sorted({lv for m in metrics.values() for lv in (m.get("coverage") or {})}, key=int)
    head = ["model", "mase", "smape", "mae", "rmse", *[f"cover {lv}%" for lv in levels],
            "pinball"]
    rows = []
    for name, m in metrics.items():
        rows.append([name, *[m.get(k) for k in ("mase", "smape", "mae", "rmse")],
                     *[(m.get("coverage") or {}).get(lv) for lv in levels], m.get("pinball")])
    return head, rows


def _order(origin) -> tuple:
    """Sort key of an origin as the JSON holds it: numbers by value, ISO dates as text."""
    return (0, float(origin), "") if isinstance(origin, int | float) else (1, 0.0, str(origin))


def _series_plot(series_id: str, entries: list[dict]) -> str:
    """One series' held-out values, the model's mean and widest interval, and naive."""
    entries = sorted(entries, key=lambda e: _order(e.get("origin")))
    y, mean, lo, hi, naive = [], [], [], [], []
    levels = sorted({int(k[3:]) for e in entries for k in e["models"].get("rnnlab", {})
                     if k.startswith("lo-")})
    widest = levels[-1] if levels else None
    for e in entries:
        model = e["models"].get("rnnlab", {})
        y += e["y"]
        mean += model.get("mean", [None] * len(e["y"]))
        if widest is not None:
            lo += model.get(f"lo-{widest}", [None] * len(e["y"]))
            hi += model.get(f"hi-{widest}", [None] * len(e["y"]))
        naive += e["models"].get("naive", {}).get("mean", [None] * len(e["y"]))
    x = list(range(1, len(y) + 1))
    lines = [Series("actual", x, y, color="#1d232b"),
             Series("rnnlab" + (f" ({widest}% interval)" if widest else ""), x, mean,
                    band=(lo, hi) if widest else None)]
    if any(v is not None for v in naive):
        lines.append(Series("naive", x, naive, dashed=True))
    return figure(line_chart(lines, x_label="held-out step", title=f"series {series_id}",
                             height=260), f"{len(entries)} origin(s)")


def backtest_sections(info: RunInfo) -> str:
    """A backtest: the table of every model's scores and the first series' forecasts."""
    parts = panel_parts(info.backtest)
    # write_backtest's figure shows what the SVGs leave out: each series' history.
    parts.append(img(info.file("backtest.png"), "backtest.png",
                     "history, truth, forecast and interval at every origin"))
    return section("Backtest", "".join(parts), ident="backtest")


def panel_parts(bt: dict) -> list[str]:
    """A backtest's (or a global run's evaluation's) cards, table and series plots."""
    parts = [cards([("series", bt.get("series")), ("frequency", bt.get("freq") or "none"),
                    ("season", bt.get("season")), ("time", seconds(bt.get("seconds")))])]
    metrics = bt.get("metrics") or {}
    if metrics:
        head, rows = metrics_rows(metrics)
        parts.append("<h3>Scores (lower is better; coverage: share of values inside the "
                     "interval)</h3>" + table(head, rows,
                                              attrs=[{"data-model": r[0]} for r in rows]))
    by_series = defaultdict(list)
    for entry in bt.get("forecasts") or []:
        by_series[str(entry.get("id"))].append(entry)
    plots = [_series_plot(sid, entries) for sid, entries in list(by_series.items())[:MAX_SERIES]]
    if plots:
        more = len(by_series) - len(plots)
        note = f'<p class="muted">{more} more series not drawn.</p>' if more > 0 else ""
        parts.append(f'<h3>Forecasts</h3><div class="grid">{"".join(plots)}</div>{note}')
    return parts


def best_model(metrics: dict, key: str = "mase") -> str | None:
    """The model with the lowest ``key``."""
    scored = [(m.get(key), name) for name, m in metrics.items()
              if isinstance(m.get(key), int | float)]
    return min(scored)[1] if scored else None


def backtest_summary(info: RunInfo) -> str:
    """One line: which model scored best."""
    best = best_model(info.backtest.get("metrics") or {})
    if best is None:
        return ""
    m = info.backtest["metrics"][best]
    return f"<p>Best MASE: <strong>{esc(best)}</strong> ({num(m.get('mase'))}).</p>"
