"""The student's view in a real browser: JupyterLab + headless Chromium, offline.

For every released and every solution notebook: open it in a real `jupyter lab`,
run all cells through the menus, and check what a student would see: errors only
where expected, every formula rendered without a MathJax error, every widget
rendered (in a release, each explorer shows one friendly line, not a traceback; in
a solution, a control that moves its plot), and no request to anything but the
local server (a classroom with no internet). A screenshot of each lands in
test-output/browser/, with a report.json of timings and the actions taken.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time

import pytest

from browser import CHROMIUM_ARGS, HOW_TO_GET_A_BROWSER, LabPage, find_chromium, jupyter_lab
from conftest import ASSIGNMENTS, ROOT

OUT = ROOT / "test-output" / "browser"
EXPECTED_IN_RELEASE = ("NotImplementedError", "NameError")
# What an explorer says while its exercise is not done (attnlab.widgets.friendly_message).
FRIENDLY = re.compile(r"^Finish `\w+` above to use this explorer\.$")
REPORT: dict = {}


@pytest.fixture(scope="module")
def browser():
    path = find_chromium()
    if path is None:
        if os.environ.get("ATTNLAB_REQUIRE_BROWSER"):
            pytest.fail(HOW_TO_GET_A_BROWSER)
        pytest.skip(HOW_TO_GET_A_BROWSER)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A lab server on a copy of the course, so running cells never writes into the repo."""
    root = tmp_path_factory.mktemp("lab")
    for folder in ("notebooks", "solutions"):
        shutil.copytree(ROOT / folder, root / folder)
    OUT.mkdir(parents=True, exist_ok=True)
    with jupyter_lab(root, OUT / "jupyter-lab.log") as server:
        yield server
    (OUT / "report.json").write_text(json.dumps(REPORT, indent=1))


def _move_a_control(lab_page: LabPage) -> str:
    """Change the first slider or drop-down of an explorer; return what was done.

    Fails unless the picture in that explorer's output changes.
    """
    page = lab_page.page
    widget = page.locator(".widget-interact").first
    widget.scroll_into_view_if_needed()
    img = widget.locator(".widget-output img").first
    before = img.get_attribute("src")
    dropdown = widget.locator("select")
    if dropdown.count():
        options = dropdown.first.locator("option").all_text_contents()
        dropdown.first.select_option(index=len(options) - 1)
        action = f"chose {options[-1]!r} in the first drop-down"
    else:
        handle = widget.locator(".noUi-handle").first
        handle.click()
        for _ in range(3):
            handle.press("ArrowRight")
        action = "moved the first slider 3 steps right"
    lab_page.actions.append(action)
    page.wait_for_function(
        "([el, before]) => el.querySelector('.widget-output img') && "
        "el.querySelector('.widget-output img').getAttribute('src') !== before",
        arg=[widget.element_handle(), before], timeout=30_000)
    lab_page.wait_idle()
    return action


def _check_bertviz_views(lab_page: LabPage) -> None:
    """BertViz's head and model views drew the model's attention, with no CDN to load from."""
    page = lab_page.page
    page.wait_for_function(
        """() => { const v = document.querySelectorAll('div.attnlab-bertviz svg');
                   return v.length >= 4 && Array.from(v).every(s => s.querySelectorAll('text').length) }""",
        timeout=30_000)
    heads = page.locator("div.attnlab-bertviz[data-view='head']")
    assert heads.count() == 3  # the lecture's sentence, the pair, the student's own sentence
    left = heads.first.locator("svg g#left text").all_text_contents()
    assert "animal" in left and "it" in left and "[CLS]" in left, left
    pair = heads.nth(1).locator("svg g#left text").all_text_contents()
    assert "[SEP]" in pair and "tired" in pair, pair
    model = page.locator("div.attnlab-bertviz[data-view='model']")
    assert model.count() == 1
    # 6 layers x 12 heads of thumbnails, each an attention pattern drawn as lines.
    assert model.first.locator("svg line, svg path").count() > 72
    # What stock BertViz shows offline (the narrative quotes it, so look in outputs only).
    outputs = page.locator(".jp-OutputArea-output")
    for text in ("Javascript Error", "require is not defined"):
        assert outputs.filter(has_text=text).count() == 0, text
    lab_page.actions.append("found the head views (tokens) and the model view rendered offline")


@pytest.mark.parametrize("folder", ["notebooks", "solutions"])
@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_notebook_in_jupyterlab(aid, folder, browser, lab):
    base_url, token = lab
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    lab_page = LabPage(context.new_page(), base_url)
    start = time.time()
    try:
        lab_page.open(f"{folder}/{aid}/{aid}.ipynb", token)
        trust = lab_page.page.locator(".jp-StatusItem-trust").get_attribute("title") or ""
        assert "not trusted" not in trust.lower(), trust

        lab_page.run_all()
        assert lab_page.unexecuted_code_cells() == []

        errors = lab_page.error_texts()
        if folder == "solutions":
            assert errors == [], errors[:2]
        else:
            assert errors, "the release ran without a single NotImplementedError"
            unexpected = [e for e in errors if not any(n in e for n in EXPECTED_IN_RELEASE)]
            assert unexpected == [], unexpected[:2]

        math = lab_page.math()
        assert math["errors"] == [], f"MathJax could not render: {math['errors'][:3]}"
        assert math["unrendered"] == [], f"TeX left as text: {math['unrendered'][:2]}"
        assert math["formulas"] > 0, "no formula rendered: is MathJax working?"
        lab_page.actions.append(f"{math['formulas']} formulas rendered, no MathJax error")

        page = lab_page.page
        if aid == "07_bertviz":
            _check_bertviz_views(lab_page)
        assert page.locator(".widget-interact").count() >= 1, "no explorer widget rendered"
        for text in ("Loading widget", "Error displaying widget"):
            assert page.get_by_text(text).count() == 0, text
        explorers = lab_page.explorers()
        assert all(e["errors"] == 0 for e in explorers), [e["text"][:300] for e in explorers if e["errors"]]
        if folder == "notebooks":
            # Each explorer waits for an exercise: one friendly line, no picture, no traceback.
            assert [e["text"] for e in explorers if not FRIENDLY.match(e["text"]) or e["images"]] == []
            lab_page.actions.append("explorers say: " + "; ".join(sorted({e["text"] for e in explorers})))
        else:
            assert all(e["images"] and "to use this explorer" not in e["text"] for e in explorers), explorers
            _move_a_control(lab_page)
        page.screenshot(path=str(OUT / f"{folder}-{aid}.png"))
        assert lab_page.blocked == [], f"the page needed the internet: {lab_page.blocked}"
    finally:
        REPORT[f"{folder}/{aid}"] = {"seconds": round(time.time() - start, 1),
                                     "actions": lab_page.actions, "blocked": lab_page.blocked}
        context.close()
