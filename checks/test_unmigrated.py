"""Every check that reads the migrated database fails on a database that was never migrated.

A catalog check that passes on an empty database (a schema-wide rule over zero tables, a
"nothing extra" list with nothing in it, a role attribute that is cluster-wide) proves
nothing about the migrations. This check runs, in a separate pytest process on the same
server, every check using the ``migrated_url`` or ``catalog`` fixture (behaviour checks on ``db``
write rows into the contract tables and so fail on an empty database by construction) with
``ATTRIBUTION_DB_UNMIGRATED=1`` (checks/conftest.py then hands them an empty database) and
fails naming each one that passed there.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from attribution_db import PROJECT_ROOT

#: Modules whose checks read the session's migrated database (the others migrate their own;
#: test_tooling's checks of the command line are about the tool, not the schema).
MODULES = [
    "checks/test_comments.py",
    "checks/test_constraints_behaviour.py",
    "checks/test_contract_mapping.py",
    "checks/test_contract_tables.py",
    "checks/test_docs.py",
    "checks/test_integrity.py",
    "checks/test_isolation_contract.py",
    "checks/test_read_models.py",
]

#: Checks (node id prefixes) that read the database but prove something independent of the
#: schema, each with why. Keep this short: everything else must fail on an empty database.
SCHEMA_INDEPENDENT = {
    "checks.test_docs::test_header_comes_from_the_repository_not_the_clock":
        "the header names the latest migration file and the schema version from the repository",
    "checks.test_comments::test_a_missing_comment_is_reported[CREATE ":
        "self-tests of the comment walk on probe objects they create themselves",
    "checks.test_comments::test_a_role_without_a_comment_is_reported":
        "self-test of the comment walk on a cluster-wide role (present once any database was migrated)",
}


@pytest.mark.slow
def test_every_database_check_fails_on_an_unmigrated_database(server, tmp_path):
    report = tmp_path / "unmigrated.xml"
    env = {**os.environ, "ATTRIBUTION_DB_UNMIGRATED": "1", "DATABASE_URL": server.url}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--tb=no", "-p", "no:cacheprovider", f"--junitxml={report}", *MODULES],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert report.exists(), f"the unmigrated run did not report (exit {proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
    cases = list(ET.parse(report).iter("testcase"))
    assert len(cases) > 100, f"only {len(cases)} checks ran against the unmigrated database"
    passed = [
        f"{case.get('classname')}::{case.get('name')}"
        for case in cases
        if not {child.tag for child in case} & {"failure", "error", "skipped"}
        and not f"{case.get('classname')}::{case.get('name')}".startswith(tuple(SCHEMA_INDEPENDENT))
    ]
    skipped = [f"{case.get('classname')}::{case.get('name')}" for case in cases if case.find("skipped") is not None]
    assert not passed, f"{len(passed)} check(s) pass on a database that was never migrated:\n  " + "\n  ".join(passed)
    assert not skipped, f"{len(skipped)} check(s) skip on an unmigrated database instead of failing:\n  " + "\n  ".join(skipped)
