"""The whole evaluation path against an oracle: a stub model whose CAMs are the GT boxes.

The synthetic set is saved at 256 px (neither 1024 nor the 192-px network input) with its boxes in
NIH's 1024 frame, so a loader that scaled boxes from the wrong frame would fail here, on the raw
folder and on the prepared store alike.
"""

import hashlib
import math

import pytest
import torch
from torch.utils.data import DataLoader

from cxr14_data import (
    BOX_CLASSES,
    CLASSES,
    ChestXray14,
    MetadataError,
    collate,
    make_synthetic,
    paper_transforms,
    prepare,
)
from cxr_paper.inputs.sampling import collate_skipping
from cxr_paper.machine.distributed import DistContext
from cxr_paper.scoring.evaluation import evaluate_test
from multires_backbone import CAMOutput

CPU = DistContext(0, 1, 0, torch.device("cpu"))
INPUT, STRIDE = 192, 2


def _key(image: torch.Tensor) -> str:
    return hashlib.sha1(image.contiguous().numpy().tobytes()).hexdigest()


class OracleModel(torch.nn.Module):
    """Logits +10 for the classes with GT boxes (-10 otherwise) and CAMs that are those boxes,
    drawn on a grid of ``INPUT / STRIDE`` cells, optionally shifted off them."""

    def __init__(self, dataset: ChestXray14, shift: int = 0) -> None:
        super().__init__()
        self.answers = {}
        side = INPUT // STRIDE
        for index in range(len(dataset)):
            item = dataset[index]
            logits = torch.full((len(CLASSES),), -10.0)
            cams = torch.zeros(len(CLASSES), side, side)
            for name, boxes in item["boxes"].items():
                c = CLASSES.index(name)
                logits[c] = 10.0
                for x, y, w, h in (boxes / STRIDE).tolist():
                    x0, y0 = round(x), round(y)
                    x1, y1 = max(round(x + w), x0 + 1), max(round(y + h), y0 + 1)
                    cams[c, y0:y1, x0:x1] = 1.0
            self.answers[_key(item["image"])] = (logits, torch.roll(cams, shift, dims=-1))

    def forward(self, images: torch.Tensor) -> CAMOutput:
        logits, cams = zip(*(self.answers[_key(image)] for image in images), strict=True)
        cams = torch.stack(cams)
        return CAMOutput(torch.stack(logits), cams, torch.ones(len(images), 4, *cams.shape[-2:]))


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return make_synthetic(
        tmp_path_factory.mktemp("oracle"), n_patients=70, image_size=256, seed=5, progress=False
    )


def _evaluate(dataset, shift=0):
    loader = DataLoader(dataset, batch_size=5, collate_fn=collate_skipping(collate))
    return evaluate_test(OracleModel(dataset, shift), None, loader, CPU, desc="t")


@pytest.mark.parametrize("source", ["png", "prepared"])
def test_oracle_cams_localize_every_box(root, tmp_path, source):
    kwargs = {}
    if source == "prepared":
        prepare(root, size=224, progress=False, cache=tmp_path)
        kwargs = dict(prepared_size=224, cache=tmp_path)
    dataset = ChestXray14(root, "test", paper_transforms(False, INPUT), **kwargs)
    assert (dataset._store is not None) == (source == "prepared")
    result = _evaluate(dataset)
    assert result.box_images == dataset.box_images > 10
    at_half = result.localization["cam"].iobb["0.5"]
    present = [c for c in BOX_CLASSES if not math.isnan(at_half[c].accuracy)]
    assert len(present) >= 4
    for name in present:
        assert at_half[name].accuracy == 1.0, name
    assert result.localization["cam"].iobb["0.1"]["mean"].afp == 0.0
    shifted = _evaluate(dataset, shift=INPUT // STRIDE // 2)
    assert shifted.localization["cam"].iobb["0.5"]["mean"].accuracy < 0.1


def test_boxes_from_the_wrong_frame_would_fail(root):
    # the oracle only scores 1 because the loader scales from 1024: read the CSV as if it were
    # in the PNGs' own pixels (the old bug) and the boxes leave the image
    dataset = ChestXray14(root, "test", paper_transforms(False, INPUT), box_frame=None)
    with pytest.raises(MetadataError, match="outside the 256 x 256 PNG"):
        [dataset[i] for i in range(len(dataset))]


def test_map_kind_keys_round_trip():
    from cxr_paper.scoring.batched_cam import METHODS
    from cxr_paper.scoring.map_kinds import MapKind

    for method in ("cam", *METHODS):
        for refined in (False, True):
            kind = MapKind(method, refined)
            assert MapKind.parse(kind.key) == kind
            assert kind.label.endswith(" + PCM") == refined
    assert [MapKind("cam", r).key for r in (False, True)] == ["cam", "pcm"]
