"""The scripts in ``examples/`` parse arguments and call one job of ``cxr_paper.jobs``: no logic,
and no script imports another (what a run does is importable without a script)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(EXAMPLES.glob("*.py"))
ALLOWED_MODULES = {"sys", "cxr_paper.errors", "cxr_paper.configuration.cli"}


def test_every_script_is_found():
    names = {p.name for p in SCRIPTS}
    assert {"reproduce_paper.py", "seed_study.py", "score_model.py", "predict.py"} <= names


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_a_script_imports_one_job_and_defines_nothing(script):
    tree = ast.parse(script.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
    jobs = {m for m in imported if m.startswith("cxr_paper.jobs.")}
    assert len(jobs) == 1, f"{script.name} imports {sorted(jobs)}"
    assert imported - jobs <= ALLOWED_MODULES, f"{script.name} imports {imported - jobs}"
    definitions = [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    ]
    assert definitions == [], f"{script.name} defines {definitions}"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_a_script_exposes_its_jobs_parser_and_main(script):
    namespace: dict = {"__name__": "not_main"}
    exec(compile(script.read_text(), str(script), "exec"), namespace)
    job = next(v for k, v in namespace.items() if k == "main")
    assert job.__module__.startswith("cxr_paper.jobs.")
    assert callable(namespace["get_args_parser"])
