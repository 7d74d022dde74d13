"""Helpers shared by checks that run the project's command line or need its role bootstrap.

Here rather than in conftest.py so that test modules import a helper module, never a test
module (pytest's conftest is one).
"""

from __future__ import annotations

import os
import subprocess
import sys

from attribution_db import PROJECT_ROOT


#: The superuser bootstrap of the cluster-wide group roles (docs/changing-the-schema.md);
#: a dump does not carry roles, and least-privilege owners cannot create them.
BOOTSTRAP_ROLES = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'app_rw') THEN CREATE ROLE app_rw NOLOGIN; END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'app_ro') THEN CREATE ROLE app_ro NOLOGIN; END IF;
END
$$
"""


def run_cli(*args: str, url: str | None = None, check: bool = True, **kw) -> subprocess.CompletedProcess:
    """Run ``attribution-db`` as a user would (a separate process)."""
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    if url:
        env["DATABASE_URL"] = url
    env.update(kw.pop("env", {}))
    proc = subprocess.run(
        [sys.executable, "-m", "attribution_db", *args],
        capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, **kw,
    )  # fmt: skip
    if check and proc.returncode != 0:
        raise AssertionError(f"attribution-db {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
    return proc


def assert_one_line_error(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    assert proc.returncode == 1, f"exit {proc.returncode}\n{proc.stdout}{proc.stderr}"
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), f"not a one-line error:\n{proc.stderr}"
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
