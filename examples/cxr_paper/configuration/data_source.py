"""The ``--data`` setting: a published layout and its folder (``LAYOUT:PATH``), or, as before,
a ChestX-ray14 folder or ``synthetic``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from cxr_paper.errors import RunError
from cxr_paper.files.file_names import safe_part

#: Each layout's name in reports.
LAYOUT_NAMES = {
    "nih": "ChestX-ray14",
    "chexpert": "CheXpert",
    "mimic": "MIMIC-CXR-JPG",
    "vindr": "VinDr-CXR",
    "rsna": "RSNA Pneumonia",
    "siim": "SIIM-ACR Pneumothorax",
    "chexlocalize": "CheXlocalize",
}
_PREFIX = re.compile(r"^([a-z]+):(.*)$")


@dataclass(frozen=True)
class DataSource:
    """A run's ``--data``: a layout and its folder (or ``"synthetic"``: generated).

    Attributes:
        layout: ``"nih"`` or one of :data:`cxr14_data.layouts.LAYOUTS`.
        path: the set's folder, or ``"synthetic"``.

    Examples:
        >>> DataSource.parse("chexpert:/data/CheXpert-v1.0-small")
        DataSource(layout='chexpert', path='/data/CheXpert-v1.0-small')
        >>> DataSource.parse("synthetic"), DataSource.parse("/data/nih").layout
        (DataSource(layout='nih', path='synthetic'), 'nih')
        >>> DataSource.parse("C:/data/nih").layout  # a drive letter is no layout
        'nih'
    """

    layout: str
    path: str

    @classmethod
    def parse(cls, text: str) -> DataSource:
        """Read ``--data``.

        Args:
            text: ``LAYOUT:PATH``, a path, or ``synthetic``.

        Returns:
            The source.

        Raises:
            RunError: ``LAYOUT:`` names no layout (and is not a drive letter).
        """
        found = _PREFIX.match(text)
        if found is None or len(found.group(1)) == 1:
            return cls("nih", text)
        layout, path = found.groups()
        if layout not in LAYOUT_NAMES:
            raise RunError(
                f"--data {text}: {layout!r} is no layout; expected one of {list(LAYOUT_NAMES)} "
                "as LAYOUT:PATH, a ChestX-ray14 folder, or 'synthetic'."
            )
        if not path:
            raise RunError(f"--data {text}: give the folder after '{layout}:' (or 'synthetic').")
        return cls(layout, path)

    @property
    def synthetic(self) -> bool:
        """Whether the set is generated."""
        return self.path == "synthetic"

    @property
    def name(self) -> str:
        """The set's name in reports."""
        return LAYOUT_NAMES[self.layout]


#: The run's folder of its ``--score-on`` scores.
SCORE_ON = "score_on"


def score_on_folder(spec: str, model: str) -> PurePosixPath:
    """Where, in a run folder, one model's score on one ``--score-on`` set goes.

    Args:
        spec: The ``--score-on`` entry.
        model: The model's name.

    Returns:
        ``score_on/<layout>/<model>``.

    Examples:
        >>> score_on_folder("vindr:/data/vindr", "resnet10t")
        PurePosixPath('score_on/vindr/resnet10t')
    """
    layout = DataSource.parse(spec).layout
    return PurePosixPath(SCORE_ON, safe_part(layout), safe_part(model))
