"""A finished run's files damaged or hostile (each uses the shared smoke run, so ``slow``):
results that do not load are one line, a variant that cannot work is refused before training,
a name that would break the page does not, and a run folder has one writer."""

import json
import shutil

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxr_paper.errors import RunError
from cxr_paper.scoring.results import RESULT_ARRAYS, RESULT_JSON, ModelResult

MODEL = "multires_resnet10t"
FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _model_copy(smoke_run, parent):
    out, _ = smoke_run
    return shutil.copytree(out / MODEL, parent / MODEL, ignore=shutil.ignore_patterns("*.pt"))


class TestDamagedResults:
    @pytest.mark.parametrize(
        "damage", ["truncate npz", "flip npz", "no test", "test is a list", "text json"]
    )
    def test_a_damaged_result_is_one_line_naming_it(self, smoke_run, tmp_path, damage):
        folder = _model_copy(smoke_run, tmp_path)
        arrays, tree = folder / RESULT_ARRAYS, folder / RESULT_JSON
        data = bytearray(arrays.read_bytes())
        saved = json.loads(tree.read_text())
        if damage == "truncate npz":
            arrays.write_bytes(bytes(data[: len(data) // 2]))
        elif damage == "flip npz":
            data[len(data) // 2] ^= 0xFF
            arrays.write_bytes(bytes(data))
        elif damage == "no test":
            tree.write_text(json.dumps({k: v for k, v in saved.items() if k != "test"}))
        elif damage == "test is a list":
            tree.write_text(json.dumps({**saved, "test": []}))
        else:
            tree.write_text("{ not json")
        before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
        with pytest.raises(RunError) as refused:
            ModelResult.load(folder)
        assert "\n" not in str(refused.value) and str(folder) in str(refused.value)
        assert before == {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}

    @FUZZ
    @given(data=st.data())
    def test_mutated_result_files_load_or_are_one_line(self, smoke_run, tmp_path_factory, data):
        folder = _model_copy(smoke_run, tmp_path_factory.mktemp("result"))
        if data.draw(st.booleans()):
            raw = bytearray((folder / RESULT_ARRAYS).read_bytes())
            for _ in range(data.draw(st.integers(1, 5))):
                raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
            (folder / RESULT_ARRAYS).write_bytes(bytes(raw))
        else:
            tree = json.loads((folder / RESULT_JSON).read_text())
            section = data.draw(st.sampled_from(sorted(tree["test"])))
            replacement = data.draw(
                st.none() | st.integers() | st.text(max_size=4) | st.just({}) | st.just([])
            )
            tree["test"][section] = replacement
            (folder / RESULT_JSON).write_text(json.dumps(tree))
        refused = None
        try:
            ModelResult.load(folder)
        except RunError as error:
            refused = str(error)
        assert refused is None or "\n" not in refused


def test_a_result_from_before_map_kinds_were_renamed_loads(smoke_run, tmp_path):
    """Results written while the viewer called map kinds ``variants`` load, under ``kinds``."""
    folder = _model_copy(smoke_run, tmp_path)
    current = ModelResult.load(folder).test.viewer
    tree = json.loads((folder / RESULT_JSON).read_text())
    for record in tree["test"]["viewer"].values():
        record["variants"] = record.pop("kinds")
    (folder / RESULT_JSON).write_text(json.dumps(tree))
    former = ModelResult.load(folder).test.viewer
    assert list(former) == list(current)
    for name, record in former.items():
        assert "variants" not in record
        assert list(record["kinds"]) == list(current[name]["kinds"]) == ["cam", "pcm"]


def test_an_ablation_variant_that_cannot_work_is_refused_before_training(smoke_run, tmp_path):
    import ablate_pcm

    out = shutil.copytree(smoke_run[0], tmp_path / "run")
    args = ablate_pcm.get_args_parser().parse_args(
        ["--run", str(out), "--variants", "paper", "seam", "--quick"]
    )
    with pytest.raises(RunError, match=r"variant 'seam'.*64-px input to 19 px.*32 px"):
        ablate_pcm.main(args)
    assert not (out / "ablation").exists()  # nothing trained


def test_a_second_ablation_needs_overwrite(smoke_run, tmp_path):
    import ablate_pcm

    out = shutil.copytree(smoke_run[0], tmp_path / "run")
    (out / "ablation.json").write_text("{}")
    args = ablate_pcm.get_args_parser().parse_args(
        ["--run", str(out), "--variants", "untrained", "--quick"]
    )
    with pytest.raises(RunError, match="already holds ablation.json; pass --overwrite"):
        ablate_pcm.main(args)


def test_a_run_folder_has_one_writer(smoke_run, tmp_path):
    import reproduce_paper

    from cxr_paper.configuration.cli import get_args_parser
    from cxr_paper.files.out_folder import FolderLock

    out = shutil.copytree(smoke_run[0], tmp_path / "run")
    with FolderLock(out):
        args = get_args_parser().parse_args(["--out", str(out), "--resume"])
        with pytest.raises(RunError, match="is being written by process"):
            reproduce_paper.main(args)


def test_a_hostile_image_name_does_not_break_the_page(smoke_run, tmp_path, chromium):
    """``<!--<script>`` and ``</script>`` are legal file names; map kinds come from
    result.json. The viewer still starts and shows them as text."""
    from browser import open_report

    from cxr_paper.reporting.document import Document
    from cxr_paper.reporting.html_report import write_html_report

    out, _ = smoke_run
    test = ModelResult.load(out / MODEL).test
    hostile = ["<!--<script>", "</script><img src=x onerror=alert(1)>"]
    renamed = dict(zip(list(test.viewer)[:2], hostile, strict=True))
    viewer = {renamed.get(name, name): record for name, record in test.viewer.items()}
    for record in viewer.values():
        record["kinds"]["<b>kind</b>"] = record["kinds"].pop("cam")
    patients = {renamed.get(n, n): p for n, p in zip(test.image_names, test.patients, strict=True)}
    page_path = write_html_report(
        tmp_path / "report.html",
        Document().heading("<i>title</i>", 1).table(["a|b", "`x|y`"], [["<b>", "**c**"]]),
        {MODEL: viewer},
        patients,
        "<t>",
        0.5,
        0.7,
        test.task,
    )
    with open_report(page_path, chromium) as (page, errors):
        names = [li.inner_text().split("\n")[0] for li in page.query_selector_all("#list li")]
        page.select_option("#kind", "<b>kind</b>")
        page.wait_for_function("document.body.dataset.shown.includes('<b>kind</b>')")
        captions = page.inner_text("#panels")
        tables = page.inner_text("#tables")
        bold = page.inner_text("#tables td strong")
    assert not errors, errors
    assert all(text in tables for text in ("<i>title</i>", "a|b", "x|y", "<b>")) and bold == "c"
    assert set(hostile) <= set(names) and len(names) == len(viewer)
    assert page_path.read_text().count("<script") == page_path.read_text().count("</script>")
    assert "<b>kind</b>" in captions  # the map kind's name shown as text, not as markup


def test_overwrite_removes_what_the_run_wrote_and_nothing_else(smoke_run, tmp_path):
    import reproduce_paper

    from cxr_paper.configuration.cli import get_args_parser

    out = shutil.copytree(smoke_run[0], tmp_path / "run")
    (out / "notes.txt").write_text("the user's, not the run's")
    flags = ["--preset", "smoke", "--out", str(out), "--models", "resnet10t"]
    with pytest.raises(RunError, match="already holds files"):
        reproduce_paper.main(get_args_parser().parse_args(flags))
    assert (out / MODEL).is_dir()  # refused: untouched
    reproduce_paper.main(get_args_parser().parse_args([*flags, "--overwrite"]))
    assert (out / "notes.txt").read_text() == "the user's, not the run's"
    assert not (out / MODEL).exists()  # the earlier run's model, listed in its manifest
    assert set(json.loads((out / "metrics.json").read_text())) == {"resnet10t"}


class TestHandEditedRunFiles:
    @pytest.mark.parametrize(
        ("edit", "named"),
        [
            (lambda tree: tree.update(latency_ms="fast"), "latency_ms: 'fast' is not a number"),
            (
                lambda tree: tree["test"]["auroc"].update(mean="high"),
                "test.auroc.mean: 'high' is not a number",
            ),
            (
                lambda tree: tree["intervals"]["auroc"]["mean"].update(low=[1, "2"]),
                r"intervals.auroc.mean.low: \[1, '2'\] is not a number",
            ),
            (lambda tree: tree["intervals"].update(x=1), r"intervals: unknown keys \['x'\]"),
        ],
        ids=["latency", "auroc", "interval", "unknown"],
    )
    def test_a_value_of_the_wrong_type_is_named(self, smoke_run, tmp_path, edit, named):
        folder = _model_copy(smoke_run, tmp_path)
        tree = json.loads((folder / RESULT_JSON).read_text())
        edit(tree)
        (folder / RESULT_JSON).write_text(json.dumps(tree))
        with pytest.raises(RunError, match=named) as refused:
            ModelResult.load(folder)
        assert str(folder / RESULT_JSON) in str(refused.value)

    def test_resume_refuses_an_edited_result_before_writing_anything(self, smoke_run, tmp_path):
        """The report and figures raised tracebacks after metrics.json and some figures were
        already rewritten while report.md stayed old."""
        import reproduce_paper

        from cxr_paper.configuration.cli import get_args_parser

        out = shutil.copytree(smoke_run[0], tmp_path / "run")
        tree = json.loads((out / MODEL / RESULT_JSON).read_text())
        tree["latency_ms"] = "fast"
        (out / MODEL / RESULT_JSON).write_text(json.dumps(tree))
        before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
        with pytest.raises(RunError, match="latency_ms: 'fast' is not a number"):
            reproduce_paper.main(get_args_parser().parse_args(["--out", str(out), "--resume"]))
        after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
        changed = [p for p in before if after.get(p) != before[p] and p.name != ".lock"]
        assert changed == [] and set(after) == set(before)

    def test_a_checkpoint_resaved_with_a_wrong_field_is_named(self, smoke_run, tmp_path):
        from cxr_paper.files.checkpoint import load, save_atomic
        from cxr_paper.learning.stage_loop import load_stage
        from cxr_paper.machine.distributed import DistContext

        path = tmp_path / "stage1_last.pt"
        saved = load(smoke_run[0] / MODEL / "stage1_last.pt", "cpu")
        saved["state"]["epoch"] = "one"
        save_atomic(saved, path)  # a valid checksum over the edited content
        with pytest.raises(RunError, match=r"epoch is 'one', expected a count") as refused:
            load_stage(path, DistContext(0, 1, 0, torch.device("cpu")))
        assert str(path) in str(refused.value)


class TestResumeAfterDeletions:
    def _resume(self, out):
        import reproduce_paper

        from cxr_paper.configuration.cli import get_args_parser

        return reproduce_paper.main(get_args_parser().parse_args(["--out", str(out), "--resume"]))

    def test_missing_outputs_of_a_finished_model_are_named_then_rebuilt(self, smoke_run, tmp_path):
        """With pretrained/ and maps/ gone, --resume said "finished, kept" and rebuilt neither."""
        out = shutil.copytree(smoke_run[0], tmp_path / "run")
        shutil.rmtree(out / MODEL / "pretrained")
        shutil.rmtree(out / MODEL / "maps")
        with pytest.raises(RunError, match=r"pretrained/config.json, maps/cam.npz, maps/pcm.npz"):
            self._resume(out)
        history = ModelResult.load(out / MODEL).history
        (out / MODEL / RESULT_JSON).unlink()
        self._resume(out)
        assert (out / MODEL / "pretrained" / "config.json").is_file()
        assert sorted(p.name for p in (out / MODEL / "maps").iterdir()) == ["cam.npz", "pcm.npz"]
        assert ModelResult.load(out / MODEL).history == history  # rebuilt, not retrained

    def test_a_missing_best_checkpoint_is_refused_not_replaced_by_the_last(
        self, smoke_run, tmp_path
    ):
        out = shutil.copytree(smoke_run[0], tmp_path / "run")
        (out / MODEL / "stage1_best.pt").unlink()
        (out / MODEL / RESULT_JSON).unlink()
        with pytest.raises(RunError, match="stage1_best.pt is missing, though stage 1 recorded"):
            self._resume(out)
