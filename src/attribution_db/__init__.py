"""attribution-db: tooling around the B0.3 Foundation schema (migrate, local server, refresh)."""

from pathlib import Path

#: Root of the project checkout (the folder holding yoyo.ini).
PROJECT_ROOT = Path(__file__).resolve().parents[2]


class CliError(Exception):
    """An expected failure, reported to the user as one line without a traceback."""
