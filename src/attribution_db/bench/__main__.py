"""``python -m attribution_db.bench run --scale small [--keep]`` and ``... report``.

Expected failures (a bad DATABASE_URL, an unreachable server) print one line, no traceback.
"""

from __future__ import annotations

import argparse
import sys

import psycopg

from attribution_db import CliError, dburl


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m attribution_db.bench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="seed, measure and write bench/results/<scale>.json")
    run.add_argument("--scale", default="small", help="small, medium or large (default small)")
    run.add_argument("--keep", action="store_true", help="keep the database (and reuse a kept one)")
    sub.add_parser("report", help="write docs/performance.md and its plot from bench/results/")
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            from attribution_db.bench.run import run as run_bench

            run_bench(args.scale, keep=args.keep)
        else:
            from attribution_db.bench.report import write_report

            write_report()
        return 0
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except psycopg.Error as exc:
        print(f"error: database: {dburl.first_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


raise SystemExit(main())
