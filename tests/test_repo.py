"""Repository hygiene that CI must hold: lint-clean code and a README that matches the code."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_clean() -> None:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (it comes with the test extras)")
    result = subprocess.run([ruff, "check", "chronus_tui", "tests", "benchmarks"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_starts_with_the_two_setup_commands() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    block = lines[lines.index("```sh") + 1: lines.index("```sh") + 3]
    assert block[0].endswith(".venv/bin/chronus")
    assert "pytest" in block[1] and "[test]" in block[1]
    assert lines.index("```sh") < 5


def test_every_subpackage_ships_in_the_wheel() -> None:
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "chronus_tui").rglob("__init__.py")}
    assert found | {"chronus_tui.patterns"} == listed


def test_cli_is_the_one_place_a_program_is_put_together() -> None:
    """Logging set-up and the runtime (lock, store, engine, Session) are wired only by cli.py's
    cmd_* functions; other modules offer pieces and never start a program of their own."""
    import ast

    wiring = {"open_runtime", "start_logging"}
    callers = set()
    for path in (ROOT / "chronus_tui").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name in wiring:
                    callers.add(path.relative_to(ROOT).as_posix())
    assert callers == {"chronus_tui/cli.py"}
