"""Arbitrary floats (NaN, infinities, huge, tiny, negative) for the box and heatmap functions:
every input gives a result or a ``ValueError`` that names the argument, never another exception."""

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from cam_boxes_iobb import heatmap_to_boxes, iobb, iou, normalize_heatmap

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
any_float = st.floats(allow_nan=True, allow_infinity=True, width=32)
boxes = arrays(
    np.float32, st.tuples(st.integers(0, 3), st.sampled_from([3, 4, 5])), elements=any_float
)
maps = arrays(np.float32, st.tuples(st.integers(0, 6), st.integers(0, 6)), elements=any_float)


def _call(fn, *args, **kwargs):
    """``(result, None)`` or ``(None, message)`` for a ValueError; anything else propagates."""
    try:
        return fn(*args, **kwargs), None
    except ValueError as error:
        return None, str(error)


@FUZZ
@given(pred=boxes, gt=boxes)
@example(
    pred=np.array([[5.497558e11, 0.0, 0.685, 5.497558e11]], np.float32),
    gt=np.array([[5.4970882e11, 0.0, 5.4970882e11, 5.4970882e11]], np.float32),
)  # x + w - x rounded above w: IoBB 1.00000005 before the overlap was clipped
def test_overlaps(pred, gt):
    for fn in (iobb, iou):
        value, message = _call(fn, pred, gt)
        if message is not None:
            assert "`pred`" in message or "`gt`" in message
            continue
        assert value.shape == (len(pred), len(gt))
        assert bool(((value >= 0) & (value <= 1 + 1e-9)).all())


@FUZZ
@given(cam=maps, size=st.one_of(st.none(), st.tuples(st.integers(-1, 9), st.integers(-1, 9))))
def test_normalize_heatmap(cam, size):
    heatmap, message = _call(normalize_heatmap, cam, size=size)
    if message is not None:
        assert "`cam`" in message or "`size`" in message
        return
    assert bool(((heatmap >= 0) & (heatmap <= 1)).all())


@FUZZ
@given(heatmap=maps, threshold=any_float)
def test_heatmap_to_boxes(heatmap, threshold):
    result, message = _call(heatmap_to_boxes, heatmap, float(threshold))
    if message is not None:
        assert "`heatmap`" in message or "`threshold`" in message
        return
    assert result.ndim == 2 and result.shape[1] == 4
    if len(result):
        assert (result[:, 2:] > 0).all()
        assert (result[:, 0] + result[:, 2] <= heatmap.shape[1]).all()
