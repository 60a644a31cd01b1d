"""The torchmetrics versions compute what the numpy metrics compute, on one process and synced as
sums across two (gloo)."""

import os

import pytest

if os.environ.get("CXR_REQUIRE_TEST_DEPENDENCIES"):  # the full session installs the extra
    import torch
    import torchmetrics  # noqa: F401
else:
    torch = pytest.importorskip("torch", reason="the [torchmetrics] extra is not installed")
    pytest.importorskip("torchmetrics", reason="the [torchmetrics] extra is not installed")

import numpy as np
import torch.multiprocessing as mp
from metric_worker import (
    CLASSES,
    numpy_results,
    random_images,
    rank_main,
    torch_metrics,
    torch_results,
)

from cam_boxes_iobb import LocalizationMetric, MaxBoxAcc, PointingGame
from cam_boxes_iobb.bootstrap import resample_weights
from cam_boxes_iobb.torch_metrics import LocalizationAccuracy, MaxBoxAccuracy, PointingGameAccuracy


def assert_same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert a[key] == pytest.approx(b[key], nan_ok=True), key


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equal_to_the_numpy_metrics(seed):
    images = random_images(seed, 11)
    assert_same(torch_results(images), numpy_results(images))


def test_states_are_sum_reduced_tensors():
    for metric in torch_metrics():
        assert metric._reductions and all(
            fx is torch.sum or getattr(fx, "__name__", "") in ("dim_zero_sum", "sum")
            for fx in metric._reductions.values()
        )


def test_reset_and_batch_checks():
    fixed = LocalizationAccuracy(CLASSES)
    fixed.update([{"Mass": [[0, 0, 4, 4]]}], [{"Mass": [[0, 0, 4, 4]]}])
    fixed.reset()
    assert float(fixed.images) == 0
    with pytest.raises(ValueError, match="`gt_boxes` has 2 images; the batch has 1"):
        fixed.update([{}], [{}, {}])


@pytest.mark.slow
def test_two_processes_sync_to_the_whole(tmp_path):
    images = random_images(5, 10)
    pattern = str(tmp_path / "rank{rank}.pt")
    mp.spawn(rank_main, args=(2, str(tmp_path / "init"), images, pattern), nprocs=2)
    whole = numpy_results(images)
    reference = LocalizationMetric(CLASSES, (0.1, 0.5), keep_records=True)
    for pred, gt, _, _ in images[0::2] + images[1::2]:  # rank 0's images, then rank 1's
        reference.update(pred, gt)
    for rank in (0, 1):
        result = torch.load(pattern.format(rank=rank))
        records = result.pop("records")
        assert_same(result, whole)
        _assert_same_arrays({k: np.asarray(v) for k, v in records.items()}, reference.records())


def _recording_pair():
    """(numpy metrics, torchmetrics metrics), each keeping per-image records."""
    grid = np.linspace(0, 0.95, 12)
    numpy_metrics = (
        LocalizationMetric(CLASSES, (0.1, 0.5), keep_records=True),
        MaxBoxAcc.v2(CLASSES, thresholds=grid, keep_records=True),
        PointingGame(CLASSES, tolerance=3, keep_records=True),
    )
    torch_versions = (
        LocalizationAccuracy(CLASSES, (0.1, 0.5), keep_records=True),
        MaxBoxAccuracy(CLASSES, thresholds=grid, keep_records=True),
        PointingGameAccuracy(CLASSES, tolerance=3, keep_records=True),
    )
    return numpy_metrics, torch_versions


def _update_numpy(metrics, images):
    fixed, v2, pointing = metrics
    for pred, gt, maps, size in images:
        fixed.update(pred, gt)
        v2.update(maps, gt, size=size)
        pointing.update(maps, gt, size=size)


def _assert_same_arrays(a, b):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_allclose(a[key], b[key], equal_nan=True, err_msg=key)


def test_records_merged_by_torchmetrics_give_the_numpy_bootstrap():
    """Two shards merged with torchmetrics' own reductions (sum, concatenation: what a DDP
    sync applies) hold every image's records, and resample as the numpy metric does."""
    images = random_images(7, 13)
    numpy_metrics, first = _recording_pair()
    _, second = _recording_pair()
    _update_numpy(numpy_metrics, images)
    torch_results(images[:6], metrics=first)
    torch_results(images[6:], metrics=second)
    weights = resample_weights([str(i // 2) for i in range(len(images))], 25, seed=3)
    for earlier, later, reference in zip(first, second, numpy_metrics, strict=True):
        later.merge_state(earlier)  # torchmetrics puts the incoming state's images first
        _assert_same_arrays(later.records(), reference.records())
        _assert_same_arrays(later.resampled(weights), reference.resampled(weights))


def test_resampling_without_records_is_refused_naming_the_switch():
    metric = LocalizationAccuracy(CLASSES)
    with pytest.raises(ValueError, match="keep_records=True"):
        metric.resampled(np.ones((1, 1)))
