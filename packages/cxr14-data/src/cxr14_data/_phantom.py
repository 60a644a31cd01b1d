"""Chest-like phantoms: body, lungs, heart, mediastinum and spine, ribs, lung markings, noise.

All geometry is in unit coordinates (``x`` to the right, ``y`` down, ``[0, 1]``), so the same
patient looks the same at any image size. The image's left is the patient's right (PA view):
the heart bulges to the image's right.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Ellipse:
    cx: float
    cy: float
    rx: float
    ry: float

    def distance(self, xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
        """Normalised radius: < 1 inside, 1 on the border."""
        return np.sqrt(((xx - self.cx) / self.rx) ** 2 + ((yy - self.cy) / self.ry) ** 2)

    def soft_mask(self, xx: np.ndarray, yy: np.ndarray, edge: float = 0.08) -> np.ndarray:
        return np.clip((1.0 - self.distance(xx, yy)) / edge, 0.0, 1.0)


@dataclass(frozen=True)
class Anatomy:
    """One patient's anatomy; follow-ups reuse it with a small pose jitter."""

    body: Ellipse
    right_lung: Ellipse  # image left
    left_lung: Ellipse  # image right
    heart: Ellipse
    spine_width: float
    rib_spacing: float
    rib_curve: float
    brightness: float
    texture_seed: int

    def lungs(self) -> tuple[Ellipse, Ellipse]:
        return self.right_lung, self.left_lung


def sample_anatomy(rng: np.random.Generator) -> Anatomy:
    def jitter(scale: float = 0.06) -> float:
        return float(rng.uniform(1 - scale, 1 + scale))

    # sized like an adult PA film in NIH's frame: lungs from ~15 % to ~85 % of the width and
    # ~16 % to ~74 % of the height, a heart of about 0.4 of the thorax's width
    lung_ry = 0.29 * jitter()
    return Anatomy(
        body=Ellipse(0.5, 0.56, 0.46 * jitter(0.04), 0.52 * jitter(0.04)),
        right_lung=Ellipse(0.30 * jitter(0.03), 0.45, 0.155 * jitter(), lung_ry),
        left_lung=Ellipse(0.70 * jitter(0.03), 0.45, 0.145 * jitter(), lung_ry * 0.97),
        heart=Ellipse(0.56, 0.62 * jitter(0.02), 0.16 * jitter(), 0.12 * jitter()),
        spine_width=0.05 * jitter(0.1),
        rib_spacing=0.075 * jitter(0.05),
        rib_curve=0.9 * jitter(0.15),
        brightness=float(rng.uniform(0.9, 1.1)),
        texture_seed=int(rng.integers(2**31)),
    )


def follow_up_pose(anatomy: Anatomy, rng: np.random.Generator) -> Anatomy:
    """The same patient on another day: a small shift and scale of everything."""
    dx, dy = rng.uniform(-0.015, 0.015, size=2)
    scale = float(rng.uniform(0.97, 1.03))

    def move(e: Ellipse) -> Ellipse:
        return Ellipse(
            0.5 + (e.cx - 0.5) * scale + dx,
            0.5 + (e.cy - 0.5) * scale + dy,
            e.rx * scale,
            e.ry * scale,
        )

    return Anatomy(
        move(anatomy.body),
        move(anatomy.right_lung),
        move(anatomy.left_lung),
        move(anatomy.heart),
        anatomy.spine_width,
        anatomy.rib_spacing,
        anatomy.rib_curve,
        anatomy.brightness * float(rng.uniform(0.97, 1.03)),
        anatomy.texture_seed,
    )


def smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Band-limited noise in about ``[-1, 1]``: ``cells x cells`` random values, upsampled."""
    coarse = rng.standard_normal((cells, cells)).astype(np.float32)
    image = Image.fromarray(coarse, mode="F").resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(image) / 1.5


def grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    axis = (np.arange(size, dtype=np.float32) + 0.5) / size
    return np.meshgrid(axis, axis)


def render_anatomy(
    anatomy: Anatomy, size: int, markings: float = 0.035, ribs: float = 0.10
) -> tuple[np.ndarray, np.ndarray]:
    """The healthy chest in ``[0, 1]`` and the soft lung mask, both ``(size, size)`` float32.

    ``markings`` and ``ribs`` are the amplitudes of the lung markings and of the ribs: the
    anatomy a finding must be told apart from."""
    xx, yy = grid(size)
    body = anatomy.body.soft_mask(xx, yy, edge=0.05)
    lungs = np.maximum(*(lung.soft_mask(xx, yy, edge=0.12) for lung in anatomy.lungs()))
    heart = anatomy.heart.soft_mask(xx, yy, edge=0.15)
    spine = np.clip(1 - np.abs(xx - 0.5) / anatomy.spine_width, 0, 1) * (yy > 0.12)
    phase = (yy + anatomy.rib_curve * (xx - 0.5) ** 2) / anatomy.rib_spacing
    rib_shadows = np.clip((np.cos(2 * np.pi * phase) - 0.55) * 3, 0, 1) * lungs
    texture_rng = np.random.default_rng(anatomy.texture_seed)
    vessels = smooth_noise(texture_rng, size, 24) * lungs
    image = 0.05 + 0.55 * body
    image -= 0.33 * lungs
    image += 0.2 * heart * (1 - 0.3 * lungs)
    image += 0.22 * spine * body
    image += ribs * rib_shadows + markings * vessels
    return np.clip(image * anatomy.brightness, 0, 1).astype(np.float32), lungs.astype(np.float32)
