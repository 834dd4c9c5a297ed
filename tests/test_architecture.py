"""The import rules of the layout, checked on the source: the kernel knows no domain, and no
domain reaches into another's HTTP or Socket.IO edge or its private names."""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOMAINS = ("helpdesk.bookings", "helpdesk.requests", "helpdesk.outbox", "helpdesk.widget",
           "helpdesk.workspace", "chat", "kb")
EDGE_MODULES = {"views", "api", "events", "console"}


@dataclass(frozen=True)
class Import:
    source: str  # dotted module doing the import
    target: str  # dotted module imported
    names: tuple[str, ...]
    line: int
    as_name: bool = False  # "from package import module": the name may be a module


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_of(module: str) -> str | None:
    """The domain (or ``helpdesk.core``) a module belongs to."""
    for package in ("helpdesk.core", *DOMAINS):
        if module == package or module.startswith(package + "."):
            return package
    return None


def imports_of(path: Path) -> list[Import]:
    source = module_name(path)
    tree = ast.parse(path.read_text(), str(path))
    found: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [Import(source, alias.name, (), node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = tuple(alias.name for alias in node.names)
            found.append(Import(source, node.module, names, node.lineno))
            # "from helpdesk.bookings import views" imports the module helpdesk.bookings.views
            found += [Import(source, f"{node.module}.{name}", (), node.lineno, True) for name in names]
    return found


def application_files() -> list[Path]:
    return sorted(p for top in ("helpdesk", "chat", "kb") for p in (ROOT / top).rglob("*.py"))


def violations(files: list[Path]) -> list[str]:
    problems = []
    for path in files:
        for imp in imports_of(path):
            mine, theirs = package_of(imp.source), package_of(imp.target)
            if theirs is None or mine == theirs:
                continue
            where = f"{path.relative_to(ROOT)}:{imp.line}"
            if mine == "helpdesk.core":
                if not imp.as_name:
                    problems.append(f"{where}: the kernel imports the domain module {imp.target}")
                continue
            if theirs == "helpdesk.core":  # the kernel's public names are there for every domain
                continue
            last = imp.target.rsplit(".", 1)[-1]
            if imp.target != theirs and last in EDGE_MODULES:
                problems.append(f"{where}: {imp.source} imports {imp.target}, another package's edge")
            private = [n for n in imp.names if n.startswith("_")]
            if private or (not imp.as_name and any(part.startswith("_") for part in imp.target.split("."))):
                problems.append(f"{where}: {imp.source} imports private names from {imp.target}: {private}")
    return problems


def test_the_kernel_imports_no_domain_and_no_domain_reaches_into_another() -> None:
    assert violations(application_files()) == []


@pytest.mark.parametrize(
    ("path", "code", "complaint"),
    [
        ("helpdesk/core/leak.py", "from helpdesk.bookings.models import Practice\n", "the kernel imports"),
        ("helpdesk/core/leak.py", "import chat.service\n", "the kernel imports"),
        ("kb/leak.py", "from helpdesk.bookings import views\n", "another package's edge"),
        ("chat/leak.py", "from helpdesk.requests.api import rate_limit\n", "another package's edge"),
        ("helpdesk/widget/leak.py", "from kb.queries import _published\n", "private names"),
    ],
)
def test_a_forbidden_import_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str, code: str,
                                      complaint: str) -> None:
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    target = tmp_path / path
    target.parent.mkdir(parents=True)
    target.write_text(code)
    found = violations([target])
    assert len(found) == 1 and complaint in found[0], found


WALL_CLOCK = re.compile(r"\b(?:datetime\.(?:now|utcnow|today)|date\.today|time\.time)\(")


def test_time_comes_from_the_one_clock() -> None:
    """Every "now" goes through helpdesk.core.clock, so tests can move it."""
    readers = [f"{path.relative_to(ROOT)}:{n}" for path in application_files()
               if path != ROOT / "helpdesk" / "core" / "clock.py"
               for n, line in enumerate(path.read_text().splitlines(), 1) if WALL_CLOCK.search(line)]
    assert readers == []
