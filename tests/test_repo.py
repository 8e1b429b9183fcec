"""Repository hygiene that CI must hold: lint-clean code and a README that matches the code."""

import ast
import re
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


def tracked(*patterns: str) -> list[str]:
    """The repository's files (as git has them) matching the patterns, paths from the root."""
    result = subprocess.run(["git", "ls-files", "-z", "--", *patterns], cwd=ROOT, capture_output=True)
    if result.returncode != 0:
        pytest.skip("not a git checkout: " + result.stderr.decode(errors="replace").strip())
    return [name for name in result.stdout.decode().split("\0") if name and (ROOT / name).is_file()]


def imported_modules(path: str) -> set[str]:
    """Every module a Python file imports, anywhere in it (lazy imports inside functions too);
    `from package import name` counts as package.name as well, in case name is a module."""
    found: set[str] = set()
    for node in ast.walk(ast.parse((ROOT / path).read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def is_package(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_only_the_synth_imports_pyo() -> None:
    """pyo (either build) is imported only under chronus_tui/synth/; tests and benchmarks that
    drive the synth reach it through chronus_tui.synth.pyolib, never by importing it."""
    importers = {path for path in tracked("*.py")
                 if any(is_package(m, "pyo") or is_package(m, "pyo64") for m in imported_modules(path))}
    assert importers and all(path.startswith("chronus_tui/synth/") for path in importers), sorted(importers)


def test_only_the_ui_imports_textual() -> None:
    importers = {path for path in tracked("chronus_tui/*.py")
                 if any(is_package(m, "textual") for m in imported_modules(path))}
    assert importers and all(path.startswith("chronus_tui/ui/") for path in importers), sorted(importers)


def module_file(module: str) -> str | None:
    """The file of one of our modules (chronus_tui.x.y → chronus_tui/x/y.py), if it is one."""
    path = module.replace(".", "/") + ".py"
    return path if (ROOT / path).is_file() else None


def test_the_architecture_doc_names_every_file_both_processes_run() -> None:
    """docs/architecture.md says a file under chronus_tui/synth/ runs in the synth process,
    every other one in the control process, and lists as "both" the files the synth imports
    from outside synth/. That list must be exactly what the synth process imports (followed
    through every import), and outside synth/ only cli.py (`chronus render`) imports the synth."""
    synth = [path for path in tracked("chronus_tui/synth/*.py")]
    reached, todo = set(synth), list(synth)
    while todo:
        for module in imported_modules(todo.pop()):
            path = module_file(module) if is_package(module, "chronus_tui") else None
            if path and path not in reached:
                reached.add(path)
                todo.append(path)
    shared = {path for path in reached if not path.startswith("chronus_tui/synth/")}

    rows = [line for line in (ROOT / "docs" / "architecture.md").read_text().splitlines()
            if line.startswith("|") and line.split("|")[2].strip() == "both"]
    documented = {name for row in rows for name in re.findall(r"`([^`]+\.py)`", row.split("|")[1])}
    assert documented == shared

    importers = {path for path in tracked("chronus_tui/*.py") if not path.startswith("chronus_tui/synth/")
                 and any(is_package(m, "chronus_tui.synth") for m in imported_modules(path))}
    assert importers == {"chronus_tui/cli.py"}


def test_nothing_cites_a_document_outside_the_repository() -> None:
    """Every Markdown file a tracked file names is in the repository (by its path from the
    root or its name), and no text cites numbered sections of a document we do not ship."""
    shipped = set(tracked("*.md"))
    known = shipped | {Path(name).name for name in shipped}
    missing, sections = [], []
    for path in tracked():
        try:
            text = (ROOT / path).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # a binary file (a WAV fixture, an image)
        for number, line in enumerate(text.splitlines(), 1):
            missing += [f"{path}:{number}: {name}" for name in re.findall(r"[\w./-]+\.md\b", line)
                        if name.lstrip("./") not in known]
            sections += [f"{path}:{number}"] if re.search(r"\N{SECTION SIGN} ?\d", line) else []
    assert (missing, sections) == ([], [])


def test_tests_and_benchmarks_share_helpers_never_conftest() -> None:
    """conftest.py holds pytest's fixtures; what tests and benchmarks share is the support package."""
    importers = {path for path in tracked("*.py")
                 if any(is_package(m, "conftest") for m in imported_modules(path))}
    assert importers == set()
    assert any(is_package(m, "support") for m in imported_modules("benchmarks/bench_store.py"))
