"""The 14 synthetic findings: a class-specific pattern each, in a plausible place.

Every painter returns the finding's extent (``> 0.3`` where it is visible) and the change it
makes to the image (grey units before the set's contrast factor). The 8 box findings are
painted to fill a box drawn from NIH's own boxes of that class (:func:`sample_box`), so the
box written to ``BBox_List_2017.csv`` is exactly what the pattern covers; the other 6 are
placed by the anatomy. The package README tabulates every pattern, size and place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from cxr14_data._phantom import Anatomy, Ellipse, smooth_noise
from cxr14_data.nih_statistics import nih_boxes

Box = tuple[float, float, float, float]  # xywh in unit coordinates of the frame
Painted = tuple[np.ndarray, np.ndarray]  # extent mask, intensity change
#: The extent level that defines a finding's box.
EXTENT_LEVEL = 0.3
#: Smoothed bootstrap of NIH's boxes: sd of log(w), log(h) and of the centre (share of frame).
SIZE_JITTER, CENTRE_JITTER = 0.08, 0.015
NIH_FRAME_SIDE = 1024.0


def sample_box(name: str, rng: np.random.Generator) -> Box:
    """A box for ``name`` from NIH's boxes of that class, jittered, inside the unit frame."""
    rows = nih_boxes()[name]
    return jitter_box(rows[int(rng.integers(len(rows)))] / NIH_FRAME_SIDE, rng)


def jitter_box(box: Sequence[float], rng: np.random.Generator) -> Box:
    """A real box (unit frame) with its size jittered by :data:`SIZE_JITTER` and its centre by
    :data:`CENTRE_JITTER`, kept inside the frame (a smoothed bootstrap of a set's boxes)."""
    x, y, w, h = (float(v) for v in box)
    cx, cy = x + w / 2 + rng.normal(0, CENTRE_JITTER), y + h / 2 + rng.normal(0, CENTRE_JITTER)
    w = min(w * float(np.exp(rng.normal(0, SIZE_JITTER))), 1.0)
    h = min(h * float(np.exp(rng.normal(0, SIZE_JITTER))), 1.0)
    return (
        float(np.clip(cx - w / 2, 0, 1 - w)),
        float(np.clip(cy - h / 2, 0, 1 - h)),
        float(w),
        float(h),
    )


def _level_radius(half: float, edge: float) -> float:
    """Radius whose soft mask ``clip((1 - d) / edge)`` crosses EXTENT_LEVEL at ``half``."""
    return half / (1 - EXTENT_LEVEL * edge)


def _rotated_ellipse(xx, yy, cx, cy, rx, ry, angle_deg, edge=0.2) -> np.ndarray:
    t = np.deg2rad(angle_deg)
    dx, dy = xx - cx, yy - cy
    u = (dx * np.cos(t) + dy * np.sin(t)) / rx
    v = (-dx * np.sin(t) + dy * np.cos(t)) / ry
    return np.clip((1 - np.sqrt(u * u + v * v)) / edge, 0, 1)


def _inscribed(xx, yy, box: Box, edge: float) -> np.ndarray:
    """A soft ellipse whose extent is exactly ``box``."""
    x, y, w, h = box
    rx, ry = _level_radius(w / 2, edge), _level_radius(h / 2, edge)
    return _rotated_ellipse(xx, yy, x + w / 2, y + h / 2, rx, ry, 0.0, edge)


def _soft_box(xx, yy, box: Box, ramp: float) -> np.ndarray:
    """1 inside ``box`` shrunk by ``ramp``, falling linearly to 0 and crossing EXTENT_LEVEL on
    the box's edges."""
    x, y, w, h = box

    def side(low, high, v):
        return np.clip(np.minimum(v - low, high - v) / ramp + EXTENT_LEVEL, 0, 1)

    return side(x, x + w, xx) * side(y, y + h, yy)


def _lateral_sign(box: Box) -> float:
    """-1 if the box lies in the image's left half (lateral is to the left), else 1."""
    return -1.0 if box[0] + box[2] / 2 < 0.5 else 1.0


def nodule(xx, yy, anatomy, rng, box: Box) -> Painted:
    mask = _inscribed(xx, yy, box, edge=0.3)
    return mask, 0.5 * mask


def mass(xx, yy, anatomy, rng, box: Box) -> Painted:
    mask = _inscribed(xx, yy, box, edge=0.15)
    texture = 0.8 + 0.2 * np.clip(smooth_noise(rng, xx.shape[0], 10), -1, 1)
    return mask, 0.4 * mask * texture


def atelectasis(xx, yy, anatomy, rng, box: Box) -> Painted:
    """A plate-like band whose ends touch opposite corners of the box."""
    x, y, w, h = box
    edge = 0.35
    p, q = w / 2, h / 2
    b = min(p, q) * rng.uniform(0.25, 0.45)  # half-thickness
    a2 = p * p + q * q - b * b
    cos2t = np.clip((p * p - q * q) / max(a2 - b * b, 1e-12), -1, 1)
    angle = np.rad2deg(0.5 * np.arccos(cos2t)) * (1 if rng.random() < 0.5 else -1)
    mask = _rotated_ellipse(
        xx,
        yy,
        x + p,
        y + q,
        _level_radius(np.sqrt(a2), edge),
        _level_radius(b, edge),
        angle,
        edge,
    )
    return mask, 0.32 * mask


def cardiomegaly(xx, yy, anatomy, rng, box: Box) -> Painted:
    """The heart shadow grown to fill the box."""
    big = _inscribed(xx, yy, box, edge=0.12)
    normal = anatomy.heart.soft_mask(xx, yy, edge=0.15)
    return big, 0.26 * np.clip(big - normal, 0, 1)


def effusion(xx, yy, anatomy, rng, box: Box) -> Painted:
    """Fluid filling the box from its base up to a meniscus that climbs the lateral wall."""
    x, y, w, h = box
    lateral = np.clip((xx - x) / w, 0, 1)
    if _lateral_sign(box) < 0:
        lateral = 1 - lateral
    medial_level = y + h * rng.uniform(0.4, 0.7)
    meniscus = medial_level - (medial_level - y) * lateral**2
    fluid = np.clip((yy - meniscus) / (0.02 * h + 1e-3) + EXTENT_LEVEL, 0, 1)
    mask = fluid * _soft_box(xx, yy, box, ramp=0.01)
    return mask, 0.36 * mask


def infiltration(xx, yy, anatomy, rng, box: Box) -> Painted:
    region = _inscribed(xx, yy, box, edge=0.35)
    patches = 0.45 + 0.55 * np.clip(smooth_noise(rng, xx.shape[0], 14) * 1.5 + 0.5, 0, 1)
    return region, 0.28 * region * patches


def pneumonia(xx, yy, anatomy, rng, box: Box) -> Painted:
    region = _inscribed(xx, yy, box, edge=0.6)
    speckle = np.clip(smooth_noise(rng, xx.shape[0], 48) + 0.8, 0, 1.5)
    return region, 0.2 * region * speckle


def pneumothorax(xx, yy, anatomy, rng, box: Box) -> Painted:
    """Air without lung markings between the chest wall and a thin bright pleural line: the
    part of the box apical and lateral to the collapsed lung's edge."""
    x, y, w, h = box
    outward = _lateral_sign(box)
    medial_x = x if outward > 0 else x + w
    lung_edge = Ellipse(medial_x, y + h, w * rng.uniform(0.75, 0.9), h * rng.uniform(0.75, 0.9))
    distance = lung_edge.distance(xx, yy)
    box_mask = _soft_box(xx, yy, box, ramp=0.01)
    crescent = np.clip((distance - 1) / 0.03, 0, 1) * box_mask
    line = np.clip(1 - np.abs(distance - 1) / 0.03, 0, 1) * box_mask
    return crescent, 0.3 * line - 0.16 * crescent


def consolidation(xx, yy, anatomy, rng, box=None) -> Painted:
    _, cx, cy = _lung_point(anatomy, rng, (-0.2, 0.5), radius=0.5)
    region = _rotated_ellipse(
        xx, yy, cx, cy, rng.uniform(0.07, 0.12), rng.uniform(0.06, 0.1), 0, 0.12
    )
    phase = (xx - cx) * np.cos(0.9) + (yy - cy) * np.sin(0.9)
    bronchi = np.clip(1 - np.abs(np.sin(phase * 90)) / 0.25, 0, 1)
    return region, region * (0.42 - 0.25 * bronchi)


def edema(xx, yy, anatomy, rng, box=None) -> Painted:
    mask = np.zeros_like(xx)
    r = rng.uniform(0.1, 0.14)
    for lung in anatomy.lungs():
        hilum_x = lung.cx + (0.5 - lung.cx) * 0.45
        mask = np.maximum(
            mask, _rotated_ellipse(xx, yy, hilum_x, lung.cy + 0.03, r, r * 1.3, 0, 0.8)
        )
    return mask, 0.22 * mask


def emphysema(xx, yy, anatomy, rng, box=None) -> Painted:
    lungs = np.maximum(*(lung.soft_mask(xx, yy, edge=0.12) for lung in anatomy.lungs()))
    delta = -0.11 * lungs
    for _ in range(int(rng.integers(3, 6))):
        _, cx, cy = _lung_point(anatomy, rng, (-0.8, 0.0), radius=0.75)
        r = rng.uniform(0.018, 0.035)
        delta = delta - 0.12 * _rotated_ellipse(xx, yy, cx, cy, r, r, 0, 0.4)
    return lungs, delta


def fibrosis(xx, yy, anatomy, rng, box=None) -> Painted:
    period = rng.uniform(0.03, 0.04)  # coarse enough to survive a 128 px image
    net = np.maximum(
        np.clip(1 - np.abs(np.sin(np.pi * (xx + yy * 0.3) / period)) / 0.35, 0, 1),
        np.clip(1 - np.abs(np.sin(np.pi * (yy - xx * 0.3) / period)) / 0.35, 0, 1),
    )
    mask = np.zeros_like(xx)
    for lung in anatomy.lungs():
        lateral = np.clip((np.abs(xx - lung.cx) / lung.rx - 0.1) * 2, 0, 1)
        lower = np.clip((yy - lung.cy) / lung.ry * 2 + 0.2, 0, 1)
        mask = np.maximum(mask, lung.soft_mask(xx, yy, edge=0.2) * lateral * lower)
    return mask, 0.22 * mask * net


def pleural_thickening(xx, yy, anatomy, rng, box=None) -> Painted:
    side = int(rng.integers(2))
    lung, outward = anatomy.lungs()[side], -1.0 if side == 0 else 1.0
    thickness = rng.uniform(0.04, 0.08)  # of the lung's radius: 3-10 mm
    band = np.clip(1 - np.abs(lung.distance(xx, yy) - 0.97) / thickness, 0, 1)
    lateral = (xx - lung.cx) * outward > 0
    upper = yy < lung.cy + lung.ry * rng.uniform(0.0, 0.3)
    mask = band * lateral * upper
    return mask, 0.3 * mask


def hernia(xx, yy, anatomy, rng, box=None) -> Painted:
    heart = anatomy.heart
    cx, cy = 0.5 + rng.uniform(0.0, 0.04), heart.cy + heart.ry * rng.uniform(0.4, 0.8)
    r = rng.uniform(0.05, 0.09)
    mask = _rotated_ellipse(xx, yy, cx, cy, r * 1.2, r, 0, 0.15)
    gas = yy < cy - r * 0.1
    return mask, mask * np.where(gas, -0.25, 0.22)


def _lung_point(
    anatomy: Anatomy, rng: np.random.Generator, zone: tuple[float, float], radius: float = 0.75
) -> tuple[Ellipse, float, float]:
    """A random lung and a point in it; ``zone`` bounds the height from -1 (apex) to 1 (base)."""
    lung = anatomy.lungs()[int(rng.integers(2))]
    for _ in range(100):
        u, v = rng.uniform(-radius, radius), rng.uniform(*zone)
        if u * u + v * v <= radius * radius:
            return lung, lung.cx + u * lung.rx, lung.cy + v * lung.ry
    return lung, lung.cx, lung.cy + zone[0] * lung.ry


Painter = Callable[..., Painted]
FINDINGS: dict[str, Painter] = {
    "Atelectasis": atelectasis,
    "Cardiomegaly": cardiomegaly,
    "Effusion": effusion,
    "Infiltration": infiltration,
    "Mass": mass,
    "Nodule": nodule,
    "Pneumonia": pneumonia,
    "Pneumothorax": pneumothorax,
    "Consolidation": consolidation,
    "Edema": edema,
    "Emphysema": emphysema,
    "Fibrosis": fibrosis,
    "Pleural_Thickening": pleural_thickening,
    "Hernia": hernia,
}
