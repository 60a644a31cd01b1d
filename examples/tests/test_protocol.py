"""The localization protocol's numbers (Q, p, T) are written once: the reports print the values
a run used (they printed "Q = 0.7" and "p = 0.5" whatever the flags said)."""

import ast
from pathlib import Path

from cxr_paper.configuration.config import RunConfig, preset_values
from cxr_paper.configuration.protocol import PAPER_PROTOCOL, LocalizationProtocol
from cxr_paper.reporting.methods_table import methods_caption, methods_table
from cxr_paper.reporting.study_reports import ablation_document

PACKAGE = Path(__file__).resolve().parents[1] / "cxr_paper"


def test_captions_print_the_runs_thresholds():
    config = RunConfig(
        **{**preset_values("smoke"), "heatmap_threshold": 0.6, "prob_threshold": 0.4}
    )
    protocol = LocalizationProtocol.of(config)
    caption = methods_caption(15.0, [1024, 1024], protocol)
    assert "Q = 0.6, classes predicted above p = 0.4, IoBB > 0.1" in caption
    assert "(the paper's: heatmap ≥ Q = 0.7, classes predicted above p = 0.5" in caption
    assert methods_table({}, protocol).header[2] == "accuracy IoBB > 0.1 (Q = 0.6)"
    results = {"run": "r", "box_classes": [], "variants": {}}
    assert "Q = 0.6" in ablation_document(results, protocol).to_markdown()
    assert "(the paper's)" in methods_caption(15.0, [1024, 1024], PAPER_PROTOCOL)


def test_the_run_settings_default_to_the_protocol():
    values = preset_values("paper")
    assert LocalizationProtocol.of(values) == PAPER_PROTOCOL


def test_no_source_writes_the_protocols_numbers_into_a_text():
    """Strings (f-strings included) of cxr_paper that spell "Q = 0.7" or "p = 0.5": only
    the protocol's own module may."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "protocol.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            text = node.value if isinstance(node, ast.Constant) else None
            if isinstance(text, str) and ("Q = 0.7" in text or "p = 0.5" in text):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert found == []
