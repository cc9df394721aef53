"""The repository stands on its own: its documents point inside it, nothing reaches for a folder
beside the clone, and the version is said in one place."""

from __future__ import annotations

import re
from importlib.metadata import version as installed_version
from pathlib import Path

from click.testing import CliRunner

from ticketwarden import __version__
from ticketwarden.cli import main

ROOT = Path(__file__).resolve().parent.parent
SKIPPED_DIRS = {".git", ".venv", "var", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", "build",
                "dist"}
TEXT_SUFFIXES = {".py", ".md", ".sh", ".rb", ".cfg", ".toml", ".yaml", ".yml", ".json", ".txt", ""}
MARKDOWN_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
RELATIVE_PATH = re.compile(r"(?<![\w/.])((?:\.\./)+[\w.\-/]+)")
BESIDE_THE_CLONE = re.compile(r"\.\./shared\b|\.parents?\b[^\n]*[\"']shared[\"']")


def repository_files() -> list[Path]:
    found = []
    for path in ROOT.rglob("*"):
        parts = path.relative_to(ROOT).parts
        if path.is_file() and not SKIPPED_DIRS.intersection(parts) and not parts[-1].endswith(".egg-info") \
                and not any(p.endswith(".egg-info") for p in parts) and path.suffix in TEXT_SUFFIXES:
            found.append(path)
    return found


def test_every_relative_link_in_the_documents_leads_to_a_file_of_the_repository():
    broken = []
    for document in (p for p in repository_files() if p.suffix == ".md"):
        for target in MARKDOWN_LINK.findall(document.read_text(encoding="utf-8")):
            if re.match(r"^[a-z][a-z+.-]*:", target) or target.startswith("#"):
                continue  # a web address or an anchor in the same page
            resolved = (document.parent / target.split("#")[0]).resolve()
            if not resolved.is_relative_to(ROOT) or not resolved.exists():
                broken.append(f"{document.relative_to(ROOT)}: {target}")
    assert broken == []


def test_nothing_refers_to_a_folder_outside_the_repository():
    outside = []
    for path in repository_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            for relative in RELATIVE_PATH.findall(line) if path.suffix != ".md" else ():  # links: see above
                if not (path.parent / relative).resolve().is_relative_to(ROOT):
                    outside.append(f"{path.relative_to(ROOT)}:{number}: {relative}")
            if BESIDE_THE_CLONE.search(line) and path.name != Path(__file__).name:
                outside.append(f"{path.relative_to(ROOT)}:{number}: a `shared` folder beside the clone")
    assert outside == []


def test_the_version_is_said_once_and_everything_agrees():
    assert installed_version("ticketwarden") == __version__
    shown = CliRunner().invoke(main, ["version"])
    assert shown.output.strip() == f"ticketwarden {__version__}"
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert f"## [{__version__}] - " in changelog, "CHANGELOG.md has no heading for the current version"
    assert changelog.index("## [Unreleased]") < changelog.index(f"## [{__version__}]")
    written = [str(p.relative_to(ROOT)) for p in repository_files()
               if p.name not in ("__init__.py", "CHANGELOG.md") and f'"{__version__}"' in p.read_text(errors="replace")]
    assert written == [], "the version is written outside ticketwarden/__init__.py"
