"""The repository as a newcomer meets it (issue 13): a one-screen README whose every link
leads somewhere, a performance page that opens with a one-screen summary, and yoyo pinned
exactly (migrate.py uses yoyo functions outside its documented API).

Also: yoyo's bookkeeping tables are listed once (``attribution_db.catalog.YOYO_TABLES``),
and that list names exactly the tables yoyo makes.

Mutations killed: readme-links-a-missing-page (a README link to a page that does not
exist), yoyo-pinned-to-a-range (pyproject.toml lets pip pick another yoyo release),
yoyo-tables-spelled-again (snapshot.py with its own copy of the list).
"""

from __future__ import annotations

import re
import textwrap
import tomllib
from pathlib import Path

import pytest

from attribution_db import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
PERFORMANCE = PROJECT_ROOT / "docs" / "performance.md"
MAX_README_LINES = 200
#: One screen: the opening of docs/performance.md up to its second section, wrapped at 100.
SCREEN_LINES, SCREEN_COLUMNS = 40, 100

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    return {slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*$", text, flags=re.M)}


def broken_links(page: Path) -> list[str]:
    """Every relative link of ``page`` whose file (or heading anchor) does not exist."""
    broken = []
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    for target in LINK.findall(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # a URL, or an anchor of this page
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve()
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.is_file() and anchor not in anchors(linked):
            broken.append(f"{target}: no heading #{anchor} in {path}")
    return broken


def summary_problems(text: str) -> list[str]:
    """Does a generated page open with a `## Summary` section that fits on one screen?"""
    sections = [m.start() for m in re.finditer(r"^## ", text, flags=re.M)]
    if not sections or not text[sections[0]:].startswith("## Summary"):
        return ["the first section is not `## Summary`"]
    opening = text[: sections[1]] if len(sections) > 1 else text
    lines = sum(max(1, len(textwrap.wrap(line, SCREEN_COLUMNS))) for line in opening.splitlines())
    if lines > SCREEN_LINES:
        return [f"the opening up to the end of the summary takes {lines} lines of {SCREEN_COLUMNS} columns, over one screen ({SCREEN_LINES})"]
    return []


def test_readme_is_about_one_screen():
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_README_LINES, f"README.md has {lines} lines; reference material belongs in docs/"


def test_every_page_the_readme_links_exists():
    assert len(LINK.findall(README.read_text(encoding="utf-8"))) >= 10, "README.md links to its docs pages"
    assert not (broken := broken_links(README)), "README.md: " + "; ".join(broken)


def test_a_broken_link_is_reported(tmp_path):
    (tmp_path / "there.md").write_text("# Title\n\n## Some Section (with extras)\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](there.md) [ok](there.md#some-section-with-extras) [web](https://example.org/x)\n"
        "[gone](missing.md) [bad anchor](there.md#no-such-heading)\n```\n[in code](ignored.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(page) == ["missing.md: no such file", "there.md#no-such-heading: no heading #no-such-heading in there.md"]


def test_performance_page_opens_with_a_one_screen_summary():
    problems = summary_problems(PERFORMANCE.read_text(encoding="utf-8"))
    assert not problems, f"docs/performance.md: {problems}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# P\n\n## Targets\n\n## Summary\n", "the first section is not `## Summary`"),
        ("# P\n\n## Summary\n" + "| row |\n" * 41 + "## Next\n", "over one screen"),
    ],
    ids=["summary-not-first", "summary-too-long"],
)
def test_a_missing_or_long_summary_is_reported(text, expected):
    problems = summary_problems(text)
    assert len(problems) == 1 and expected in problems[0], problems


def test_yoyo_is_pinned_exactly():
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    yoyo = [d for d in project["dependencies"] if re.match(r"yoyo-migrations\b", d)]
    assert len(yoyo) == 1, project["dependencies"]
    assert re.fullmatch(r"yoyo-migrations==\d+(\.\d+)*", yoyo[0].replace(" ", "")), (
        f"{yoyo[0]}: migrate.py uses yoyo internals, so pin one release (==) and upgrade deliberately"
    )


def test_yoyo_tables_are_listed_once_and_exactly(catalog):
    """``attribution_db.catalog.YOYO_TABLES`` is the one list of yoyo's bookkeeping tables
    (the catalog layer, the fingerprint, the docs and the snapshot leave them out through it),
    and it names exactly the tables yoyo made in a migrated database."""
    from attribution_db.catalog import YOYO_TABLES

    made = {row[0] for row in catalog.execute(
        "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' "
        "AND relname ~ '^_?yoyo'").fetchall()}  # fmt: skip
    assert made == set(YOYO_TABLES), f"yoyo made {sorted(made)}; catalog.YOYO_TABLES says {sorted(YOYO_TABLES)}"
    spelled = [
        str(path.relative_to(PROJECT_ROOT))
        for folder in ("src", "checks", "bench")
        for path in sorted((PROJECT_ROOT / folder).rglob("*.py"))
        if "_yoyo_version" in path.read_text(encoding="utf-8")
        and path.resolve() not in (PROJECT_ROOT / "src/attribution_db/catalog.py", Path(__file__).resolve())
    ]
    assert not spelled, f"the list of yoyo's tables spelled again in {spelled}: use catalog.YOYO_TABLES"
