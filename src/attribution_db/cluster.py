"""The project's own PostgreSQL cluster: initdb, start, stop, without a system service.

Used twice: as the embedded development server of a checkout (port 54329 by default) and
as the throwaway server the checks start and stop themselves. A cluster lives in one folder,
its *home*: ``data/`` (the cluster), ``postgres.log`` and ``pgpass`` (the superuser's
password in libpq's password-file format, mode 0600, readable by the invoking user only).

PostgreSQL refuses to run as root, so under root every server command runs through
``runuser`` as an unprivileged user (``postgres`` by default). That user must never need
to reach the checkout, which may sit in a folder only root can traverse; so the embedded
home is

- not root: ``.pg/`` in the checkout;
- root: ``/var/lib/attribution-db/<checkout name>-<hash of the checkout's path>/``
  (``.pg/`` is kept when an earlier version made a cluster there);
- ``$ATTRIBUTION_DB_STATE_DIR/<checkout name>-<hash>/`` for everyone when that is set.

Authentication: no Unix socket at all (``peer`` for ``local`` lines should one be enabled),
TCP on 127.0.0.1 only with ``scram-sha-256`` and a random password made at initdb.
Clusters an earlier version made with ``trust`` are switched over on their next start.

``python -m attribution_db.cluster remove`` (``make clean``) stops the embedded server and
deletes its home; it needs only the standard library, not the virtualenv.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from attribution_db import PROJECT_ROOT, CliError

SUPERUSER = "postgres"
DEFAULT_PORT = 54329
DEFAULT_DBNAME = "attribution"
WANTED_MAJOR = 15
#: Where root keeps the embedded clusters (one folder per checkout); not a temporary
#: folder, so no tmp cleaner removes a dev's data.
STATE_DIR = Path("/var/lib/attribution-db")
LEGACY_HOME = PROJECT_ROOT / ".pg"

INSTALL_HINT = (
    "install them with `apt-get install postgresql-15` (Debian/Ubuntu) "
    "or set PG_BINDIR to the folder holding initdb and pg_ctl"
)


def find_bindir() -> Path:
    """The folder of initdb/pg_ctl: $PG_BINDIR, else Debian's layout (15 preferred), else PATH."""
    explicit = os.environ.get("PG_BINDIR")
    if explicit:
        path = Path(explicit)
        if not (path / "pg_ctl").exists():
            raise CliError(f"PG_BINDIR={explicit} holds no pg_ctl; {INSTALL_HINT}")
        return path
    debian = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: (int(p.split("/")[4]) != WANTED_MAJOR, -int(p.split("/")[4])),
    )
    if debian:
        return Path(debian[0]).parent
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    raise CliError(f"PostgreSQL server binaries (initdb, pg_ctl) not found; {INSTALL_HINT}")


def server_user() -> str | None:
    """The OS user to run the server as, or None to run it as ourselves."""
    if os.geteuid() != 0:
        return None
    return os.environ.get("ATTRIBUTION_DB_PG_OS_USER", "postgres")


def server_account(user: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(user)
    except KeyError:
        raise CliError(
            f"running as root, the server must run as an unprivileged user, but user {user!r} "
            "does not exist; create it (useradd --system postgres) or set ATTRIBUTION_DB_PG_OS_USER"
        ) from None


def reachable(user: str, path: Path, mode: str = "-x") -> bool:
    """Whether ``user`` can reach (``-x``) or write (``-w``) ``path``."""
    return subprocess.run(["runuser", "-u", user, "--", "test", mode, str(path)], cwd="/").returncode == 0


def checkout_key(root: Path = PROJECT_ROOT) -> str:
    """``<checkout folder name>-<12 hex of sha256 of its resolved path>``: one per checkout."""
    resolved = str(root.resolve())
    name = re.sub(r"[^A-Za-z0-9._-]", "_", Path(resolved).name)[:40] or "checkout"
    return f"{name}-{hashlib.sha256(resolved.encode()).hexdigest()[:12]}"


def embedded_home() -> Path:
    """The home of this checkout's embedded cluster (see the module docstring)."""
    explicit = os.environ.get("ATTRIBUTION_DB_STATE_DIR", "").strip()
    if explicit:
        return Path(explicit).absolute() / checkout_key()
    if server_user() is None or (LEGACY_HOME / "data" / "PG_VERSION").exists():
        return LEGACY_HOME
    return STATE_DIR / checkout_key()


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def secure_hba(text: str) -> str:
    """pg_hba.conf with every ``trust`` method replaced: ``peer`` on local lines, scram elsewhere."""
    out = []
    for line in text.splitlines(keepends=True):
        fields = line.split("#", 1)[0].split()
        if fields and fields[-1] == "trust":
            method = "peer" if fields[0] == "local" else "scram-sha-256"
            line = re.sub(r"\btrust\b(?=\s*(#.*)?$)", method, line.rstrip("\n")) + "\n"
        out.append(line)
    return "".join(out)


@dataclass
class Cluster:
    """One PostgreSQL cluster in ``home``/data, listening on 127.0.0.1:``port`` only."""

    home: Path
    port: int
    durable: bool = True  # False for throwaway servers: fsync off, faster
    #: The checkout an embedded cluster belongs to, written to ``home``/checkout (so that a
    #: folder in /var/lib/attribution-db left by a deleted checkout can be told apart).
    checkout: Path | None = None
    #: One-line messages for the user from the last start() (e.g. a trust cluster secured).
    notes: list[str] = field(default_factory=list)

    @classmethod
    def embedded(cls) -> "Cluster":
        raw = os.environ.get("ATTRIBUTION_DB_PORT", str(DEFAULT_PORT))
        if not raw.isdigit():
            raise CliError(f"ATTRIBUTION_DB_PORT must be a port number, got {raw!r}")
        return cls(embedded_home(), int(raw), checkout=PROJECT_ROOT)

    @property
    def datadir(self) -> Path:
        return self.home / "data"

    @property
    def logfile(self) -> Path:
        return self.home / "postgres.log"

    @property
    def pgpass(self) -> Path:
        return self.home / "pgpass"

    @property
    def legacy_location(self) -> bool:
        """Root keeps using a ``.pg/`` in the checkout that an earlier version made."""
        return self.home == LEGACY_HOME and server_user() is not None

    def password(self) -> str | None:
        """The superuser's password, or None for a cluster made before passwords."""
        try:
            lines = self.pgpass.read_text(encoding="utf-8").split()
        except FileNotFoundError:
            return None
        return lines[-1].rsplit(":", 1)[1] if lines else None

    def url(self, dbname: str = DEFAULT_DBNAME, with_password: bool = True) -> str:
        """The superuser's URL; with the password unless ``with_password`` is False (to print)."""
        secret = self.password() if with_password else None
        auth = f"{SUPERUSER}:{quote(secret, safe='')}" if secret else SUPERUSER
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{dbname}"

    # -- running server commands ------------------------------------------------------
    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(find_bindir() / tool), *args]
        user = server_user()
        if user:
            cmd = ["runuser", "-u", user, "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd="/")
        if check and proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            last = detail[-1] if detail else f"exit status {proc.returncode}"
            raise CliError(f"{tool} failed: {last} (server log: {self.logfile})")
        return proc

    def _new_password(self) -> str:
        """Make a random password and store it in ``pgpass`` (0600, created exclusively)."""
        secret = secrets.token_urlsafe(32)  # [A-Za-z0-9_-]: safe in pgpass and URLs
        fd = os.open(self.pgpass, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(f"127.0.0.1:*:*:{SUPERUSER}:{secret}\n")
        return secret

    def _prepare_home(self) -> None:
        """Create the home; under root, hand data/ and the log to the server user."""
        user = server_user()
        account = server_account(user) if user else None
        created = [p for p in (self.home, *self.home.parents) if not p.exists()]
        self.home.mkdir(parents=True, exist_ok=True)
        if not account:
            self.home.chmod(0o700)
            return
        for folder in [self.home, *created]:
            folder.chmod(0o755)  # the server user must traverse, whatever root's umask
        self.datadir.mkdir(mode=0o700, exist_ok=True)
        self.logfile.touch(mode=0o600, exist_ok=True)
        for path in (self.datadir, self.logfile):
            os.chown(path, account.pw_uid, account.pw_gid)
        if not reachable(user, self.datadir, "-w"):
            raise CliError(
                f"the server runs as user {user!r}, which cannot reach {self.home}; "
                "set ATTRIBUTION_DB_STATE_DIR to a folder that user can traverse"
            )

    def initialized(self) -> bool:
        return (self.datadir / "PG_VERSION").exists()

    def init(self) -> None:
        self._prepare_home()
        secret = self.password() or self._new_password()
        user = server_user()
        # initdb reads the password from a file as the server user: a private copy, removed after.
        fd, pwfile = tempfile.mkstemp(prefix="initdb-", dir=self.home)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(secret + "\n")
            if user:
                account = server_account(user)
                os.chown(pwfile, account.pw_uid, account.pw_gid)
            self._run(
                "initdb",
                "--pgdata", str(self.datadir),
                "--username", SUPERUSER,
                "--pwfile", pwfile,
                "--auth-local", "peer",
                "--auth-host", "scram-sha-256",
                "--encoding", "UTF8",
                "--locale", "C.UTF-8",
                "--no-instructions",
            )  # fmt: skip
        finally:
            os.unlink(pwfile)
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": "''",
            "password_encryption": "'scram-sha-256'",
            "max_connections": "100",
            "shared_buffers": "'256MB'",
            "log_line_prefix": "'%m [%p] %q%u@%d '",
        }
        if not self.durable:
            settings.update(fsync="off", synchronous_commit="off", full_page_writes="off")
        lines = "".join(f"{key} = {value}\n" for key, value in settings.items())
        conf = self.datadir / "postgresql.conf"
        with conf.open("a", encoding="utf-8") as handle:
            handle.write("\n# attribution-db: local cluster settings\n" + lines)

    def running(self) -> bool:
        if not self.initialized():
            return False
        return self._run("pg_ctl", "status", "--pgdata", str(self.datadir), check=False).returncode == 0

    def start(self) -> bool:
        """Initialise if needed and start; return False when it was already running."""
        find_bindir()
        self.notes.clear()
        if not self.initialized():
            self.init()
        marker = self.home / "checkout"
        if self.checkout and not marker.exists():
            marker.write_text(f"{self.checkout}\n", encoding="utf-8")
        started = False
        if not self.running():
            if port_in_use(self.port):
                raise CliError(
                    f"port {self.port} on 127.0.0.1 is taken by another server; "
                    "set ATTRIBUTION_DB_PORT to a free port"
                )
            self._run(
                "pg_ctl", "start", "--wait", "--timeout", "60",
                "--pgdata", str(self.datadir),
                "--log", str(self.logfile),
                "-o", f"-p {self.port}",
            )  # fmt: skip
            started = True
        if self._secure_trust_cluster():
            self.notes.append(
                "secured the local PostgreSQL made by an earlier version: it trusted every local "
                f"account; TCP now needs the password in {self.pgpass}"
            )
        return started

    def _secure_trust_cluster(self) -> bool:
        """Give a running cluster made with ``--auth trust`` a password and scram in pg_hba."""
        hba = self.datadir / "pg_hba.conf"
        text = hba.read_text(encoding="utf-8")
        secured = secure_hba(text)
        if secured == text:
            return False
        import psycopg  # noqa: PLC0415 (cluster.py stays stdlib-only for `make clean`)
        from psycopg import sql

        secret = self.password() or self._new_password()
        try:
            with psycopg.connect(self.url("postgres", with_password=False), autocommit=True) as conn:
                conn.execute("SET password_encryption = 'scram-sha-256'")
                conn.execute(
                    sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(SUPERUSER), sql.Literal(secret))
                )
                hba.write_text(secured, encoding="utf-8")  # in place: owner and mode stay
                conn.execute("SELECT pg_reload_conf()")
        except psycopg.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CliError(f"cannot switch the local PostgreSQL from trust to passwords: {first}") from None
        return True

    def stop(self) -> bool:
        """Stop (fast mode); return False when it was not running."""
        if not self.running():
            return False
        self._run("pg_ctl", "stop", "--wait", "--mode", "fast", "--pgdata", str(self.datadir))
        return True

    def remove(self) -> bool:
        """Stop the server and delete its home (data, log, password); False when there was none."""
        if not self.home.exists():
            return False
        if self.initialized():
            self.stop()
        shutil.rmtree(self.home)
        return True


def throwaway_parent() -> str:
    """The folder for throwaway clusters: the temporary folder, or /tmp when the server user
    cannot reach it (a TMPDIR under /root)."""
    parent = tempfile.gettempdir()
    user = server_user()
    if user and not reachable(user, Path(parent)):
        parent = "/tmp"
    return parent


@contextlib.contextmanager
def throwaway_cluster(prefix: str = "attribution-db-"):
    """A started throwaway cluster (temporary folder, free port, fsync off), removed afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix, dir=throwaway_parent()))
    try:
        cluster = Cluster(workdir, free_port(), durable=False)
        cluster.start()
        try:
            yield cluster
        finally:
            cluster.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str]) -> int:
    """``remove``: what `make clean` runs (stdlib only, works without the virtualenv)."""
    if argv != ["remove"]:
        print("usage: python -m attribution_db.cluster remove", file=sys.stderr)
        return 2
    cluster = Cluster.embedded()
    try:
        removed = cluster.remove()
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"removed the local PostgreSQL in {cluster.home}" if removed else "no local PostgreSQL to remove")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
