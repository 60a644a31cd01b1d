"""The 14 ChestX-ray14 findings, their spellings, and label vectors."""

from __future__ import annotations

from collections.abc import Iterable

import torch

#: The 14 findings in the order of Table 1 of D'Souza et al. (2022), spelled as in Data_Entry.
CLASSES: tuple[str, ...] = (
    "Atelectasis",
    "Cardiomegaly",
    "Effusion",
    "Infiltration",
    "Mass",
    "Nodule",
    "Pneumonia",
    "Pneumothorax",
    "Consolidation",
    "Edema",
    "Emphysema",
    "Fibrosis",
    "Pleural_Thickening",
    "Hernia",
)
#: The 8 findings with boxes in BBox_List_2017.csv (Tables 2-3).
BOX_CLASSES: tuple[str, ...] = CLASSES[:8]
NO_FINDING = "No Finding"
#: BBox_List_2017.csv spells Infiltration "Infiltrate".
LABEL_ALIASES: dict[str, str] = {"Infiltrate": "Infiltration"}
CLASS_INDEX: dict[str, int] = {name: i for i, name in enumerate(CLASSES)}


class UnknownLabelError(ValueError):
    """A label that is not one of the 14 findings (nor "No Finding")."""


def canonical_label(label: str, where: str = "") -> str:
    """The Data_Entry spelling of ``label`` (``"Infiltrate"`` -> ``"Infiltration"``).

    Examples:
        >>> canonical_label("Infiltrate")
        'Infiltration'
    """
    name = LABEL_ALIASES.get(label.strip(), label.strip())
    if name not in CLASS_INDEX:
        location = f" in {where}" if where else ""
        raise UnknownLabelError(
            f"Unknown finding {label!r}{location}; "
            f"expected one of {list(CLASSES)} or {NO_FINDING!r}."
        )
    return name


def parse_finding_labels(text: str, where: str = "") -> tuple[str, ...]:
    """Split a ``|``-separated ``Finding Labels`` cell; ``"No Finding"`` gives ``()``.

    Examples:
        >>> parse_finding_labels("Cardiomegaly|Effusion")
        ('Cardiomegaly', 'Effusion')
        >>> parse_finding_labels("No Finding")
        ()
    """
    parts = [p.strip() for p in text.split("|") if p.strip()]
    if parts == [NO_FINDING]:
        return ()
    if not parts or NO_FINDING in parts:
        location = f" in {where}" if where else ""
        raise UnknownLabelError(f"Invalid Finding Labels {text!r}{location}.")
    return tuple(canonical_label(p, where) for p in parts)


def labels_to_vector(labels: Iterable[str]) -> torch.Tensor:
    """A float ``(14,)`` multi-hot vector in :data:`CLASSES` order.

    Examples:
        >>> labels_to_vector(["Mass", "Atelectasis"])[:5].tolist()
        [1.0, 0.0, 0.0, 0.0, 1.0]
    """
    vector = torch.zeros(len(CLASSES))
    for label in labels:
        vector[CLASS_INDEX[canonical_label(label)]] = 1.0
    return vector
