"""Metric state is kept one way: every streaming metric merges by summing its counters and
appending its records, so two shards merged hold exactly what one metric fed every image holds;
a metric of other settings or another type is refused, naming what differs."""

from __future__ import annotations

import numpy as np
import pytest

from cam_boxes_iobb import LocalizationMetric, MaxBoxAcc, PointingGame
from cam_boxes_iobb.mask_metrics import MaskMetrics

CLASSES = ("Mass", "Nodule")


def _image(rng: np.random.Generator) -> dict:
    maps = {c: rng.random((8, 8)) ** 2 for c in CLASSES}
    boxes = {c: [[*rng.uniform(0, 20, 2), *rng.uniform(2, 10, 2)]] for c in CLASSES}
    pred = {c: [[*rng.uniform(0, 20, 2), *rng.uniform(2, 10, 2)]] for c in CLASSES}
    masks = {c: rng.random((16, 16)) > 0.7 for c in CLASSES}
    return {"maps": maps, "boxes": boxes, "pred": pred, "masks": masks}


METRICS = {
    "fixed": (
        lambda **kw: LocalizationMetric(CLASSES, (0.1, 0.5), keep_records=True, **kw),
        lambda m, im: m.update(im["pred"], im["boxes"]),
        {"mode": "iou"},
    ),
    "max_box_acc": (
        lambda **kw: MaxBoxAcc.v2(
            CLASSES, thresholds=np.linspace(0, 0.9, 7), keep_records=True, **kw
        ),
        lambda m, im: m.update(im["maps"], im["boxes"], size=(32, 32)),
        {"normalization": "max"},
    ),
    "pointing": (
        lambda **kw: PointingGame(CLASSES, **{"tolerance": 2.0, "keep_records": True, **kw}),
        lambda m, im: m.update(im["maps"], im["boxes"], size=(32, 32)),
        {"tolerance": 5.0},
    ),
    "masks": (
        lambda **kw: MaskMetrics(CLASSES, **{"threshold": 0.5, "keep_records": True, **kw}),
        lambda m, im: m.update(im["maps"], im["masks"]),
        {"threshold": 0.3},
    ),
}


def _same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if np.asarray(a[key]).dtype.kind == "f":  # sums in another order: last-bit differences
            np.testing.assert_allclose(a[key], b[key], rtol=1e-12, equal_nan=True, err_msg=key)
        else:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.mark.parametrize("name", METRICS)
@pytest.mark.parametrize("seed", [0, 1])
def test_two_shards_merged_hold_what_one_metric_holds(name, seed):
    make, update, _ = METRICS[name]
    rng = np.random.default_rng(seed)
    images = [_image(rng) for _ in range(9)]
    whole, first, second = make(), make(), make()
    for i, image in enumerate(images):
        update(whole, image)
        update(first if i < 4 else second, image)
    first.merge(second)
    _same_state(first.state_dict(), whole.state_dict())
    merged, reference = list(_numbers(first.compute())), list(_numbers(whole.compute()))
    assert merged and len(merged) == len(reference)
    np.testing.assert_allclose(merged, reference, equal_nan=True)


def _numbers(result):
    if isinstance(result, dict):
        for value in result.values():
            yield from _numbers(value)
    elif isinstance(result, int | float):
        yield float(result)


@pytest.mark.parametrize("name", METRICS)
def test_other_settings_are_refused_naming_them(name):
    make, _, other = METRICS[name]
    with pytest.raises(ValueError, match=rf"different settings: \[{next(iter(other))!r}\]"):
        make().merge(make(**other))


def test_another_type_is_refused():
    with pytest.raises(ValueError, match="Cannot merge a PointingGame into a LocalizationMetric"):
        LocalizationMetric(CLASSES).merge(PointingGame(CLASSES))
