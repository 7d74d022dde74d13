"""Immutable migration history: a committed manifest of the sha256 of every migration file.

``sql/manifest.sha256`` holds one ``<sha256>  <path>`` line per migration and rollback file
of every folder yoyo.ini lists, sorted by path. A recorded file may never change or
disappear (landed migrations are history: change the schema with a new migration); new
files are added by ``make manifest``, which never rewrites a recorded line.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from attribution_db import PROJECT_ROOT, CliError
from attribution_db.migrate import sources

MANIFEST_NAME = "sql/manifest.sha256"
MANIFEST = PROJECT_ROOT / MANIFEST_NAME
HEADER = (
    "# sha256 of every migration and rollback file (checked by `make test`).\n"
    "# Generated: `make manifest` adds new files and never changes a recorded line.\n"
    "# A recorded file must never change: put schema changes in a new migration.\n"
)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def migration_files() -> dict[str, Path]:
    """Every migration and rollback file (``*.sql``, ``*.py``) in the yoyo.ini folders."""
    found: dict[str, Path] = {}
    for folder in map(Path, sources()):
        for path in sorted(folder.glob("*")):
            if path.is_file() and path.suffix in {".sql", ".py"}:
                found[str(path.relative_to(PROJECT_ROOT))] = path
    return found


def read(manifest: Path | None = None) -> dict[str, str]:
    """The recorded ``path -> sha256`` (empty when there is no manifest yet)."""
    manifest = manifest or MANIFEST
    if not manifest.exists():
        return {}
    recorded: dict[str, str] = {}
    for number, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        checksum, sep, path = line.partition("  ")
        if not sep or len(checksum) != 64 or path in recorded:
            raise CliError(f"{MANIFEST_NAME}:{number} is not a `<sha256>  <path>` line (or repeats a path)")
        recorded[path] = checksum
    return recorded


def changed_or_missing(recorded: dict[str, str]) -> list[str]:
    """One sentence per recorded file that changed or is gone."""
    problems = []
    for path, checksum in sorted(recorded.items()):
        file = PROJECT_ROOT / path
        if not file.exists():
            problems.append(
                f"{path} is recorded in {MANIFEST_NAME} but is gone: landed migrations are never "
                f"deleted; restore it (`git checkout main -- {path}`)"
            )
        elif digest(file) != checksum:
            problems.append(
                f"{path} changed after it was recorded in {MANIFEST_NAME}: landed migrations are "
                f"immutable; restore it (`git checkout main -- {path}`) and put the change in a new "
                "migration"
            )
    return problems


def check() -> None:
    """Raise CliError (one line) unless every file is recorded and every record holds."""
    recorded = read()
    problems = changed_or_missing(recorded)
    unrecorded = sorted(set(migration_files()) - set(recorded))
    if unrecorded:
        problems.append(f"{', '.join(unrecorded)} not in {MANIFEST_NAME}: run `make manifest`")
    fail_on(problems)


def fail_on(problems: list[str]) -> None:
    """Raise one CliError line: the first problem and how many more there are."""
    if problems:
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise CliError(problems[0] + more)


def update() -> list[str]:
    """Add every unrecorded file; refuse (changing nothing) when a recorded one changed."""
    recorded = read()
    fail_on(changed_or_missing(recorded))
    added = sorted(set(migration_files()) - set(recorded))
    files = migration_files()
    for path in added:
        recorded[path] = digest(files[path])
    if added or not MANIFEST.exists():
        lines = "".join(f"{recorded[path]}  {path}\n" for path in sorted(recorded))
        MANIFEST.write_text(HEADER + lines, encoding="utf-8")
    return added
