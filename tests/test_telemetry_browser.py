"""The timeline in a real JupyterLab: notebooks/02-telemetry.ipynb run in Chromium, then the
timeline output looked at in the light and the dark theme (screenshots in artifacts/telemetry/).
"""

from __future__ import annotations

import json
import pathlib
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

# WCAG contrast of an SVG element's computed fill against the timeline's own background.
CONTRAST = """
([selector, property]) => {
    const svg = document.querySelector('.jp-OutputArea-output .pointy-timeline svg');
    const parse = c => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
    const lum = ([r, g, b]) => {
        const f = v => {
            v /= 255;
            return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
        };
        return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const back = lum(parse(getComputedStyle(svg.querySelector('rect')).fill));
    return [...svg.querySelectorAll(selector)].map(el => {
        const front = lum(parse(getComputedStyle(el)[property]));
        return (Math.max(front, back) + 0.05) / (Math.min(front, back) + 0.05);
    });
}
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
    bars = page.evaluate(
        """() => [...document.querySelectorAll(
            '.jp-OutputArea-output .pointy-timeline rect[data-node]')]
            .map(r => [r.dataset.node, r.dataset.state, r.dataset.critical])"""
    )
    assert [bar[:2] for bar in bars] == [
        ["Fetch", "retrying"],
        ["Fetch", "retrying"],
        ["Fetch", "succeeded"],
        ["Parse", "succeeded"],
        ["Stats", "succeeded"],
        ["Validate", "failed"],
        ["Alert", "succeeded"],
        ["Cleanup", "succeeded"],
    ]
    assert {bar[0] for bar in bars if bar[2] == "true"} == {
        "Fetch", "Parse", "Validate", "Alert", "Cleanup",
    }  # fmt: skip
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    backgrounds = {}
    for name, theme in THEMES.items():
        page.evaluate(
            "theme => jupyterapp.commands.execute('apputils:change-theme', {theme})", theme
        )
        light = "true" if name == "light" else "false"
        page.wait_for_function(f"() => document.body.dataset.jpThemeLight === '{light}'")
        page.wait_for_timeout(300)  # the theme's stylesheet is applied after the attribute
        backgrounds[name] = page.evaluate(
            "() => getComputedStyle(document.querySelector("
            "'.jp-OutputArea-output .pointy-timeline svg rect')).fill"
        )
        # Lane names, ticks, the legend and the critical path line against the background.
        texts = page.evaluate(CONTRAST, ["text[style]", "fill"])
        assert texts
        assert min(texts) >= 4.5, (name, texts)
        # The critical path's outline is a non-text element: WCAG asks 3:1.
        outlines = page.evaluate(CONTRAST, ["rect[data-critical='true']", "stroke"])
        assert min(outlines) >= 3.0, (name, outlines)
        timeline.screenshot(path=str(ARTIFACTS / f"timeline-{name}.png"))
    assert backgrounds["light"] != backgrounds["dark"]  # it follows the theme
