"""DATABASE_URL handling: validate a libpq URI, redact it, connect with one-line errors."""

from __future__ import annotations

import os
import re
from urllib.parse import quote, urlencode

import psycopg
from psycopg import conninfo

from attribution_db import CliError

SCHEMES = ("postgresql://", "postgres://")


def from_env() -> str | None:
    """The DATABASE_URL of the environment, or None when unset or blank."""
    url = os.environ.get("DATABASE_URL", "").strip()
    return url or None


def parse(url: str) -> dict[str, str]:
    """Return the libpq parameters of a URI, or raise CliError saying what is wrong."""
    if not url.startswith(SCHEMES):
        raise CliError(
            f"DATABASE_URL must be a libpq URI starting with postgresql:// "
            f"(for example postgresql://user@127.0.0.1:5432/db), got {redact(url)!r}"
        )
    try:
        params = conninfo.conninfo_to_dict(url)
    except psycopg.Error as exc:
        raise CliError(f"DATABASE_URL {redact(url)!r} is not a valid libpq URI: {first_line(exc)}") from None
    port = str(params.get("port", "5432"))
    if not all(p.isdigit() for p in port.split(",")):
        raise CliError(f"DATABASE_URL {redact(url)!r} has an invalid port {port!r}")
    if not params.get("dbname"):
        raise CliError(f"DATABASE_URL {redact(url)!r} names no database (add /dbname after the host)")
    return {k: str(v) for k, v in params.items()}


def redact(url: str) -> str:
    """The URL with any password (user:password@ or ?password=) replaced by ***."""
    url = re.sub(r"([?&]password=)[^&]*", r"\1***", url)
    try:
        scheme, rest = url.split("://", 1)
    except ValueError:
        return url
    auth, sep, tail = rest.partition("@")
    if sep and ":" in auth:
        return f"{scheme}://{auth.split(':', 1)[0]}:***@{tail}"
    return url


def with_dbname(url: str, dbname: str) -> str:
    """The same server and credentials as ``url``, but another database."""
    params = parse(url)
    params["dbname"] = dbname
    return to_uri(params)


def to_uri(params: dict[str, str]) -> str:
    """A libpq URI carrying every parameter in the query string (hosts may be socket dirs)."""
    rest = {k: v for k, v in params.items() if k != "dbname"}
    query = urlencode(rest, quote_via=quote)
    return f"postgresql:///{quote(params['dbname'], safe='')}" + (f"?{query}" if query else "")


def for_subprocess(url: str) -> tuple[str, dict[str, str]]:
    """(URL without its password, environment carrying it): a command line is visible to
    every account on the machine (ps), a process's environment only to its owner and root."""
    params = parse(url)
    secret = params.pop("password", None)
    if secret is None:
        return url, {}
    return to_uri(params), {"PGPASSWORD": secret}


def to_yoyo(url: str) -> str:
    """The URI yoyo expects for psycopg 3 (``postgresql+psycopg://``)."""
    return "postgresql+psycopg" + to_uri(parse(url))[len("postgresql") :]


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def connect(url: str, **kwargs) -> psycopg.Connection:
    """Connect, turning an unreachable server or a refused login into a one-line CliError."""
    parse(url)
    kwargs.setdefault("connect_timeout", 10)
    try:
        return psycopg.connect(url, **kwargs)
    except psycopg.OperationalError as exc:
        raise CliError(f"cannot connect to {redact(url)}: {first_line(exc)}") from None
