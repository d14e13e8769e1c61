"""DESIGN.md section 1: ingest/ and ranking/ never import app, fastapi, sqlmodel, sqlalchemy;
ranking imports at most ingest.types from ingest."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {"app", "fastapi", "sqlmodel", "sqlalchemy", "starlette", "alembic"}


def imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def violations(package: str) -> list[str]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for name in imported_modules(path):
            top = name.split(".")[0]
            if top in FORBIDDEN:
                found.append(f"{path.relative_to(ROOT)} imports {name}")
            if package == "ranking" and top == "ingest" and name != "ingest.types":
                found.append(f"{path.relative_to(ROOT)} imports {name} (only ingest.types)")
    return found


def test_ingest_imports_point_one_way() -> None:
    assert list((ROOT / "ingest").rglob("*.py")), "ingest/ has no modules to check"
    assert violations("ingest") == []


def test_ranking_imports_point_one_way() -> None:
    assert list((ROOT / "ranking").rglob("*.py")), "ranking/ has no modules to check"
    assert violations("ranking") == []


def test_the_checker_catches_a_wrong_arrow(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from app.models import Item\nimport sqlalchemy as sa\n")
    assert imported_modules(bad) == ["app.models", "sqlalchemy"]


# the faces share dependencies (sessions, the limiter) and templates, never handlers
FACE_SHARED = {"app.web": {"app.api.deps"}, "app.api": {"app.web.common"}}


def face_violations() -> list[str]:
    found = []
    for face, other in (("app.web", "app.api"), ("app.api", "app.web")):
        folder = ROOT / face.replace(".", "/")
        for path in sorted(folder.rglob("*.py")):
            for name in imported_modules(path):
                if name.startswith(other) and name not in FACE_SHARED[face]:
                    found.append(f"{path.relative_to(ROOT)} imports {name}")
    return found


def test_the_api_and_the_reader_never_call_each_others_handlers() -> None:
    assert face_violations() == []
