"""Every public function and class of ``cxr_paper`` documents its arguments, what it returns
and (for result types) its fields, in the Google style the API pages are built from: a new
public name without them, or an argument renamed without its docstring, fails here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cxr_paper"
SECTION = re.compile(r"^(Args|Returns|Yields|Raises|Attributes|Examples):\s*$")
ERROR_BASES = {"Exception", "ValueError", "RunError", "TypeError"}


def _public(tree: ast.Module) -> list[ast.FunctionDef | ast.ClassDef]:
    return [
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("_")
    ]


def _sections(doc: str) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current = None
    for line in doc.splitlines():
        match = SECTION.match(line)
        if match:
            current = sections.setdefault(match.group(1), [])
        elif current is not None and line.strip():
            current.append(line)
    return sections


def _documented(section: list[str]) -> set[str]:
    """The names a section describes: its lines ``name: text`` at the first indentation."""
    names = set()
    for line in section:
        if line.startswith("    ") and not line.startswith("     "):
            head = line.strip().split(":", 1)[0]
            names.update(part.strip().lstrip("*") for part in head.split(","))
    return names


def _parameters(node: ast.FunctionDef) -> list[str]:
    args = node.args
    names = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
    names += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
    return [n for n in names if n not in ("self", "cls")]


def _returns_value(node: ast.FunctionDef) -> bool:
    return node.returns is not None and ast.unparse(node.returns) != "None"


def problems(path: Path, root: Path = PACKAGE) -> list[str]:
    found = []
    for node in _public(ast.parse(path.read_text())):
        where = f"{path.relative_to(root.parent)}:{node.lineno} {node.name}"
        doc = ast.get_docstring(node) or ""
        if not doc.strip():
            found.append(f"{where}: no docstring")
            continue
        sections = _sections(doc)
        if isinstance(node, ast.FunctionDef):
            missing = set(_parameters(node)) - _documented(sections.get("Args", []))
            if missing:
                found.append(f"{where}: Args lacks {sorted(missing)}")
            if _returns_value(node) and not {"Returns", "Yields"} & set(sections):
                found.append(f"{where}: no Returns")
            continue
        bases = {ast.unparse(b).split(".")[-1] for b in node.bases}
        if bases & ERROR_BASES:
            continue  # an error's text is its documentation
        init = next(
            (
                b
                for b in node.body
                if isinstance(b, ast.FunctionDef) and b.name in ("__init__", "__new__")
            ),
            None,
        )
        if init is not None and _parameters(init):
            given = sections.get("Args", []) + sections.get("Attributes", [])
            missing = set(_parameters(init)) - _documented(given)
            if missing:
                found.append(f"{where}: Args lacks {sorted(missing)}")
        elif not {"Attributes", "Args", "Examples"} & set(sections):
            found.append(f"{where}: no Attributes")
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_public_names_document_their_arguments_and_results(path: Path) -> None:
    assert problems(path) == []


def test_the_check_finds_what_is_undocumented(tmp_path: Path) -> None:
    path = tmp_path / "cxr_paper" / "probe.py"
    path.parent.mkdir()
    path.write_text(
        'def f(a: int, b: int) -> int:\n    """Sum.\n\n    Args:\n        a: One.\n\n'
        '    Returns:\n        The sum.\n    """\n    return a + b\n\n\n'
        'def g(a: int) -> int:\n    """Twice."""\n    return 2 * a\n\n\n'
        "class Point:\n    x: int\n\n\n"
        'class Box:\n    """A box."""\n\n    def __init__(self, side: int) -> None:\n'
        "        self.side = side\n"
    )
    assert problems(path, path.parent) == [
        "cxr_paper/probe.py:1 f: Args lacks ['b']",
        "cxr_paper/probe.py:13 g: Args lacks ['a']",
        "cxr_paper/probe.py:13 g: no Returns",
        "cxr_paper/probe.py:18 Point: no docstring",
        "cxr_paper/probe.py:22 Box: Args lacks ['side']",
    ]


def test_every_module_has_a_place_in_the_api_reference() -> None:
    pages = (PACKAGE.parents[1] / "docs" / "api").glob("cxr_paper_*.md")
    shown = {
        line.removeprefix("::: ").strip()
        for page in pages
        for line in page.read_text().splitlines()
        if line.startswith("::: ")
    }
    modules = {
        ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        for path in MODULES
        if path.name != "__init__.py"
    }
    assert sorted(modules - shown) == []
