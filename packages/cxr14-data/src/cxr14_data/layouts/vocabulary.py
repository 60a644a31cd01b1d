"""One vocabulary across data sets, as data: ``data/vocabulary.csv`` maps each set's class names
to shared concepts (Effusion ↔ Pleural Effusion ↔ Pleural effusion; CheXpert's Lung Opacity ↔
CheXlocalize's Airspace Opacity; NIH's Nodule and Mass and VinDr's Nodule/Mass as parts of a lung
lesion), each row with the source that defines the set's class. :func:`counterparts` pairs two
sets' classes and lists what has none, so that nothing is dropped silently.

Relations: ``same`` (the set's class is the concept), ``part`` (one of several classes that make
up the concept), ``broader`` (the set's class covers the concept and more). Only ``same`` on both
sides pairs two classes one to one; the others are reported as near counterparts.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

SETS = ("nih", "chexpert", "mimic", "vindr", "rsna", "siim", "chexlocalize")
#: MIMIC-CXR's labels are CheXpert's labeler's: one vocabulary.
ALIASES = {"mimic": "chexpert"}
RELATIONS = ("same", "part", "broader")


@dataclass(frozen=True)
class Entry:
    """One set's class under one concept."""

    concept: str
    set: str
    name: str
    relation: str
    source: str


@dataclass(frozen=True)
class Counterparts:
    """Two sets' classes paired through the vocabulary.

    Attributes:
        pairs: target class -> source class, where both are ``same`` as one concept.
        near: target class -> ``(source classes, note)`` where the relation is ``part`` or
            ``broader`` on a side (to score, a rule must say how: e.g. the max of the parts).
        source_only: source classes with no counterpart in the target set.
        target_only: target classes with no counterpart in the source set.
    """

    pairs: dict[str, str]
    near: dict[str, tuple[tuple[str, ...], str]]
    source_only: tuple[str, ...]
    target_only: tuple[str, ...]


def vocabulary() -> list[Entry]:
    """Every row of ``data/vocabulary.csv``, checked (a relation or set it does not know is a
    ``ValueError`` naming the row)."""
    text = resources.files("cxr14_data").joinpath("data/vocabulary.csv").read_text("utf-8")
    entries = []
    for line, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        entry = Entry(**row)
        if entry.relation not in RELATIONS or entry.set not in SETS:
            raise ValueError(f"vocabulary.csv, line {line}: {entry.set!r}/{entry.relation!r}.")
        entries.append(entry)
    return entries


def counterparts(source: str, target: str) -> Counterparts:
    """How ``target``'s classes are found among ``source``'s.

    Args:
        source: the set a model was trained on (``"nih"``, ``"chexpert"``, ...).
        target: the set whose labels or annotations score it.

    Returns:
        The one-to-one pairs, the near counterparts and, on each side, the classes with none.

    Examples:
        >>> found = counterparts("nih", "vindr")
        >>> found.pairs["Pleural effusion"], found.near["Nodule/Mass"][0]
        ('Effusion', ('Nodule', 'Mass'))
        >>> counterparts("chexpert", "chexlocalize").pairs["Airspace Opacity"]
        'Lung Opacity'
        >>> "Hernia" in found.source_only, "Aortic enlargement" in found.target_only
        (True, True)
    """
    source, target = ALIASES.get(source, source), ALIASES.get(target, target)
    for name in (source, target):
        if name not in SETS:
            raise ValueError(f"unknown data set {name!r}; expected one of {list(SETS)}.")
    entries = vocabulary()
    of = {s: [e for e in entries if e.set == s] for s in (source, target)}
    pairs: dict[str, str] = {}
    near: dict[str, tuple[tuple[str, ...], str]] = {}
    matched_source: set[str] = set()
    for theirs in of[target]:
        ours = [e for e in of[source] if e.concept == theirs.concept]
        if not ours:
            continue
        matched_source |= {e.name for e in ours}
        if theirs.relation == "same" and len(ours) == 1 and ours[0].relation == "same":
            pairs[theirs.name] = ours[0].name
        else:
            relations = ", ".join(sorted({theirs.relation, *(e.relation for e in ours)}))
            near[theirs.name] = (tuple(e.name for e in ours), f"{theirs.concept}: {relations}")
    matched_target = set(pairs) | set(near)
    return Counterparts(
        pairs=pairs,
        near=near,
        source_only=tuple(e.name for e in of[source] if e.name not in matched_source),
        target_only=tuple(e.name for e in of[target] if e.name not in matched_target),
    )


def vocabulary_set(classes: Sequence[str]) -> str | None:
    """The data set whose class names ``classes`` are: the set naming all of them (the one
    naming the fewest others where several do), or ``None``.

    Args:
        classes: a model's or a table's class names.

    Returns:
        A name of :data:`SETS`, or ``None``.

    Examples:
        >>> vocabulary_set(["Effusion", "Nodule", "Hernia"]), vocabulary_set(["Lung Opacity"])
        ('nih', 'rsna')
        >>> vocabulary_set(["Pleural Effusion", "Fracture"]), vocabulary_set(["Tumour"])
        ('chexpert', None)
    """
    names: dict[str, set[str]] = {}
    for entry in vocabulary():
        names.setdefault(entry.set, set()).add(entry.name)
    covering = [s for s in SETS if set(classes) <= names.get(s, set())]
    return min(covering, key=lambda s: len(names[s]), default=None)
