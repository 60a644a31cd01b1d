import pytest

from cxr14_data import (
    BOX_CLASSES,
    CLASSES,
    UnknownLabelError,
    labels_to_vector,
    parse_finding_labels,
)


def test_classes_in_table_1_order():
    assert CLASSES[:3] == ("Atelectasis", "Cardiomegaly", "Effusion")
    assert CLASSES[-2:] == ("Pleural_Thickening", "Hernia")
    assert len(set(CLASSES)) == 14
    assert set(BOX_CLASSES) == {
        "Atelectasis",
        "Cardiomegaly",
        "Effusion",
        "Infiltration",
        "Mass",
        "Nodule",
        "Pneumonia",
        "Pneumothorax",
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("No Finding", ()),
        ("Hernia", ("Hernia",)),
        ("Effusion|Infiltration|Mass", ("Effusion", "Infiltration", "Mass")),
        ("Infiltrate", ("Infiltration",)),
    ],
)
def test_parse(text, expected):
    assert parse_finding_labels(text) == expected


@pytest.mark.parametrize("text", ["Pneumonitis", "No Finding|Mass", "", "Mass|Cancer"])
def test_unknown_labels_name_where(text):
    with pytest.raises(UnknownLabelError, match="file.csv, line 7"):
        parse_finding_labels(text, where="file.csv, line 7")


def test_vector():
    vector = labels_to_vector(("Hernia", "Atelectasis"))
    assert vector.shape == (14,)
    assert vector.nonzero().flatten().tolist() == [0, 13]
