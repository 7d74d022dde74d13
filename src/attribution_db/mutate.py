"""Mutation harness (``make mutate``): do the checks notice when the schema is broken?

The catalog is data: every ``checks/mutations/*.yaml`` holds a list of entries

    - id: short-kebab-name
      file: sql/policies/202511131119_enable_row_level_security.sql
      find: "exact text that occurs exactly once in that file"
      replace: "what it becomes"
      kills: [checks/test_x.py::test_y]     # pytest node ids expected to FAIL on the mutant
      why: the weakness this mutation stands for

For each entry the harness copies the project (without .git, .venv, .pg) to a scratch
folder, applies the one replacement there, and runs exactly the ``kills`` checks against
that copy (``PYTHONPATH=<copy>/src``, so ``attribution_db.PROJECT_ROOT`` and every
``python -m attribution_db`` a check spawns read the mutated SQL). A mutant is *killed*
when at least one listed check fails, *survives* when all of them pass (or skip), and the
entry is *broken* when it cannot be judged: malformed, ``find`` not exactly once in the
file, a listed check that does not exist or does not pass on the unmutated copy, or a
listed check that compares committed files (manifest, schema snapshot, generated docs),
which fails on any edit and so proves nothing about the schema.

One throwaway PostgreSQL serves every mutant (each pytest run creates and drops its own
databases there, see checks/conftest.py). Mutants that touch cluster-wide state (roles)
get a throwaway server of their own, so they cannot leak into the others.
"""

from __future__ import annotations

import concurrent.futures
import configparser
import contextlib
import functools
import dataclasses
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from attribution_db import PROJECT_ROOT, CliError, dburl

CATALOG_DIR = Path("checks") / "mutations"
#: What the scratch copy leaves out (VCS, virtualenv, local server data, caches).
IGNORED = shutil.ignore_patterns(".git", ".venv", ".pg", "__pycache__", ".pytest_cache", "*.egg-info", "tmp")
REQUIRED_KEYS = ("id", "file", "find", "replace", "kills", "why")
#: Checks that compare committed files with the tree (manifest checksums, sql/schema.sql,
#: generated docs): any edit fails them, so they never count as a kill.
STALENESS_CHECKS = (
    re.compile(r"^checks/test_lifecycle\.py::test_manifest"),
    re.compile(r"^checks/test_lifecycle\.py::test_schema_snapshot"),
    re.compile(r"^checks/test_docs\.py::test_committed"),
    re.compile(r"^checks/test_docs\.py::test_cli_check_mode"),
)
#: A mutation whose text mentions roles changes cluster-wide state: it gets its own server.
CLUSTER_WIDE = re.compile(r"\bROLE\b|\bpg_roles\b|\brolname\b", re.I)
TIMEOUT = 600


@dataclasses.dataclass
class Entry:
    id: str
    file: str
    find: str
    replace: str
    kills: list[str]
    why: str
    source: str
    problem: str | None = None
    # False (``server: none`` in the catalog): the listed checks start the project's own
    # throwaway clusters (checks of the local-cluster code), so they run without DATABASE_URL.
    harness_server: bool = True

    @property
    def own_server(self) -> bool:
        return bool(CLUSTER_WIDE.search(self.find) or CLUSTER_WIDE.search(self.replace)) or "app_roles" in self.file


@dataclasses.dataclass
class Outcome:
    entry: Entry
    verdict: str  # killed | SURVIVED | BROKEN
    detail: str
    seconds: float = 0.0


def load_catalog(root: Path = PROJECT_ROOT) -> list[Entry]:
    """Every entry of every checks/mutations/*.yaml, each validated (``problem`` says why not)."""
    import yaml

    entries: list[Entry] = []
    seen: dict[str, str] = {}
    files = sorted((root / CATALOG_DIR).glob("*.yaml"))
    if not files:
        raise CliError(f"no mutation catalog: {CATALOG_DIR}/*.yaml is empty")
    for path in files:
        source = path.relative_to(root).as_posix()
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        except yaml.YAMLError as exc:
            raise CliError(f"{source}: not valid YAML: {str(exc).splitlines()[0]}") from None
        if not isinstance(data, list):
            raise CliError(f"{source}: must be a list of entries")
        for n, raw in enumerate(data, 1):
            raw = raw if isinstance(raw, dict) else {}
            entry = Entry(
                id=str(raw.get("id") or f"{source}#{n}"),
                file=str(raw.get("file") or ""),
                find=raw.get("find") if isinstance(raw.get("find"), str) else "",
                replace=raw.get("replace") if isinstance(raw.get("replace"), str) else "",
                kills=[str(k) for k in raw.get("kills") or []] if isinstance(raw.get("kills"), list) else [],
                why=str(raw.get("why") or ""),
                source=source,
                harness_server=raw.get("server") != "none",
            )
            entry.problem = _problem(root, raw, entry, seen)
            seen.setdefault(entry.id, source)
            entries.append(entry)
    return entries


def _problem(root: Path, raw: dict, entry: Entry, seen: dict[str, str]) -> str | None:
    missing = [k for k in REQUIRED_KEYS if raw.get(k) is None or (k != "replace" and raw.get(k) in ("", []))]
    if missing:
        return f"missing {', '.join(missing)}"
    if entry.id in seen:
        return f"id also used in {seen[entry.id]}"
    if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", entry.id):
        return "id must be short-kebab-case"
    if not isinstance(raw.get("kills"), list) or not all(isinstance(k, str) and "::" in k for k in raw["kills"]):
        return "kills must be a list of pytest node ids (checks/test_x.py::test_y)"
    if raw.get("server") not in (None, "none"):
        return "server must be absent or none"
    if entry.find == entry.replace:
        return "replace equals find: nothing is mutated"
    stale = [k for k in entry.kills if any(p.search(k) for p in STALENESS_CHECKS)]
    if stale:
        return f"kills lists staleness checks that fail on any edit: {', '.join(stale)}"
    target = root / entry.file
    if not target.is_file():
        return f"file {entry.file} does not exist"
    text = target.read_text(encoding="utf-8")
    count = text.count(entry.find)
    if count != 1:
        return f"find text occurs {count} times in {entry.file} (must be exactly once)"
    return _inert(root, entry, text)


#: A function, view or materialized view a migration defines (kind, name, argument list).
DOLLAR_QUOTE = re.compile(r"\$(\w*)\$")
DEFINITION = re.compile(r"^CREATE (?:OR REPLACE )?(FUNCTION|VIEW|MATERIALIZED VIEW) ([\w.]+)\s*(\([^)]*\))?", re.M | re.I)


def _definitions(text: str) -> list[tuple[int, int, tuple]]:
    """(start, end, key) of each function or view definition in a migration's text."""
    found = []
    for m in DEFINITION.finditer(text):
        kind, name = m.group(1).upper(), m.group(2).lower().removeprefix("public.")
        args = None
        if kind == "FUNCTION":  # overloads differ by argument types: keep each argument's last type word
            declared = [re.split(r"\s+DEFAULT\s+|\s*=", a, flags=re.I)[0].split() for a in (m.group(3) or "()")[1:-1].split(",")]
            args = tuple(words[-1].lower() for words in declared if words)
            quote = DOLLAR_QUOTE.search(text, m.end())  # the body: $$ ... $$ or $tag$ ... $tag$
            close = text.find(quote.group(0), quote.end()) if quote else -1
            end = text.find(";", close + len(quote.group(0))) if close >= 0 else text.find(";", m.end())
        else:
            end = text.find(";", m.end())
        found.append((m.start(), end if end >= 0 else len(text), (kind, name, args)))
    return found


@functools.lru_cache(maxsize=4)
def _apply_order(root: Path) -> list[Path]:
    """The migration files of ``root`` in yoyo's apply order (folders of its yoyo.ini)."""
    from yoyo import read_migrations
    from yoyo.migrations import topological_sort

    parser = configparser.ConfigParser(interpolation=None)
    parser.read(root / "yoyo.ini", encoding="utf-8")
    folders = [str(root / f) for f in parser.get("DEFAULT", "sources", fallback="").split()]
    return [Path(m.path).resolve() for m in topological_sort(read_migrations(*folders))]


def _inert(root: Path, entry: Entry, text: str) -> str | None:
    """Why a mutation cannot change the schema: the object it edits is defined again by a
    migration applied later, so the edited definition is never the one in force."""
    if entry.file.endswith(".rollback.sql") or not (root / "yoyo.ini").is_file():
        return None
    order = _apply_order(root)
    here = (root / entry.file).resolve()
    if here not in order:
        return None
    offset = text.index(entry.find)
    edited = {key for start, end, key in _definitions(text) if start <= offset <= end}
    for later in order[order.index(here) + 1 :]:
        again = edited & {key for _, _, key in _definitions(later.read_text(encoding="utf-8"))}
        if again:
            kind, name, _ = sorted(again)[0]
            return (f"inert: {kind.lower()} {name} is defined again by {later.relative_to(root.resolve()).as_posix()}, "
                    "applied later; target the definition in force")  # fmt: skip
    return None


def copy_project(dest: Path, source: Path = PROJECT_ROOT) -> Path:
    shutil.copytree(source, dest, ignore=IGNORED, symlinks=True)
    return dest


def collect_node_ids(copy: Path) -> set[str]:
    """Every check node id pytest collects in ``copy`` (needs no database)."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "checks"],
        cwd=copy, env=_env(copy, None), capture_output=True, text=True, timeout=TIMEOUT,
    )  # fmt: skip
    ids = {line.strip() for line in proc.stdout.splitlines() if "::" in line}
    if proc.returncode != 0 or not ids:
        raise CliError(f"collecting the checks failed: {(proc.stdout + proc.stderr).strip().splitlines()[-1:]}")
    return ids


def _env(copy: Path, url: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(copy / "src"), str(copy), *filter(None, [env.get("PYTHONPATH")])])
    env.pop("DATABASE_URL", None)
    if url:
        env["DATABASE_URL"] = url
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def expand(kill: str, collected: set[str]) -> list[str]:
    """The collected node ids a ``kills`` entry names (itself, or all its parameters)."""
    return sorted(n for n in collected if n == kill or n.startswith(kill + "["))


def run_checks(copy: Path, url: str | None, node_ids: list[str], report: Path) -> tuple[dict[str, str], str]:
    """Run ``node_ids`` in ``copy``; the outcome (passed, failed, error, skipped) of each, and any trouble."""
    cmd = [sys.executable, "-m", "pytest", "-q", "--tb=no", "-p", "no:cacheprovider",
           f"--junitxml={report}", *node_ids]  # fmt: skip
    try:
        proc = subprocess.run(cmd, cwd=copy, env=_env(copy, url), capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return {}, f"timed out after {TIMEOUT} s"
    if not report.exists():
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or ["no output"]
        return {}, f"pytest exited {proc.returncode}: {tail[0]}"
    outcomes: dict[str, str] = {}
    for case in ET.parse(report).iter("testcase"):
        node = case.get("classname", "").replace(".", "/") + ".py::" + case.get("name", "")
        tags = {child.tag for child in case}
        outcomes[node] = (
            "failed" if "failure" in tags else "error" if "error" in tags else "skipped" if "skipped" in tags else "passed"
        )
    trouble = "" if proc.returncode in (0, 1) else f"pytest exited {proc.returncode}"
    return outcomes, trouble


@contextlib.contextmanager
def server(own: bool = False):
    """DATABASE_URL's server when set (and not ``own``), else a throwaway cluster."""
    external = dburl.from_env()
    if external and not own:
        dburl.parse(external)
        yield external
        return
    from attribution_db.cluster import throwaway_cluster

    with throwaway_cluster("attribution-db-mutate-") as cluster:
        yield cluster.url("postgres")


def mutate_one(entry: Entry, pristine: Path, workdir: Path, url: str, collected: set[str]) -> Outcome:
    started = time.monotonic()
    copy = workdir / entry.id
    shutil.copytree(pristine, copy, symlinks=True)
    try:
        target = copy / entry.file
        text = target.read_text(encoding="utf-8")
        target.write_text(text.replace(entry.find, entry.replace, 1), encoding="utf-8")
        nodes = sorted({n for k in entry.kills for n in expand(k, collected)})
        if not entry.harness_server:
            url = None
        with server(own=True) if entry.own_server and url else contextlib.nullcontext(url) as mutant_url:
            outcomes, trouble = run_checks(copy, mutant_url, nodes, workdir / f"{entry.id}.xml")
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    seconds = time.monotonic() - started
    missing = [n for n in nodes if n not in outcomes]
    failed = [n for n in nodes if outcomes.get(n) in ("failed", "error")]
    if failed:
        return Outcome(entry, "killed", _names(failed, outcomes), seconds)
    if trouble or missing:
        return Outcome(entry, "BROKEN", trouble or f"did not run: {', '.join(missing)}", seconds)
    return Outcome(entry, "SURVIVED", f"every listed check passed: {', '.join(entry.kills)}", seconds)


def _names(nodes: list[str], outcomes: dict[str, str]) -> str:
    shown = [f"{n}{' (error)' if outcomes[n] == 'error' else ''}" for n in nodes[:2]]
    more = f" (+{len(nodes) - 2} more)" if len(nodes) > 2 else ""
    return "by " + ", ".join(shown) + more


def run(only: list[str] | None = None, jobs: int = 2, out=print) -> int:
    started = time.monotonic()
    entries = load_catalog()
    if only:
        known = {e.id for e in entries}
        unknown = [i for i in only if i not in known]
        if unknown:
            raise CliError(f"ONLY names unknown mutation id(s): {', '.join(unknown)}")
        entries = [e for e in entries if e.id in only]
    files = sorted({e.source for e in entries})
    out(f"mutate: {len(entries)} mutation(s) from {', '.join(files)}; {jobs} at a time")
    outcomes: list[Outcome] = [Outcome(e, "BROKEN", e.problem) for e in entries if e.problem]
    for o in outcomes:
        out(f"  BROKEN    {o.entry.id} ({o.entry.source}): {o.detail}")
    todo = [e for e in entries if not e.problem]
    with tempfile.TemporaryDirectory(prefix="attribution-db-mutate-") as tmp:
        workdir = Path(tmp)
        pristine = copy_project(workdir / "pristine")
        collected = collect_node_ids(pristine)
        for e in todo:
            unknown = [k for k in e.kills if not expand(k, collected)]
            if unknown:
                e.problem = f"no such check: {', '.join(unknown)}"
        with server() as url:
            # The listed checks must pass on the unmutated schema, else a "kill" proves nothing.
            baseline_nodes = sorted({n for e in todo if not e.problem for k in e.kills for n in expand(k, collected)})
            if baseline_nodes:
                t0 = time.monotonic()
                base, trouble, bad = {}, "", {}
                for harness_server in (True, False):
                    nodes = sorted({n for e in todo if not e.problem and e.harness_server == harness_server
                                    for k in e.kills for n in expand(k, collected)})  # fmt: skip
                    if nodes:
                        got, why = run_checks(pristine, url if harness_server else None, nodes,
                                              workdir / f"baseline-{harness_server}.xml")  # fmt: skip
                        base.update(got)
                        trouble = trouble or why
                        bad.update({n: got.get(n, "did not run") for n in nodes if got.get(n) != "passed"})
                out(f"  baseline: {len(baseline_nodes)} listed check(s) on the unmutated copy, "
                    f"{len(bad)} not passing ({time.monotonic() - t0:.0f} s){' ' + trouble if trouble else ''}")  # fmt: skip
                for e in todo:
                    failing = [f"{n} {bad[n]}" for k in e.kills for n in expand(k, collected) if n in bad]
                    if failing and not e.problem:
                        e.problem = f"listed check(s) not passing on the unmutated schema: {', '.join(failing[:3])}"
            for e in todo:
                if e.problem:
                    outcomes.append(Outcome(e, "BROKEN", e.problem))
                    out(f"  BROKEN    {e.id} ({e.source}): {e.problem}")
            runnable = [e for e in todo if not e.problem]
            lock = threading.Lock()
            done = [0]

            def work(e: Entry) -> Outcome:
                try:
                    result = mutate_one(e, pristine, workdir, url, collected)
                except Exception as exc:  # noqa: BLE001 - reported as a broken entry, never a traceback
                    result = Outcome(e, "BROKEN", f"harness error: {type(exc).__name__}: {exc}")
                with lock:
                    done[0] += 1
                    out(f"  [{done[0]:>2}/{len(runnable)}] {result.verdict:<9} {e.id}  {result.detail}  "
                        f"({result.seconds:.0f} s)")  # fmt: skip
                return result

            shared = [e for e in runnable if not e.own_server]
            isolated = [e for e in runnable if e.own_server]
            with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
                outcomes += list(pool.map(work, shared + isolated))
    survivors = [o.entry.id for o in outcomes if o.verdict == "SURVIVED"]
    broken = [o.entry.id for o in outcomes if o.verdict == "BROKEN"]
    killed = sum(o.verdict == "killed" for o in outcomes)
    out(f"mutate: {len(outcomes)} mutants, {killed} killed, {len(survivors)} survived, {len(broken)} broken "
        f"in {time.monotonic() - started:.0f} s")  # fmt: skip
    if survivors:
        out(f"survivors (the checks miss these): {', '.join(survivors)}")
    if broken:
        out(f"broken entries (fix the catalog): {', '.join(broken)}")
    return 1 if survivors or broken else 0
