"""Lint, types and the layer rules are part of the tests."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run(*command: str) -> None:
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_lint() -> None:
    run(str(BIN / "ruff"), "check", "src", "tests", "bench")


def test_ruff_format() -> None:
    run(str(BIN / "ruff"), "format", "--check", "src", "tests", "bench")


def test_mypy_strict() -> None:
    run(str(BIN / "mypy"))


def test_import_contracts() -> None:
    run(str(BIN / "lint-imports"))


def imported_modules(package: str) -> set[tuple[str, str]]:
    found = set()
    for path in (ROOT / "src" / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {(path.name, alias.name) for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add((path.name, node.module))
    return found


@pytest.mark.parametrize(
    ("package", "allowed"),
    [
        ("domain", ("eventsourcing.domain",)),
        ("application", ("eventsourcing.domain", "eventsourcing.persistence",
                         "eventsourcing.projection", "eventsourcing.utils")),
    ],
)  # fmt: skip
def test_only_these_eventsourcing_modules_reach_the_inner_layers(
    package: str, allowed: tuple[str, ...]
) -> None:
    wrong = {
        (file, module)
        for file, module in imported_modules(package)
        if module.startswith("eventsourcing") and module not in allowed
    }
    assert wrong == set()
