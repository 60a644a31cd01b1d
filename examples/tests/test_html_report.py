"""report.html opened from disk in headless Chromium: the switches change what is shown as the
run's own records say they should, the keyboard moves through the images, and nothing logs an
error. A screenshot goes to the test's output folder."""

import json

import numpy as np
import pytest
from browser import open_report

from cxr_paper.scoring.results import ModelResult


@pytest.fixture(scope="module")
def page(smoke_run, chromium):
    out, _ = smoke_run
    with open_report(out / "report.html", chromium) as (page, errors):
        yield page, out, errors


def viewers(out):
    models = json.loads((out / "config.json").read_text())["models"]
    return {m: ModelResult.load(out / m).test.viewer for m in models}


def shown_boxes(page):
    return {
        f.get_attribute("data-model"): (
            int(f.get_attribute("data-gt-boxes")),
            int(f.get_attribute("data-pred-boxes")),
        )
        for f in page.query_selector_all("#panels figure")
    }


def expected_boxes(records, name, kind, klass):
    result = {}
    for model, viewer in records.items():
        entry = viewer[name]["kinds"][kind].get(klass)
        gt = len(viewer[name]["gt"].get(klass, []))
        result[model] = (gt, 0 if entry is None else len(entry["boxes"]))
    return result


def current(page, name=None, kind=None, klass=None):
    """``(image name, class)`` drawn once the page has drawn what is expected (``None``: any)."""
    page.wait_for_function(
        """([name, kind, klass]) => {
            const shown = (document.body.dataset.shown || "").split("|");
            const wanted = [name, kind, klass];
            return shown.length === 3 && wanted.every((v, i) => v === null || v === shown[i]);
        }""",
        arg=[name, kind, klass],
    )
    shown = page.evaluate("document.body.dataset.shown").split("|")
    return shown[0], shown[2]


def test_opens_with_every_box_image_and_no_error(page, tmp_path):
    page, out, errors = page
    records = viewers(out)
    names = set(next(iter(records.values())))
    assert page.inner_text("#count") == f"{len(names)} of {len(names)} test images with GT boxes"
    listed = [li.inner_text().split("\n")[0] for li in page.query_selector_all("#list li")]
    assert set(listed) == names
    assert "Table 1" in page.inner_text("#tables") and page.query_selector("#tables table")
    page.screenshot(path=str(tmp_path / "report_html.png"), full_page=False)
    print(f"screenshot: {tmp_path / 'report_html.png'}")
    assert errors == []


def test_switches_change_what_is_shown(page):
    page, out, errors = page
    records = viewers(out)
    page.select_option("#sort", "name")
    items = page.query_selector_all("#list li")
    target = items[-1].inner_text().split("\n")[0]
    items[-1].click()
    name, klass = current(page, target, "cam")
    assert shown_boxes(page) == expected_boxes(records, name, "cam", klass)
    page.select_option("#kind", "pcm")
    page.wait_for_function(
        "document.querySelector('#panels figcaption').textContent.includes('CAM + PCM')"
    )
    assert current(page)[0] == name  # the image stays
    assert shown_boxes(page) == expected_boxes(records, name, "pcm", klass)
    chips = [b.get_attribute("data-klass") for b in page.query_selector_all("#chips button")]
    other = chips[(chips.index(klass) + 1) % len(chips)]
    page.click(f"#chips button[data-klass='{other}']")
    assert current(page, name, "pcm", other) == (name, other)
    assert shown_boxes(page) == expected_boxes(records, name, "pcm", other)
    assert errors == []


def test_class_filter_and_misses_only(page):
    page, out, errors = page
    records = viewers(out)
    page.select_option("#kind", "cam")
    page.select_option("#sort", "misses")
    first = next(iter(records.values()))
    klass = sorted({c for record in first.values() for c in record["gt"]})[0]
    page.select_option("#klass", klass)
    with_class = [n for n, r in first.items() if klass in r["gt"]]
    assert page.inner_text("#count").startswith(f"{len(with_class)} of ")
    assert current(page, kind="cam", klass=klass)[0] in with_class
    page.select_option("#klass", "all")
    rank = page.eval_on_selector("#rank", "s => s.value")
    missed = [
        n
        for n, r in records[rank].items()
        if sum(len(e["hits"]) - int(np.sum(e["hits"])) for e in r["kinds"]["cam"].values())
    ]
    page.check("#misses-only")
    assert page.inner_text("#count").startswith(f"{len(missed)} of ")
    page.uncheck("#misses-only")
    assert errors == []


def test_keyboard_moves_through_the_images(page):
    page, _, errors = page
    page.select_option("#sort", "name")
    names = [li.inner_text().split("\n")[0] for li in page.query_selector_all("#list li")]
    page.query_selector_all("#list li")[0].click()
    current(page, names[0])
    page.keyboard.press("j")
    current(page, names[1])
    page.keyboard.press("ArrowUp")
    _, before = current(page, names[0])
    chips = [b.get_attribute("data-klass") for b in page.query_selector_all("#chips button")]
    page.keyboard.press("ArrowRight")
    after = chips[(chips.index(before) + 1) % len(chips)]
    assert current(page, names[0], klass=after) == (names[0], after)
    assert errors == []


def test_the_page_holds_data_but_no_inline_code(smoke_run):
    import re

    out, _ = smoke_run
    html = (out / "report.html").read_text()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.S)
    assert [attributes.strip() for attributes, _ in scripts] == [
        'type="application/json" id="index"',
        'src="report_files/viewer.js"',
    ]
    assert scripts[1][1] == ""
    assert (out / "report_files" / "viewer.js").read_text().startswith('"use strict";')
