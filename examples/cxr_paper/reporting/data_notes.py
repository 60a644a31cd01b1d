"""On how many images a run's tables were computed, and what was left out of them."""

from __future__ import annotations

from dataclasses import dataclass, field

from cxr_paper.reporting.document import literal


@dataclass
class DataNotes:
    """On how many images the tables were computed, and what was left out of them.

    Attributes:
        test_images: Test images scored for AUROC.
        test_images_listed: Test images the split lists.
        box_images: Box images scored for localization.
        box_images_listed: Box images the split lists.
        skipped_images: Per split, unreadable images skipped.
        dropped_boxes: GT boxes dropped as outside the box frame.
        reading: What reading the data set left out or chose (views, patients), a sentence
            each.
    """

    test_images: int
    test_images_listed: int
    box_images: int
    box_images_listed: int
    skipped_images: dict[str, list[str]]
    dropped_boxes: list[str]
    reading: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Bullet items: what was left out of the tables."""
        lines = [f"**Data**: {literal(note)}." for note in self.reading]
        skipped = {split: names for split, names in self.skipped_images.items() if names}
        if skipped:
            lines.append(
                "**Unreadable images skipped** (`--skip-unreadable`): "
                + "; ".join(
                    f"{split} {len(names)} ({', '.join(map(literal, names[:10]))}"
                    + (", …" if len(names) > 10 else "")
                    + ")"
                    for split, names in skipped.items()
                )
            )
        if self.dropped_boxes:
            lines.append(
                f"**GT boxes dropped** (outside the box frame, `--skip-bad-boxes`): "
                f"{len(self.dropped_boxes)} ({'; '.join(map(literal, self.dropped_boxes[:5]))})"
            )
        return lines

    @property
    def auroc_caption(self) -> str:
        return f"Computed on {self.test_images} of the {self.test_images_listed} test images."

    @property
    def localization_caption(self) -> str:
        return (
            f"Computed on {self.box_images} of the {self.box_images_listed} test images that "
            "have GT boxes."
        )
