"""The HTML report in headless Chromium: no console errors, every image loaded, a screenshot.

Runs where Chromium is installed (``.ci/run`` installs Debian's ``chromium``); skipped, with
the reason, elsewhere. A copy of the page with a small probe script (error listener first in
``<head>``, image check on ``load``) is rendered with ``--dump-dom``; the probe writes its
findings into the DOM. Console messages logged by Chromium (``--enable-logging=stderr``) fail
the test too: the report itself has no script, so any console line is the browser complaining
about the page. Set ``TUNECOST_SCREENSHOT_DIR`` to keep the screenshots.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tunecost.reports import ReportFiles

CHROMIUM = next(
    (p for p in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium")
     if p and Path(p).exists()),
    None,
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium is not installed (apt-get install chromium)"
)

_PROBE = """<script>
window.__errors = [];
window.addEventListener('error', function (e) {
  window.__errors.push(String(e.message || (e.target && (e.target.src || '').slice(0, 60))));
}, true);
window.addEventListener('load', function () {
  var imgs = Array.prototype.map.call(document.images, function (i) {
    return {ok: i.complete && i.naturalWidth > 0, w: i.naturalWidth, h: i.naturalHeight};
  });
  var pre = document.createElement('pre');
  pre.id = 'tunecost-probe';
  pre.textContent = JSON.stringify({images: imgs, errors: window.__errors});
  document.body.appendChild(pre);
});
</script>"""


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
    ]
    assert CHROMIUM is not None
    return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True,
                          timeout=180, check=False)


def _console_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


@pytest.mark.parametrize("which", ["lisa_report", "h200_report"])
def test_html_renders_in_chromium(which: str, request: pytest.FixtureRequest,
                                  tmp_path: Path) -> None:
    report: ReportFiles = request.getfixturevalue(which)
    html = report.html.read_text(encoding="utf-8")
    probe = tmp_path / "probe.html"
    probe.write_text(html.replace("<head>", "<head>" + _PROBE, 1), encoding="utf-8")
    run = _chromium(["--virtual-time-budget=10000", "--dump-dom", probe.as_uri()],
                    tmp_path / "profile")
    assert run.returncode == 0, run.stderr[-2000:]
    found = re.search(r'<pre id="tunecost-probe">(.*?)</pre>', run.stdout, re.S)
    assert found, "the page did not finish loading"
    result = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert result["errors"] == []
    assert len(result["images"]) == len(report.pngs) > 0
    assert all(i["ok"] and i["w"] > 100 and i["h"] > 100 for i in result["images"])
    assert _console_lines(run.stderr) == []

    # The page as a reader sees it, unmodified.
    keep = os.environ.get("TUNECOST_SCREENSHOT_DIR")
    shot = (Path(keep) if keep else tmp_path) / f"{which}.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    run = _chromium([f"--screenshot={shot}", "--window-size=1280,4000", "--hide-scrollbars",
                     report.html.as_uri()], tmp_path / "profile2")
    assert run.returncode == 0, run.stderr[-2000:]
    assert _console_lines(run.stderr) == []
    assert shot.exists() and shot.stat().st_size > 50_000


_FIRST_SCREEN = """<script>
window.addEventListener('load', function () {
  var found = null;
  Array.prototype.forEach.call(document.querySelectorAll('table'), function (t) {
    var heads = Array.prototype.map.call(t.querySelectorAll('thead th'),
                                         function (th) { return th.textContent; });
    if (!found && heads.join('|') === 'total|P5|P50|P95') {
      var r = t.getBoundingClientRect();
      found = {top: r.top, bottom: r.bottom, left: r.left, right: r.right,
               rows: Array.prototype.map.call(t.querySelectorAll('tbody tr'),
                                              function (tr) { return tr.cells[0].textContent; })};
    }
  });
  var pre = document.createElement('pre');
  pre.id = 'tunecost-probe';
  pre.textContent = JSON.stringify({table: found, vw: window.innerWidth, vh: window.innerHeight,
                                    scroll: window.scrollY});
  document.body.appendChild(pre);
});
</script>"""


@pytest.mark.parametrize("which", ["lisa_report", "h200_report"])
def test_first_screen_shows_the_totals_table(which: str, request: pytest.FixtureRequest,
                                             tmp_path: Path) -> None:
    """At 1280 × 800, the P5/P50/P95 totals table is on screen without scrolling."""
    report: ReportFiles = request.getfixturevalue(which)
    html = report.html.read_text(encoding="utf-8")
    probe = tmp_path / "first.html"
    probe.write_text(html.replace("<head>", "<head>" + _FIRST_SCREEN, 1), encoding="utf-8")
    run = _chromium(["--window-size=1280,800", "--hide-scrollbars",
                     "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()],
                    tmp_path / "profile")
    assert run.returncode == 0, run.stderr[-2000:]
    found = re.search(r'<pre id="tunecost-probe">(.*?)</pre>', run.stdout, re.S)
    assert found, "the page did not finish loading"
    probed = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    table = probed["table"]
    assert table is not None, "no P5/P50/P95 totals table in the page"
    # Chromium may keep some of the window for itself: the table must fit what is left.
    assert probed["scroll"] == 0 and probed["vw"] >= 1200 and 500 <= probed["vh"] <= 800
    assert 0 <= table["top"] and table["bottom"] <= probed["vh"], probed  # wholly on screen
    assert table["rows"][:5] == ["trials", report.hours_unit, "wall clock (hours)",
                                 "energy (kWh)", "CO2e (kg)"]

    # The unmodified page's first screen: the table's area is drawn (borders and digits),
    # not blank.
    from PIL import Image

    keep = os.environ.get("TUNECOST_SCREENSHOT_DIR")
    shot = (Path(keep) if keep else tmp_path) / f"{which}_first_screen.png"
    run = _chromium([f"--screenshot={shot}", "--window-size=1280,800", "--hide-scrollbars",
                     report.html.as_uri()], tmp_path / "profile2")
    assert run.returncode == 0, run.stderr[-2000:]
    img = Image.open(shot).convert("L")
    assert img.size == (1280, 800)
    box = img.crop((int(table["left"]), int(table["top"]), int(table["right"]),
                    int(table["bottom"])))
    assert (np.asarray(box) < 128).mean() > 0.01
