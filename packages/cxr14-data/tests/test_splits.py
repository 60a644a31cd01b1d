import pytest

from cxr14_data import ImageRecord, select_train_val


def _records(n_patients=60, per_patient=3, healthy_every=2):
    records = []
    for patient in range(n_patients):
        for visit in range(per_patient):
            labels = () if (patient + visit) % healthy_every == 0 else ("Mass",)
            records.append(
                ImageRecord(
                    f"{patient:08d}_{visit:03d}.png",
                    labels,
                    visit,
                    patient,
                    None,
                    "",
                    "",
                    None,
                    None,
                )
            )
    return records


class TestSelectTrainVal:
    def test_patient_disjoint_and_complete(self):
        records = _records()
        train, val = select_train_val(records, no_finding=20, val_fraction=0.2, seed=1)
        assert not {r.patient_id for r in train} & {r.patient_id for r in val}
        with_finding = {r.image_index for r in records if r.labels}
        chosen = {r.image_index for r in train + val}
        assert with_finding <= chosen
        assert sum(1 for r in train + val if not r.labels) == 20

    def test_validation_share(self):
        train, val = select_train_val(_records(200), no_finding=None, val_fraction=0.2, seed=0)
        share = len(val) / (len(train) + len(val))
        assert 0.2 <= share < 0.2 + 3 / 600 + 1e-9  # reached by whole patients (3 images each)

    def test_all_no_finding_when_fewer(self):
        records = _records(10)
        train, val = select_train_val(records, no_finding=10_000, seed=0)
        assert len(train) + len(val) == len(records)

    def test_deterministic_and_seeded(self):
        records = _records()
        first = select_train_val(records, no_finding=15, seed=4)
        assert first == select_train_val(records, no_finding=15, seed=4)
        assert first != select_train_val(records, no_finding=15, seed=5)

    def test_zero_validation(self):
        train, val = select_train_val(_records(), val_fraction=0.0)
        assert val == [] and train

    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [({"val_fraction": 1.0}, "val_fraction"), ({"no_finding": -1}, "no_finding")],
    )
    def test_bad_arguments(self, kwargs, match):
        with pytest.raises(ValueError, match=match):
            select_train_val(_records(), **kwargs)
