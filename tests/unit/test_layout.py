"""The layout's rules: the product (devbench) imports nothing from the test lab (devlab) or the
tests, and the wheel holds devbench alone."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUTSIDE = ("devlab", "tests", "benchmarks")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def test_devbench_imports_nothing_from_the_lab_or_the_tests():
    bad = [f"{p.relative_to(ROOT)}:{line}: {name}"
           for p in sorted((ROOT / "devbench").rglob("*.py"))
           for line, name in imported_modules(p)
           if name.split(".")[0] in OUTSIDE]
    assert not bad, "the product imports the lab or the tests:\n" + "\n".join(bad)


def test_devbench_names_no_lab_module_in_strings():
    # `python -m devlab ...` or importlib on a lab module would reach past the rule above
    bad = [str(p.relative_to(ROOT)) for p in (ROOT / "devbench").rglob("*.py")
           if any(isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value.startswith("devlab")
                  for n in ast.walk(ast.parse(p.read_text())))]
    assert not bad


def test_the_wheel_holds_devbench_alone():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wheel = project["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel["packages"] == ["devbench"]
    assert not any(str(dest).startswith("devlab") or "devlab" in str(src)
                   for src, dest in wheel.get("force-include", {}).items())
