"""The report of a tiny run of each task, rendered in headless Chromium at 375 and 1366 px.

Checks what the issue asks: no console errors, every image loaded, the page no wider than
the screen (tables scroll in their own box), the metrics on the page equal to
metrics.json's to 4 decimals; and, from the file itself, that it stands alone (no script,
no absolute URL in any attribute) and stays under 2 MB. Set RNNLAB_SCREENS=DIR to keep a
copy of each screenshot there.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from rnnlab import cli
from rnnlab.report import read_run, write_report

KINDS = ("classify", "sequences", "text", "forecast", "panel", "backtest", "word2vec")
WIDTHS = (375, 1366)
FIXTURE = {"classify": "classify_run", "sequences": "sequences_run", "text": "text_run",
           "forecast": "forecast_run", "panel": "panel_run", "backtest": "backtest_run",
           "word2vec": "word2vec_file"}


@pytest.fixture(scope="module")
def reports(request) -> dict[str, Path]:
    """Each kind's report: written at the end of training (or by backtest --report), the
    word2vec one by ``rnnlab report``."""
    out = {}
    for kind, name in FIXTURE.items():
        run = request.getfixturevalue(name)
        if kind == "word2vec":
            assert cli.main(["report", str(run), "--quiet"]) == 0
            out[kind] = run.with_name("vectors.report.html")
        else:
            out[kind] = run / "report.html"
        assert out[kind].is_file(), kind
    return out


class _Attributes(HTMLParser):
    def __init__(self):
        super().__init__()
        self.attrs: list[tuple[str, str, str]] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [(tag, k, v or "") for k, v in attrs]


@pytest.mark.parametrize("kind", KINDS)
def test_the_file_stands_alone(reports, kind):
    text = reports[kind].read_text(encoding="utf-8")
    assert reports[kind].stat().st_size < 2_000_000
    parser = _Attributes()
    parser.feed(text)
    assert "script" not in parser.tags and "link" not in parser.tags
    absolute = re.compile(r"(?:\b[a-z][a-z0-9+.-]*://|^\s*//|^\s*(?:javascript|mailto):)", re.I)
    for tag, name, value in parser.attrs:
        if tag == "img" and name == "src":
            assert value.startswith("data:image/png;base64,")
        else:
            assert not absolute.search(value), (tag, name, value[:80])
    assert "url(" not in text and "@import" not in text


def _expected_metrics(run: Path) -> dict[str, str]:
    final = json.loads((run / "metrics.json").read_text())["final"]
    return {k: f"{v:.4f}" for k, v in final.items()
            if isinstance(v, float) and k not in ("epoch", "step", "seconds")}


def _shown(browser, attribute: str) -> dict[str, str]:
    return browser.execute_script(
        f"return Object.fromEntries([...document.querySelectorAll('[{attribute}]')]"
        f".map(e => [e.getAttribute('{attribute}'), e.textContent.trim()]))")


def _open(browser, page: Path, width: int, shot: Path) -> None:
    browser.get_log("browser")  # what an earlier page logged is not this one's

    def screen(height: int) -> None:  # exact: a window cannot be narrower than ~500 px
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 500})

    screen(900)
    browser.get(page.resolve().as_uri())
    height = browser.execute_script(
        "return Math.ceil(document.querySelector('main').getBoundingClientRect().bottom)")
    screen(min(int(height), 8000))  # the whole page in one screenshot
    browser.save_screenshot(str(shot))
    keep = os.environ.get("RNNLAB_SCREENS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / shot.name)


@pytest.mark.parametrize("kind", KINDS)
def test_the_page_renders_at_phone_and_laptop_widths(browser, reports, kind, tmp_path):
    page = reports[kind]
    run = read_run(page.parent if kind != "word2vec" else page.with_name("vectors.txt"))
    for width in WIDTHS:
        _open(browser, page, width, tmp_path / f"report-{kind}-{width}.png")
        severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert severe == [], severe
        images = browser.execute_script(
            "return [...document.images].map(i => [i.complete, i.naturalWidth])")
        assert all(done and w > 0 for done, w in images), images
        assert browser.execute_script("return window.innerWidth") == width
        assert browser.execute_script(
            "return document.documentElement.scrollWidth") <= width  # no sideways page
        assert (tmp_path / f"report-{kind}-{width}.png").stat().st_size > 0
        if kind in ("classify", "sequences", "text", "forecast", "panel"):
            assert _shown(browser, "data-metric") == _expected_metrics(run.path)
        if kind in ("classify", "sequences", "text"):
            tables = 2 if kind == "sequences" else 1  # the val part, and the --test file
            assert browser.execute_script(
                "return document.querySelectorAll('table.cm tbody tr').length") == tables * len(
                run.config["data"]["classes"])
        if kind in ("backtest", "panel"):
            rows = browser.execute_script(
                "return [...document.querySelectorAll('tr[data-model]')].map("
                "r => [r.dataset.model, r.cells[1].textContent])")
            metrics = (run.backtest if kind == "backtest" else run.evaluation)["metrics"]
            assert rows == [[m, f"{metrics[m]['mase']:.4f}"] for m in metrics]
            assert browser.execute_script("return document.querySelectorAll('svg polygon')"
                                          ".length") > 0  # the prediction intervals
            figure = "backtest.png" if kind == "backtest" else "forecast.png"
            assert browser.execute_script(  # and the histories, in the task's figure
                f"return document.querySelectorAll('img[alt=\"{figure}\"]').length") == 1
        if kind == "word2vec":
            assert "Nearest neighbours" in browser.page_source


def test_images_of_mistakes_and_texts_are_shown(reports):
    review = json.loads((reports["classify"].parent / "review.json").read_text())
    page = reports["classify"].read_text()
    assert review["misclassified"] and page.count('alt="example ') == len(
        review["misclassified"])
    text_review = json.loads((reports["text"].parent / "review.json").read_text())
    for m in text_review["misclassified"]:
        assert m["input"]["text"] in reports["text"].read_text()


def test_a_report_of_100_epochs_is_small(tmp_path, classify_run):
    """A long run's report: the curves stay inline SVG, the file well under 2 MB."""
    run = tmp_path / "long"
    shutil.copytree(classify_run, run)
    rows = (run / "metrics.csv").read_text().splitlines()
    head, last = rows[0], rows[-1].split(",")
    lines = [head]
    for epoch in range(1, 101):
        cells = list(last)
        cells[0], cells[1] = str(epoch), str(22 * epoch)
        lines.append(",".join(cells))
    (run / "metrics.csv").write_text("\n".join(lines) + "\n")
    path = write_report(run, tmp_path / "long.html")
    assert path.stat().st_size < 2_000_000
    assert path.read_text().count("<polyline") >= 4  # loss and accuracy, train and val
