"""What a synthetic set in another layout holds, drawn from that set's real statistics.

``data/layout_statistics.json`` is tabulated from the real metadata files that torchxrayvision's
wheel ships (CheXpert ``train.csv``, VinDr-CXR's Kaggle ``train.csv``, RSNA's labels and DICOM
headers, SIIM-ACR's ``train-rle.csv``; the repository's ``tests/layout_statistics_source.py``
rebuilds it and the tests hold the two equal). From it:

- **CheXpert and MIMIC-CXR-JPG** (one labeler): each class's share of 1, 0, -1 and blank,
  views (AP, PA, lateral) and images per patient; ``No Finding`` is 1 where no other class is
  1 or -1 (``Support Devices`` aside), blank elsewhere.
- **VinDr-CXR**: the 428 label combinations of its 15,000 images under the majority rule.
- **RSNA Pneumonia**: the positive share, boxes per positive image, views (PA, AP) and the
  boxes themselves (400 of them, every n-th, in the 1024 frame).
- **SIIM-ACR**: the positive share, components per positive image and their boxes.

Rare classes are compressed as the NIH generator compresses NIH's: a class's positive share is
at least :data:`MIN_SHARE` (taken from its blank or negative share) so that a few hundred images
hold every class. A class is painted with the NIH pattern of its counterpart in the vocabulary
(:func:`~cxr14_data.layouts.vocabulary.counterparts`; one of the parts at random where it has
several, e.g. Nodule or Mass for a lung lesion), or of :data:`DRAWN_AS`; a class with neither
(``Fracture``, ``Support Devices``, ``Aortic enlargement``, ...) is a label only, which no
model can learn from these images. Boxes follow the set's own boxes where its file has them
(RSNA, SIIM), else NIH's of the counterpart.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np

from cxr14_data._findings import Box, jitter_box, sample_box
from cxr14_data.labels import BOX_CLASSES
from cxr14_data.layouts.chexlocalize import CHEXLOCALIZE_CLASSES, RENAMED
from cxr14_data.layouts.chexpert import CHEXPERT_CLASSES
from cxr14_data.layouts.rsna import RSNA_CLASSES
from cxr14_data.layouts.siim import SIIM_CLASSES
from cxr14_data.layouts.vindr import VINDR_CLASSES
from cxr14_data.layouts.vocabulary import counterparts

#: The layouts a synthetic set can be written in.
LAYOUT_CLASSES: dict[str, tuple[str, ...]] = {
    "chexpert": CHEXPERT_CLASSES,
    "mimic": CHEXPERT_CLASSES,
    "vindr": VINDR_CLASSES,
    "rsna": RSNA_CLASSES,
    "siim": SIIM_CLASSES,
    "chexlocalize": CHEXLOCALIZE_CLASSES,
}
#: Classes the vocabulary pairs with no NIH class, drawn with an NIH pattern all the same: an
#: RSNA "Lung Opacity" is an opacity suspicious for pneumonia (Shih et al. 2019).
DRAWN_AS = {"Lung Opacity": ("Pneumonia",), "Airspace Opacity": ("Pneumonia",)}
MIN_SHARE = 0.03
#: An uncertain (-1) finding is painted with this probability (it may or may not be there).
UNCERTAIN_SHOWN = 0.5
NO_FINDING = {"chexpert": "No Finding", "mimic": "No Finding", "vindr": "No finding"}


@functools.cache
def layout_statistics() -> dict[str, Any]:
    """The shipped statistics (see the module's docstring)."""
    text = resources.files("cxr14_data").joinpath("data/layout_statistics.json").read_text()
    return json.loads(text)


def drawn_as(layout: str) -> dict[str, tuple[str, ...]]:
    """Each class of ``layout`` that is painted, and the NIH patterns that can paint it.

    Examples:
        >>> drawn = drawn_as("chexpert")
        >>> drawn["Pleural Effusion"], drawn["Lung Lesion"], "Fracture" in drawn
        (('Effusion',), ('Nodule', 'Mass'), False)
        >>> drawn_as("rsna")
        {'Lung Opacity': ('Pneumonia',)}
    """
    found = counterparts("nih", layout)
    drawn = {target: (source,) for target, source in found.pairs.items()}
    drawn.update({target: sources for target, (sources, _) in found.near.items()})
    for name, patterns in DRAWN_AS.items():
        if name in LAYOUT_CLASSES[layout]:
            drawn.setdefault(name, patterns)
    return drawn


@dataclass
class PlannedImage:
    """One image of a synthetic set before it is drawn.

    Attributes:
        image_id: its id in the layout's files.
        patient: its patient (one per image where the set has none).
        follow_up: its index among the patient's images (the anatomy moves between them).
        view: ``"PA"``, ``"AP"``, ``"LATERAL"`` or ``""``.
        states: per class, 1, 0, -1 or NaN (blank), as the layout's files will say.
        findings: ``(class, NIH pattern, unit-frame box or None)`` to paint.
        readers: VinDr only: per reader, the classes that reader marks.
    """

    image_id: str
    patient: int
    follow_up: int
    view: str
    states: dict[str, float]
    findings: list[tuple[str, str, Box | None]] = field(default_factory=list)
    readers: dict[str, list[str]] = field(default_factory=dict)


def _draw_key(rng: np.random.Generator, counts: dict[str, int]) -> str:
    keys = list(counts)
    weights = np.asarray([counts[k] for k in keys], dtype=np.float64)
    return keys[int(rng.choice(len(keys), p=weights / weights.sum()))]


def _paint(name: str, layout: str, rng: np.random.Generator) -> tuple[str, str, Box | None]:
    pattern = drawn_as(layout)[name]
    nih = pattern[int(rng.integers(len(pattern)))]
    own = layout_statistics().get(layout, {}).get("boxes")
    if own:
        return name, nih, jitter_box(own[int(rng.integers(len(own)))], rng)
    return name, nih, sample_box(nih, rng) if nih in BOX_CLASSES else None


def _chexpert_states(layout: str, rng: np.random.Generator) -> dict[str, float]:
    shares = layout_statistics()["chexpert"]["labels"]
    states: dict[str, float] = {}
    for name in LAYOUT_CLASSES[layout]:
        if name == NO_FINDING[layout]:
            continue
        counts = {k: float(v) for k, v in shares[name].items()}
        total = sum(counts.values())
        lift = max(0.0, MIN_SHARE * total - counts["1"])
        counts["1"] += lift
        counts["blank"] -= min(lift, counts["blank"])
        key = _draw_key(rng, counts)
        states[name] = math.nan if key == "blank" else float(key)
    findings = [n for n, v in states.items() if v in (1.0, -1.0) and n != "Support Devices"]
    no_finding = {NO_FINDING[layout]: math.nan if findings else 1.0}
    return {name: {**states, **no_finding}[name] for name in LAYOUT_CLASSES[layout]}


def plan_chexpert(layout: str, n_patients: int, rng: np.random.Generator) -> list[PlannedImage]:
    """CheXpert's (or MIMIC-CXR's) patients, views and labels.

    Args:
        layout: ``"chexpert"`` or ``"mimic"``.
        n_patients: patients.
        rng: the generator everything is drawn from.

    Returns:
        The images, patient by patient.
    """
    statistics = layout_statistics()["chexpert"]
    views = {k: v for k, v in statistics["views"].items() if k in ("AP", "PA", "LATERAL")}
    images = []
    for patient in range(1, n_patients + 1):
        count = int(_draw_key(rng, statistics["images_per_patient"]))
        for follow_up in range(count):
            states = _chexpert_states(layout, rng)
            findings = [
                _paint(name, layout, rng)
                for name, value in states.items()
                if name in drawn_as(layout)
                and (value == 1.0 or (value == -1.0 and rng.random() < UNCERTAIN_SHOWN))
            ]
            view = _draw_key(rng, views)
            images.append(PlannedImage("", patient, follow_up, view, states, findings))
    return images


def plan_vindr(n_images: int, rng: np.random.Generator) -> list[PlannedImage]:
    """VinDr-CXR's label combinations; three readers per image, each finding marked by two or
    three of them (so the majority rule keeps it) and, now and then, a finding by one reader
    only (which it drops).

    Args:
        n_images: images.
        rng: the generator everything is drawn from.

    Returns:
        The images.
    """
    sets = layout_statistics()["vindr"]["label_sets"]
    findings_of = [c for c in VINDR_CLASSES if c != "No finding"]
    images = []
    for index in range(1, n_images + 1):
        chosen = [c for c in _draw_key(rng, sets).split("|") if c]
        states = {c: float(c in chosen) for c in VINDR_CLASSES}
        states["No finding"] = float(not chosen)
        readers = {f"R{r}": [] for r in rng.choice(np.arange(1, 18), 3, replace=False)}
        names = list(readers)
        for name in chosen:
            for reader in rng.choice(names, int(rng.integers(2, 4)), replace=False):
                readers[str(reader)].append(name)
        if rng.random() < 0.1:
            lone = findings_of[int(rng.integers(len(findings_of)))]
            if lone not in chosen:
                readers[names[int(rng.integers(3))]].append(lone)
        painted = [_paint(c, "vindr", rng) for c in chosen if c in drawn_as("vindr")]
        images.append(PlannedImage("", index, 0, "", states, painted, readers))
    return images


def plan_single_class(layout: str, n_images: int, rng: np.random.Generator) -> list[PlannedImage]:
    """RSNA's or SIIM-ACR's images: positive at the real share, with the real number of boxes
    (components) per positive image, each from the set's own boxes.

    Args:
        layout: ``"rsna"`` or ``"siim"``.
        n_images: images.
        rng: the generator everything is drawn from.

    Returns:
        The images.
    """
    statistics = layout_statistics()[layout]
    (name,) = LAYOUT_CLASSES[layout]
    per_positive = statistics.get("boxes_per_positive") or statistics["components_per_positive"]
    share = max(statistics["positives"] / statistics["images"], MIN_SHARE)
    views = statistics.get("views", {"": 1})
    images = []
    for index in range(1, n_images + 1):
        positive = bool(rng.random() < share)
        count = int(_draw_key(rng, per_positive)) if positive else 0
        painted = [_paint(name, layout, rng) for _ in range(count)]
        view = _draw_key(rng, views)
        images.append(PlannedImage("", index, 0, view, {name: float(positive)}, painted))
    return images


def plan_chexlocalize(n_patients: int, rng: np.random.Generator) -> list[PlannedImage]:
    """CheXlocalize's frontal images: CheXpert's patients and labels (:func:`plan_chexpert`),
    each of the ten pathologies 1 where it is painted and 0 elsewhere (a radiologist's
    segmentation needs something to segment: a pathology with no NIH pattern is never
    positive here).

    Args:
        n_patients: patients.
        rng: the generator everything is drawn from.

    Returns:
        The frontal images, their findings named as CheXlocalize names them.
    """
    renamed = {chexpert: ours for ours, chexpert in RENAMED.items()}
    images = []
    for image in plan_chexpert("chexpert", n_patients, rng):
        if image.view not in ("AP", "PA"):
            continue
        findings = [
            (renamed.get(name, name), nih, box)
            for name, nih, box in image.findings
            if renamed.get(name, name) in CHEXLOCALIZE_CLASSES
        ]
        shown = {name for name, _, _ in findings}
        image.states = {c: float(c in shown) for c in CHEXLOCALIZE_CLASSES}
        image.findings = findings
        images.append(image)
    return images
