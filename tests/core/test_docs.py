"""The documentation the code points to exists: every [Tn] cited in a docstring or comment
is an anchor on the theory page, and the README keeps the commands CI runs from it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_cited_equation_is_on_the_theory_page():
    anchors = set(re.findall(r'<a id="T(\d+)"></a>', (ROOT / "docs" / "theory.md").read_text()))
    cited = set()
    for path in (ROOT / "spectra").rglob("*.py"):
        cited |= set(re.findall(r"\[T(\d+)\]", path.read_text(encoding="utf-8")))
    assert len(cited) > 25  # the code cites most of the page
    assert cited <= anchors, sorted(cited - anchors, key=int)
    assert anchors == {str(i) for i in range(1, 37)}


def test_readme_is_a_user_guide_with_the_commands_ci_runs():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 300
    main = [
        x for x in lines if x.startswith("python -m venv .venv && ") and "spectra jacobian" in x
    ]
    test = [
        x for x in lines if x.startswith("python -m venv .venv && ") and "python -m pytest" in x
    ]
    assert main and test
