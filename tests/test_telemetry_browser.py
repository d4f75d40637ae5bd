"""The timeline in a real JupyterLab: notebooks/02-telemetry.ipynb run in Chromium, then the
timeline output looked at in the light and the dark theme (screenshots in artifacts/telemetry/).
"""

from __future__ import annotations

import json
import pathlib
import re
from typing import Any

import pytest
import test_browser

pytestmark = pytest.mark.browser

server = test_browser.server  # a JupyterLab of its own for this module
page = test_browser.page

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "02-telemetry.ipynb"
ARTIFACTS = ROOT / "artifacts" / "telemetry"
THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}

# WCAG contrast of every text of the timeline against what is behind it: its bar's fill for a
# bar's label, else the figure's own opaque card.
CONTRAST = """
() => {
    const svg = document.querySelector('.jp-OutputArea-output .pointy-timeline svg');
    const parse = c => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
    const lum = ([r, g, b]) => {
        const f = v => {
            v /= 255;
            return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
        };
        return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const fill = el => lum(parse(getComputedStyle(el).fill));
    const card = fill(svg.querySelector('#pointy-timeline-card path'));
    return [...svg.querySelectorAll('text')].map(text => {
        const group = text.closest('g[id^="pointy-attempt-label-"]');
        const back = group
            ? fill(svg.querySelector(`#${group.id.replace('-label', '')} path`))
            : card;
        const front = fill(text);
        return [text.textContent, (Math.max(front, back) + 0.05) / (Math.min(front, back) + 0.05)];
    });
}
"""

# Each attempt's tooltip: "Fetch attempt 1: retrying, 0.000 s (...), on the critical path".
BARS = """
() => [...document.querySelectorAll(
        '.jp-OutputArea-output .pointy-timeline g[id^="pointy-attempt-"] > title')]
    .map(title => title.textContent)
"""


def open_and_run(page: Any, url: str) -> None:
    page.goto(f"{url}/lab")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.serviceManager")
    page.evaluate(
        """async content => {
            await jupyterapp.restored;
            await jupyterapp.serviceManager.contents.save('02-telemetry.ipynb',
                {type: 'notebook', format: 'json', content});
            await jupyterapp.commands.execute('docmanager:open', {path: '02-telemetry.ipynb'});
        }""",
        json.loads(NOTEBOOK.read_text(encoding="utf-8")),
    )
    page.wait_for_function(
        "() => { const w = jupyterapp.shell.currentWidget; return w && w.sessionContext; }"
    )
    page.evaluate(
        """async () => {
            const panel = jupyterapp.shell.currentWidget;
            await panel.context.ready;
            await panel.sessionContext.ready;
            await panel.sessionContext.session.kernel.info;
        }"""
    )
    # Cleared first, so the timeline that shows is the one this run drew.
    page.evaluate("() => jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    test_browser.run_all_and_wait(page)


def test_the_timeline_reads_in_light_and_dark_themes(page: Any, server: str) -> None:
    open_and_run(page, server)
    timeline = page.locator(".jp-OutputArea-output .pointy-timeline svg").first
    timeline.wait_for()
    timeline.scroll_into_view_if_needed()
    tips = page.evaluate(BARS)
    bars = [re.match(r"(\w+) attempt \d+: (\w+),", tip).groups() for tip in tips]
    assert bars == [
        ("Fetch", "retrying"),
        ("Fetch", "retrying"),
        ("Fetch", "succeeded"),
        ("Parse", "succeeded"),
        ("Stats", "succeeded"),
        ("Validate", "failed"),
        ("Alert", "succeeded"),
        ("Cleanup", "succeeded"),
    ]
    critical = {bar[0] for bar, tip in zip(bars, tips) if tip.endswith("on the critical path")}
    assert critical == {"Fetch", "Parse", "Validate", "Alert", "Cleanup"}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    backgrounds = {}
    for name, theme in THEMES.items():
        test_browser.switch_theme(page, theme)
        page.wait_for_timeout(300)  # the theme's stylesheet is applied after the attribute
        backgrounds[name] = page.evaluate(
            "() => getComputedStyle(document.querySelector("
            "'.jp-OutputArea-output .pointy-timeline #pointy-timeline-card path')).fill"
        )
        contrasts = page.evaluate(CONTRAST)
        words = {text for text, _ in contrasts}
        assert {"Parse", "MainThread", "critical path", "retry wait", "succeeded"} <= words
        low = [(text, ratio) for text, ratio in contrasts if ratio < 4.5]
        assert low == [], (name, low)
        timeline.screenshot(path=str(ARTIFACTS / f"timeline-{name}.png"))
        # The whole cell too: how the card sits on the theme's page.
        cell = page.locator(".jp-Cell", has=page.locator(".pointy-timeline")).first
        cell.screenshot(path=str(ARTIFACTS / f"timeline-cell-{name}.png"))
    # An opaque card of its own: what is on it reads the same whatever the theme behind it.
    assert backgrounds == {"light": "rgb(255, 255, 255)", "dark": "rgb(255, 255, 255)"}
