"""Train/validation/test splits of the paper (D'Souza et al. 2022, §5.2).

Test: the official ``test_list.txt``. Train and validation come from ``train_val_list.txt``: every
image with a finding plus ``no_finding`` randomly drawn "No Finding" images, split
``1 - val_fraction : val_fraction`` **by patient**, so that no patient is in both.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence

from cxr14_data.metadata import ImageRecord

SPLITS = ("train", "val", "test")


def select_train_val(
    records: Sequence[ImageRecord],
    no_finding: int | None = 5000,
    val_fraction: float = 0.2,
    seed: int = 0,
) -> tuple[list[ImageRecord], list[ImageRecord]]:
    """Split the ``train_val_list`` records into ``(train, val)``.

    Args:
        records: the Data_Entry records of the images in ``train_val_list.txt``.
        no_finding: how many "No Finding" images to draw (``None``: all of them; if fewer
            exist, all are taken).
        val_fraction: target share of the selected *images* in validation; whole patients are
            assigned, in a seeded random order, until the share is reached.
        seed: seeds both the No-Finding draw and the patient order.

    Returns:
        ``(train, val)`` lists, each in the input order.

    Examples:
        >>> from cxr14_data.metadata import ImageRecord
        >>> records = [ImageRecord(f"{p:08d}_{f:03d}.png", ("Mass",) if f else (), f, p,
        ...                        None, "", "", None, None) for p in range(10) for f in range(2)]
        >>> train, val = select_train_val(records, no_finding=4, val_fraction=0.2)
        >>> len(train) + len(val), {r.patient_id for r in train} & {r.patient_id for r in val}
        (14, set())
    """
    if not 0 <= val_fraction < 1:
        raise ValueError(f"Expected `val_fraction` in [0, 1), got {val_fraction!r}.")
    if no_finding is not None and no_finding < 0:
        raise ValueError(f"Expected `no_finding` >= 0 or None, got {no_finding!r}.")
    rng = random.Random(seed)
    with_finding = [r for r in records if r.labels]
    healthy = [r for r in records if not r.labels]
    if no_finding is not None and no_finding < len(healthy):
        healthy = rng.sample(healthy, no_finding)
    chosen = {r.image_index for r in with_finding} | {r.image_index for r in healthy}
    selected = [r for r in records if r.image_index in chosen]

    by_patient: dict[int, int] = defaultdict(int)
    for record in selected:
        by_patient[record.patient_id] += 1
    patients = sorted(by_patient)
    rng.shuffle(patients)
    target = val_fraction * len(selected)
    val_patients: set[int] = set()
    count = 0
    for patient in patients:
        if count >= target:
            break
        val_patients.add(patient)
        count += by_patient[patient]
    train = [r for r in selected if r.patient_id not in val_patients]
    val = [r for r in selected if r.patient_id in val_patients]
    return train, val
