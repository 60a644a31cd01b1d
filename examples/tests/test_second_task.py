"""A task that is not NIH's — VinDr-CXR-style classes, boxes of two readers in a 2048 x 1536
frame — through the run's evaluation, its intervals, records, maps files and report.html, and
the run's numbers reproduced by ``python -m cam_boxes_iobb score`` on the maps it wrote, against
the same boxes written as COCO JSON."""

import json
import re

import numpy as np
import pytest
import torch
from browser import open_report
from planted_task import SIZE, TASK, planted_batches

from cam_boxes_iobb.annotations import Annotations, ImageAnnotation
from cam_boxes_iobb.cli import main as score_command
from cam_boxes_iobb.formats import write_coco
from cxr_paper.machine.distributed import DistContext
from cxr_paper.reporting.document import Document
from cxr_paper.reporting.html_report import write_html_report
from cxr_paper.scoring.evaluation import evaluate_test
from cxr_paper.scoring.records import RECORDS_FILE, save_records, save_test_maps
from cxr_paper.scoring.uncertainty import model_intervals

CPU = DistContext(0, 1, 0, torch.device("cpu"))


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """The planted model evaluated on the second task, its records, maps and report.html."""
    tmp_path = tmp_path_factory.mktemp("second_task")
    batches, model, gt_frame = planted_batches(np.random.default_rng(0))
    test = evaluate_test(model, None, batches, CPU, desc="vindr", task=TASK)
    save_records(test, tmp_path)
    (maps_file,) = save_test_maps(test, tmp_path)
    page = write_html_report(
        tmp_path / "report.html",
        Document().heading("VinDr", 1),
        {"m": test.viewer},
        {},
        "vindr",
        0.5,
        0.7,
        TASK,
    )
    return tmp_path, test, gt_frame, maps_file, page


def test_second_task_end_to_end(scored):
    tmp_path, test, gt_frame, maps_file, page = scored
    assert test.task == TASK and test.probs.shape == (12, 3)
    assert set(test.localization["cam"].iobb["0.1"]) == {*TASK.box_classes, "mean"}
    intervals = model_intervals(test, 100, 0)
    assert set(intervals.auroc) == {*TASK.classes, "mean"}
    assert set(intervals.localization["cam"]["accuracy"]) == {*TASK.box_classes, "mean"}

    records = np.load(tmp_path / RECORDS_FILE)
    assert (
        records["classes"].tolist() == list(TASK.classes) and records["cam.gt_boxes"].shape[1] == 2
    )
    index = json.loads(
        re.search(
            r'<script type="application/json" id="index">(.*?)</script>', page.read_text(), re.S
        ).group(1)
    )
    assert index["classes"] == list(TASK.box_classes) and "2048 × 1536" in index["frame"]
    assert "NIH" not in page.read_text().split('id="index">')[0]

    annotations = Annotations(TASK.classes, source="planted")
    for name in test.maps["cam"]["ids"]:
        patient, boxes = gt_frame[name]
        image = ImageAnnotation(name, str(patient), *TASK.box_frame)
        for label, rows in boxes.items():
            for row, reader in zip(rows, ("R1", "R2"), strict=True):
                image.add_box(label, row, reader)
        annotations.add(image)
    coco = write_coco(annotations, tmp_path / "vindr.json")
    out = tmp_path / "score"
    assert (
        score_command(
            [
                "score",
                "--maps",
                str(maps_file),
                "--annotations",
                str(coco),
                "--score-size",
                str(SIZE),
                str(SIZE),
                "--out",
                str(out),
                "--resamples",
                "0",
            ]
        )
        == 0
    )
    results = json.loads((out / "score.json").read_text())["maps"]["cam"]["results"]
    run = test.localization["cam"]
    for label in [*TASK.box_classes, "mean"]:
        assert results["accuracy"]["0.1"][label]["estimate"] == pytest.approx(
            run.iobb["0.1"][label].accuracy
        )
        assert results["afp"]["0.1"][label]["estimate"] == pytest.approx(run.iobb["0.1"][label].afp)
        assert results["max_box_acc_v2"][label]["estimate"] == pytest.approx(
            run.max_box_acc_v2[label].max_box_acc
        )
        assert results["pointing_game"][label]["estimate"] == pytest.approx(
            run.pointing_game[label].accuracy
        )
    assert 0 < run.iobb["0.1"]["mean"].accuracy < 1  # neither trivially all nor nothing


def test_report_html_renders_the_second_task(scored, chromium):
    _, test, _, _, page_path = scored
    with open_report(page_path, chromium) as (page, errors):
        options = [o.inner_text() for o in page.query_selector_all("#klass option")]
        listed = page.query_selector_all("#list li")
        caption = page.inner_text("body")
    assert [o for o in options if o in TASK.classes] == list(TASK.box_classes)
    assert len(listed) == len(test.viewer) > 0
    assert "2048 × 1536" in caption and errors == []
