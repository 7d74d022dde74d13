"""The project's own PostgreSQL cluster: initdb, start, stop, without a system service.

Used twice: as the embedded development server (data in ``.pg/`` of the checkout, port
54329 by default) and as the throwaway server the checks start and stop themselves.
PostgreSQL refuses to run as root, so under root every server command runs through
``runuser`` as an unprivileged user (``postgres`` by default).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from attribution_db import PROJECT_ROOT, CliError

SUPERUSER = "postgres"
DEFAULT_PORT = 54329
DEFAULT_DBNAME = "attribution"
WANTED_MAJOR = 15

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


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Cluster:
    """One PostgreSQL cluster in ``datadir``, listening on 127.0.0.1:``port`` only."""

    datadir: Path
    port: int
    durable: bool = True  # False for throwaway servers: fsync off, faster

    @classmethod
    def embedded(cls) -> "Cluster":
        raw = os.environ.get("ATTRIBUTION_DB_PORT", str(DEFAULT_PORT))
        if not raw.isdigit():
            raise CliError(f"ATTRIBUTION_DB_PORT must be a port number, got {raw!r}")
        return cls(PROJECT_ROOT / ".pg" / "data", int(raw))

    @property
    def logfile(self) -> Path:
        return self.datadir.parent / "postgres.log"

    def url(self, dbname: str = DEFAULT_DBNAME) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

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

    def _prepare_folder(self) -> None:
        """Create the parent folder; under root hand it to the server user and check reach."""
        parent = self.datadir.parent
        parent.mkdir(parents=True, exist_ok=True)
        user = server_user()
        if not user:
            return
        try:
            shutil.chown(parent, user=user)
        except LookupError:
            raise CliError(
                f"running as root, the server must run as an unprivileged user, but user {user!r} "
                "does not exist; create it or set ATTRIBUTION_DB_PG_OS_USER"
            ) from None
        reach = subprocess.run(["runuser", "-u", user, "--", "test", "-w", str(parent)])
        if reach.returncode != 0:
            raise CliError(
                f"the server runs as user {user!r}, which cannot reach {parent}; move the checkout "
                "to a folder that user can traverse (e.g. /srv or /tmp) or set DATABASE_URL"
            )

    def initialized(self) -> bool:
        return (self.datadir / "PG_VERSION").exists()

    def init(self) -> None:
        self._prepare_folder()
        self._run(
            "initdb",
            "--pgdata", str(self.datadir),
            "--username", SUPERUSER,
            "--auth", "trust",
            "--encoding", "UTF8",
            "--locale", "C.UTF-8",
            "--no-instructions",
        )  # fmt: skip
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": "''",
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
        if not self.initialized():
            self.init()
        if self.running():
            return False
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
        return True

    def stop(self) -> bool:
        """Stop (fast mode); return False when it was not running."""
        if not self.running():
            return False
        self._run("pg_ctl", "stop", "--wait", "--mode", "fast", "--pgdata", str(self.datadir))
        return True


@contextlib.contextmanager
def throwaway_cluster(prefix: str = "attribution-db-"):
    """A started throwaway cluster (temporary folder, free port, fsync off), removed afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        user = server_user()
        if user:
            shutil.chown(workdir, user=user)
        cluster = Cluster(workdir / "data", free_port(), durable=False)
        cluster.start()
        try:
            yield cluster
        finally:
            cluster.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
