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

import torch.multiprocessing as mp
from metric_worker import (
    CLASSES,
    numpy_results,
    random_images,
    rank_main,
    torch_metrics,
    torch_results,
)

from cam_boxes_iobb.torch_metrics import LocalizationAccuracy


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
    for rank in (0, 1):
        assert_same(torch.load(pattern.format(rank=rank)), whole)
