"""The 14 synthetic findings: a class-specific, localized pattern each, in a plausible place.

Every finding draws into the image in place and returns its extent mask (``> 0.3`` where the
finding is visible), from which the generator takes the ground-truth box. The package README
tabulates each pattern and where it appears.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cxr14_data._phantom import Anatomy, Ellipse, smooth_noise

Canvas = tuple[np.ndarray, np.ndarray, np.ndarray]  # image, xx, yy


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


def _random_side(anatomy: Anatomy, rng: np.random.Generator) -> tuple[Ellipse, float]:
    """A random lung and the x direction away from the midline (-1: image left)."""
    side = int(rng.integers(2))
    return anatomy.lungs()[side], -1.0 if side == 0 else 1.0


def _rotated_ellipse(xx, yy, cx, cy, rx, ry, angle_deg, edge=0.2) -> np.ndarray:
    t = np.deg2rad(angle_deg)
    dx, dy = xx - cx, yy - cy
    u = (dx * np.cos(t) + dy * np.sin(t)) / rx
    v = (-dx * np.sin(t) + dy * np.cos(t)) / ry
    return np.clip((1 - np.sqrt(u * u + v * v)) / edge, 0, 1)


def atelectasis(canvas: Canvas, anatomy: Anatomy, rng: np.random.Generator) -> np.ndarray:
    image, xx, yy = canvas
    _, cx, cy = _lung_point(anatomy, rng, (0.25, 0.65), radius=0.6)
    mask = _rotated_ellipse(
        xx, yy, cx, cy, rng.uniform(0.07, 0.1), rng.uniform(0.012, 0.02), rng.uniform(-25, 25), 0.35
    )
    image += 0.32 * mask
    return mask


def cardiomegaly(canvas: Canvas, anatomy: Anatomy, rng: np.random.Generator) -> np.ndarray:
    image, xx, yy = canvas
    heart = anatomy.heart
    big = Ellipse(heart.cx + 0.02, heart.cy, heart.rx * rng.uniform(1.35, 1.55), heart.ry * 1.2)
    mask = big.soft_mask(xx, yy, edge=0.12)
    image += 0.26 * np.clip(mask - heart.soft_mask(xx, yy, edge=0.15), 0, 1)
    return mask


def effusion(canvas: Canvas, anatomy: Anatomy, rng: np.random.Generator) -> np.ndarray:
    image, xx, yy = canvas
    lung, outward = _random_side(anatomy, rng)
    level = lung.cy + lung.ry * rng.uniform(0.35, 0.65)
    lateral = np.clip((xx - lung.cx) * outward / lung.rx, 0, None)
    meniscus = level - 0.08 * lateral**2  # fluid climbs the chest wall
    inside = lung.soft_mask(xx, yy, edge=0.05) * (np.abs(xx - lung.cx) < lung.rx * 1.1)
    mask = np.clip((yy - meniscus) / 0.015, 0, 1) * inside
    image += 0.36 * mask
    return mask


def infiltration(canvas: Canvas, anatomy: Anatomy, rng: np.random.Generator) -> np.ndarray:
    image, xx, yy = canvas
    _, cx, cy = _lung_point(anatomy, rng, (-0.1, 0.6), radius=0.55)
    region = _rotated_ellipse(
        xx, yy, cx, cy, rng.uniform(0.06, 0.09), rng.uniform(0.07, 0.1), 0, 0.35
    )
    patches = 0.45 + 0.55 * np.clip(smooth_noise(rng, image.shape[0], 14) * 1.5 + 0.5, 0, 1)
    mask = region * patches
    image += 0.28 * mask
    return mask


def mass(canvas: Canvas, anatomy: Anatomy, rng: np.random.Generator) -> np.ndarray:
    image, xx, yy = canvas
    _, cx, cy = _lung_point(anatomy, rng, (-0.6, 0.6), radius=0.6)
    r = rng.uniform(0.045, 0.07)
    mask = _rotated_ellipse(xx, yy, cx, cy, r, r * rng.uniform(0.85, 1.0), 0, 0.15)
    image += 0.36 * mask
    return mask


def nodule(canvas: Canvas, anatomy: Anatomy, rng: np.random.Generator) -> np.ndarray:
    image, xx, yy = canvas
    _, cx, cy = _lung_point(anatomy, rng, (-0.7, 0.7), radius=0.7)
    r = rng.uniform(0.012, 0.02)
    mask = _rotated_ellipse(xx, yy, cx, cy, r, r, 0, 0.3)
    image += 0.5 * mask
    return mask


def pneumonia(canvas: Canvas, anatomy: Anatomy, rng: np.random.Generator) -> np.ndarray:
    image, xx, yy = canvas
    _, cx, cy = _lung_point(anatomy, rng, (-0.55, 0.15), radius=0.5)
    region = _rotated_ellipse(
        xx, yy, cx, cy, rng.uniform(0.075, 0.1), rng.uniform(0.08, 0.11), rng.uniform(-20, 20), 0.6
    )
    speckle = np.clip(smooth_noise(rng, image.shape[0], 48) + 0.8, 0, 1.5)
    image += 0.2 * region * speckle
    return region


def pneumothorax(canvas: Canvas, anatomy: Anatomy, rng: np.random.Generator) -> np.ndarray:
    image, xx, yy = canvas
    lung, outward = _random_side(anatomy, rng)
    collapse = rng.uniform(0.22, 0.35)
    inner = Ellipse(
        lung.cx - outward * lung.rx * collapse * 0.5,
        lung.cy + lung.ry * collapse * 0.4,
        lung.rx * (1 - collapse * 0.6),
        lung.ry * (1 - collapse * 0.35),
    )
    outer_mask = lung.soft_mask(xx, yy, edge=0.04)
    inner_mask = inner.soft_mask(xx, yy, edge=0.04)
    crescent = np.clip(outer_mask - inner_mask, 0, 1) * (yy < lung.cy + 0.5 * lung.ry)
    line = np.clip(1 - np.abs(inner.distance(xx, yy) - 1) / 0.035, 0, 1) * crescent.clip(0, 1)
    image -= 0.16 * crescent
    image += 0.3 * line
    return crescent


def consolidation(canvas: Canvas, anatomy: Anatomy, rng: np.random.Generator) -> np.ndarray:
    image, xx, yy = canvas
    _, cx, cy = _lung_point(anatomy, rng, (-0.2, 0.4), radius=0.45)
    region = _rotated_ellipse(
        xx, yy, cx, cy, rng.uniform(0.07, 0.09), rng.uniform(0.05, 0.065), 0, 0.12
    )
    phase = (xx - cx) * np.cos(0.9) + (yy - cy) * np.sin(0.9)
    bronchi = np.clip(1 - np.abs(np.sin(phase * 90)) / 0.25, 0, 1)
    image += region * (0.42 - 0.25 * bronchi)
    return region


def edema(canvas: Canvas, anatomy: Anatomy, rng: np.random.Generator) -> np.ndarray:
    image, xx, yy = canvas
    mask = np.zeros_like(image)
    r = rng.uniform(0.08, 0.11)
    for lung in anatomy.lungs():
        hilum_x = lung.cx + (0.5 - lung.cx) * 0.45
        mask = np.maximum(
            mask, _rotated_ellipse(xx, yy, hilum_x, lung.cy + 0.02, r, r * 1.3, 0, 0.8)
        )
    image += 0.22 * mask
    return mask


def emphysema(canvas: Canvas, anatomy: Anatomy, rng: np.random.Generator) -> np.ndarray:
    image, xx, yy = canvas
    lungs = np.maximum(*(lung.soft_mask(xx, yy, edge=0.12) for lung in anatomy.lungs()))
    image -= 0.11 * lungs
    for _ in range(int(rng.integers(3, 6))):
        _, cx, cy = _lung_point(anatomy, rng, (-0.8, 0.0), radius=0.75)
        r = rng.uniform(0.018, 0.03)
        image -= 0.12 * _rotated_ellipse(xx, yy, cx, cy, r, r, 0, 0.4)
    return lungs


def fibrosis(canvas: Canvas, anatomy: Anatomy, rng: np.random.Generator) -> np.ndarray:
    image, xx, yy = canvas
    period = rng.uniform(0.03, 0.04)  # coarse enough to survive a 128 px image
    net = np.maximum(
        np.clip(1 - np.abs(np.sin(np.pi * (xx + yy * 0.3) / period)) / 0.35, 0, 1),
        np.clip(1 - np.abs(np.sin(np.pi * (yy - xx * 0.3) / period)) / 0.35, 0, 1),
    )
    mask = np.zeros_like(image)
    for lung in anatomy.lungs():
        lateral = np.clip((np.abs(xx - lung.cx) / lung.rx - 0.1) * 2, 0, 1)
        lower = np.clip((yy - lung.cy) / lung.ry * 2 + 0.2, 0, 1)
        mask = np.maximum(mask, lung.soft_mask(xx, yy, edge=0.2) * lateral * lower)
    image += 0.22 * mask * net
    return mask


def pleural_thickening(canvas: Canvas, anatomy: Anatomy, rng: np.random.Generator) -> np.ndarray:
    image, xx, yy = canvas
    lung, outward = _random_side(anatomy, rng)
    band = np.clip(1 - np.abs(lung.distance(xx, yy) - 0.97) / 0.06, 0, 1)
    lateral = (xx - lung.cx) * outward > 0
    upper = yy < lung.cy + lung.ry * rng.uniform(0.0, 0.3)
    mask = band * lateral * upper
    image += 0.3 * mask
    return mask


def hernia(canvas: Canvas, anatomy: Anatomy, rng: np.random.Generator) -> np.ndarray:
    image, xx, yy = canvas
    heart = anatomy.heart
    cx, cy = 0.5 + rng.uniform(0.0, 0.04), heart.cy + heart.ry * rng.uniform(0.5, 0.8)
    r = rng.uniform(0.05, 0.065)
    mask = _rotated_ellipse(xx, yy, cx, cy, r * 1.2, r, 0, 0.15)
    gas = yy < cy - r * 0.1
    image += mask * np.where(gas, -0.25, 0.22)
    return mask


FINDINGS: dict[str, Callable[[Canvas, Anatomy, np.random.Generator], np.ndarray]] = {
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
