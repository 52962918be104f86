"""voxlib.report in a real browser: every image and audio player of index.html loads, with no network.

Renders the index of a small run (tests/test_report.py's fake run: a sweep, one cloned pair with its
figures and WAVs) in headless Chromium with every host name unresolvable, after injecting a script
that writes, once the page and its players have loaded, whether each ``<img>`` decoded
(``complete && naturalWidth > 0``) and each ``<audio>`` read its metadata (``readyState >= 1``, no
``error``). Skips when Chromium is not installed (``apt-get install chromium``).
"""
from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from test_report import _fake_cloning, _fake_run, _parse  # the fake run folder of the report's tests
from synthetic_sweep import write_synthetic_sweep
from voxlib import report

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None)
# Written into the page: waits (at most 4 s of the page's time) until every player has its metadata or
# an error, then writes [kind, src, loaded] for each image and player as JSON into <pre id=...>.
_CHECK = """<script>
window.addEventListener("load", function () {
  var players = Array.prototype.slice.call(document.querySelectorAll("audio"));
  var waited = 0;
  (function check() {
    var settled = players.every(function (a) { return a.readyState >= 1 || a.error; });
    if (!settled && waited < 4000) { waited += 100; setTimeout(check, 100); return; }
    var rows = [];
    document.querySelectorAll("img").forEach(function (e) {
      rows.push(["img", e.getAttribute("src"), e.complete && e.naturalWidth > 0]); });
    players.forEach(function (e) { rows.push(["audio", e.getAttribute("src"), e.readyState >= 1 && !e.error]); });
    var out = document.createElement("pre");
    out.id = "voxlib-load-check";
    out.textContent = JSON.stringify(rows);
    document.body.appendChild(out);
  })();
});
</script>"""


def _render(page: Path, profile: Path) -> str:
    """The DOM of ``page`` after Chromium loaded it (5 s of virtual time), nothing resolvable on the network."""
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
           "--host-resolver-rules=MAP * ~NOTFOUND", "--virtual-time-budget=5000", "--dump-dom", page.as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_every_image_and_player_of_the_index_loads_offline(tmp_path):
    if CHROMIUM is None:
        pytest.skip("chromium not installed: apt-get install chromium")
    run_dir = _fake_run(tmp_path / "quick")
    write_synthetic_sweep(run_dir / "sweep", seeds=(0, 1), baselines=True)
    _fake_cloning(run_dir, float_target=True)
    index = report.build_report(run_dir)
    page = index.read_text()
    assert report.external_references(page) == []
    expected = [(t, v) for t, k, v in _parse(page).refs if t in ("img", "audio")]
    assert [t for t, _ in expected].count("img") == 3 and [t for t, _ in expected].count("audio") == 4

    check = index.with_name("load_check.html")
    check.write_text(page.replace("</body>", _CHECK + "</body>"), encoding="utf-8")
    dom = _render(check, tmp_path / "chromium-profile")
    found = re.search(r'<pre id="voxlib-load-check">(.*?)</pre>', dom, re.S)
    assert found, "the check script did not run: " + dom[-500:]
    rows = json.loads(html.unescape(found.group(1)))
    assert [(kind, src) for kind, src, _ in rows] == expected
    assert [src for _, src, loaded in rows if not loaded] == []
