"""Every flag of every script that takes a number or a JSON value, fuzzed (NaN, ±inf, huge,
negative, fractional, wrong type, hostile JSON) against the script's validation step, which runs
before anything is written: the answer is a value accepted, or an error that names the flag
(argparse's, exit 2, or a RunError/ScoreError), never a traceback; and nothing is left in --out.
No training starts."""

import argparse
import json
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cam_boxes_iobb.cli import get_args_parser as score_maps_parser
from cam_boxes_iobb.cli import settings_from_args
from cam_boxes_iobb.scoring import ScoreError
from cxr_paper.configuration.cli import get_args_parser as run_parser
from cxr_paper.configuration.cli import resolve_config
from cxr_paper.configuration.ranges import check_flags
from cxr_paper.errors import RunError
from cxr_paper.jobs import export, predict, score, seed_study

HOSTILE_TEXT = [
    "nan", "NaN", "inf", "-inf", "1e309", "-1e309", "-1", "0", "-0.0", "1e18", "-5",
    "99999999999999999999999999999", "0.5", "1.5", "abc", "", "0x10", "1_000",
    "null", "true", "[]", "{}", '[1, "a"]', '{"x": NaN}', '{"resnet10t": [0.001, Infinity]}',
    '{"resnet10t": [-1, 3]}', '{"resnet10t": [0.01, 2.5]}', '{"resnet10t": "fast"}',
    '{"ecr_resolution": Infinity}', '{"nope": 1}',
]  # fmt: skip
VALUES = st.sampled_from(HOSTILE_TEXT) | st.floats().map(repr) | st.integers().map(str)
FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _valued_flags(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The options that take a number or a JSON value."""
    return [a for a in parser._actions if a.option_strings and a.type in (int, float, json.loads)]


def _check(parser, base: list[str], validate, tmp_path, data, flags_of=None) -> None:
    """One fuzzed command line: ``base`` (``OUT`` standing for a fresh --out) and one valued
    flag of ``flags_of`` (default ``parser``) with hostile values, parsed then validated."""
    actions = _valued_flags(flags_of or parser)
    assert actions, "a script without number flags in this test"
    action = data.draw(st.sampled_from(actions), label="flag")
    count = 2 if action.nargs == 2 else 1
    values = [data.draw(VALUES, label="value") for _ in range(count)]
    out = tmp_path / uuid.uuid4().hex
    argv = [a.replace("OUT", str(out)) for a in base] + [action.option_strings[-1], *values]
    _parse_then_validate(parser, argv, validate)
    assert not out.exists(), f"{argv} left {out}"


def _parse_then_validate(parser: argparse.ArgumentParser, argv: list[str], validate) -> None:
    """Parse ``argv`` (argparse names a bad flag and exits 2), then run ``validate``: only a
    one-line RunError or ScoreError may come out."""
    ended = refused = None
    try:
        validate(parser.parse_args(argv))
    except SystemExit as error:
        ended = error
    except (RunError, ScoreError) as error:
        refused = str(error)
    assert ended is None or ended.code == 2
    assert refused is None or (refused and "\n" not in refused)


@FUZZ
@given(data=st.data())
def test_reproduce_paper(tmp_path, data, capsys):
    _check(run_parser(), ["--preset", "smoke", "--out", "OUT"], resolve_config, tmp_path, data)


#: Each script's job (its parser and its number flags) and the rest of a valid command line.
JOB_FLAGS = {
    "score_model": (score, ["--model", "timm:resnet18", "--out", "OUT"]),
    "predict": (predict, ["x.png", "--model", "m", "--out", "OUT"]),
    "export_onnx": (export, ["--model", "m", "--out", "OUT"]),
    "seed_study": (seed_study, ["--out", "OUT", "--seeds", "0"]),
}


@pytest.mark.parametrize("script", sorted(JOB_FLAGS))
@FUZZ
@given(data=st.data())
def test_each_scripts_number_flags(tmp_path, data, capsys, script):
    job, base = JOB_FLAGS[script]

    def validate(args):
        check_flags(args, job.NUMBER_FLAGS)

    _check(job.get_args_parser(), base, validate, tmp_path, data)


def test_seed_study_run_flags_are_checked_before_the_study_folder_is_made(tmp_path):
    """The run flags after ``--`` are the fuzzed reproduce_paper flags, checked first."""
    args = seed_study.get_args_parser().parse_args(["--out", str(tmp_path / "s"), "--seeds", "0"])
    with pytest.raises(RunError, match="--lr -1.0"):
        seed_study.main(args, ["--preset", "smoke", "--lr", "-1"])
    assert not (tmp_path / "s").exists()


@FUZZ
@given(data=st.data())
def test_cam_boxes_iobb_score(tmp_path, data, capsys):
    base = ["score", "--maps", "m.npz", "--annotations", "a.csv", "--out", "OUT"]
    parser = score_maps_parser()
    score_parser = next(
        a for a in parser._actions if isinstance(a, argparse._SubParsersAction)
    ).choices["score"]
    _check(parser, base, settings_from_args, tmp_path, data, flags_of=score_parser)


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--pcm-overrides", '{"resnet10t": [0.001, Infinity]}'], "resnet10t epochs inf"),
        (["--pcm-overrides", '{"resnet10t": [Infinity, 3]}'], "resnet10t lr inf"),
        (["--lr", "-1"], "--lr -1.0: expected a number > 0"),
        (["--val-fraction", "1.5"], "--val-fraction 1.5"),
        (["--lr", "nan"], "--lr nan"),
        (["--seed", "-3"], "--seed -3"),
    ],
)
def test_the_issues_cases_are_named_and_leave_nothing(tmp_path, flags, named):
    """--lr -1 trained until Adam refused it and left a config.json behind."""
    import reproduce_paper

    out = tmp_path / "run"
    args = run_parser().parse_args(["--preset", "smoke", "--out", str(out), *flags])
    with pytest.raises(RunError, match=named.replace("[", r"\[")):
        reproduce_paper.main(args)
    assert not out.exists()


def test_a_hand_edited_config_with_infinity_is_named_on_resume(tmp_path):
    from cxr_paper.configuration.config import CONFIG_FILE, preset_values

    out = tmp_path / "run"
    out.mkdir()
    values = {**preset_values("smoke"), "out": str(out)}
    values["pcm_overrides"] = {"resnet10t": [0.001, float("inf")]}
    (out / CONFIG_FILE).write_text(json.dumps(values))  # writes Infinity, as a hand edit would
    args = run_parser().parse_args(["--out", str(out), "--resume"])
    with pytest.raises(RunError, match="--pcm-overrides resnet10t epochs inf"):
        resolve_config(args)


def test_every_number_setting_has_a_range():
    """A number setting added without a range would reach training unchecked."""
    import dataclasses

    from cxr_paper.configuration.config import RunConfig
    from cxr_paper.configuration.ranges import NUMBER_RANGES

    numeric = {
        f.name
        for f in dataclasses.fields(RunConfig)
        if any(kind in str(f.type) for kind in ("int", "float")) and "dict" not in str(f.type)
    }
    assert numeric == set(NUMBER_RANGES)
