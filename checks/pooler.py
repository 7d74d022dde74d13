"""A real PgBouncer in transaction mode in front of the checks' PostgreSQL server.

Applications reach the database through PgBouncer with ``pool_mode = transaction``: many
client connections share a few server connections, one transaction at a time. The checks in
``checks/test_pooler.py`` attack tenant isolation through such a pooler. This module starts
one (Debian package ``pgbouncer``) in a temporary folder on a free port of 127.0.0.1, with
the settings documented in docs/pooling.md, and stops it afterwards. Under root it runs as
the unprivileged ``postgres`` user (``pgbouncer -u``), as the server does (cluster.py).

Clients authenticate with SCRAM against an auth_file holding the login roles' SCRAM
verifiers, read from pg_authid as a production auth_file would be generated.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from attribution_db.cluster import free_port, server_user

POOL_SIZE = 2  # server connections per (database, user) pool
MAX_CLIENTS = 64  # client connections PgBouncer accepts (the checks open 8 to 16 at once)
ADMIN_USER = "pooler_admin"  # exists only in PgBouncer's auth_file: its admin console user
INSTALL_HINT = "install it with `apt-get install pgbouncer` (Debian/Ubuntu) or set PGBOUNCER to its path"


def find_pgbouncer() -> str | None:
    """The pgbouncer executable: $PGBOUNCER, else PATH, else Debian's /usr/sbin."""
    explicit = os.environ.get("PGBOUNCER")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    found = shutil.which("pgbouncer")
    if found:
        return found
    return "/usr/sbin/pgbouncer" if os.access("/usr/sbin/pgbouncer", os.X_OK) else None


def pgbouncer_version(executable: str) -> str:
    """'PgBouncer 1.18.0' (the first line of ``pgbouncer --version``)."""
    proc = subprocess.run([executable, "--version"], capture_output=True, text=True, check=False)
    return (proc.stdout or proc.stderr).strip().splitlines()[0]


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


@dataclass
class PgBouncer:
    """One running PgBouncer; ``url(db, user, password)`` is how clients reach it."""

    executable: str
    server_host: str
    server_port: str
    secrets: dict[str, str]  # login role -> SCRAM verifier (or password) for the auth_file
    reset_always: bool = False
    port: int = 0
    workdir: Path = field(default_factory=Path)
    process: subprocess.Popen | None = None
    admin_password: str = "pooler-admin-secret"
    version: str = ""

    @property
    def logfile(self) -> Path:
        return self.workdir / "pgbouncer.log"

    def settings(self) -> dict[str, str]:
        """The [pgbouncer] section: the configuration docs/pooling.md documents."""
        return {
            "listen_addr": "127.0.0.1",
            "listen_port": str(self.port),
            "unix_socket_dir": "",
            "auth_type": "scram-sha-256",
            "auth_file": str(self.workdir / "userlist.txt"),
            "admin_users": ADMIN_USER,
            "pool_mode": "transaction",
            "default_pool_size": str(POOL_SIZE),
            "min_pool_size": "0",
            "reserve_pool_size": "0",
            "max_db_connections": str(POOL_SIZE),
            "max_client_conn": str(MAX_CLIENTS),
            "server_reset_query": "DISCARD ALL",
            "server_reset_query_always": "1" if self.reset_always else "0",
            "ignore_startup_parameters": "extra_float_digits",
            "logfile": str(self.logfile),
            "pidfile": str(self.workdir / "pgbouncer.pid"),
            "log_connections": "0",
            "log_disconnections": "0",
        }

    def ini(self) -> str:
        databases = f"* = host={self.server_host} port={self.server_port}\n"
        body = "".join(f"{key} = {value}\n" for key, value in self.settings().items())
        return f"[databases]\n{databases}\n[pgbouncer]\n{body}"

    def start(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="attribution-db-pgbouncer-"))
        self.port = free_port()
        users = {**self.secrets, ADMIN_USER: self.admin_password}
        lines = "".join(f"{_quoted(user)} {_quoted(secret)}\n" for user, secret in users.items())
        (self.workdir / "userlist.txt").write_text(lines, encoding="utf-8")
        (self.workdir / "pgbouncer.ini").write_text(self.ini(), encoding="utf-8")
        cmd = [self.executable]
        user = server_user()
        if user:  # PgBouncer refuses to run as root: it switches to the unprivileged user
            for path in (self.workdir, *self.workdir.iterdir()):
                shutil.chown(path, user=user)
            os.chmod(self.workdir / "userlist.txt", 0o600)
            cmd += ["-u", user]
        cmd.append(str(self.workdir / "pgbouncer.ini"))
        self.process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd="/")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode(errors="replace").strip() if self.process.stderr else ""
                raise RuntimeError(f"pgbouncer exited at start: {err or self.log_tail()}")
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.settimeout(0.2)
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"pgbouncer did not listen on 127.0.0.1:{self.port} within 15 s: {self.log_tail()}")

    def log_tail(self, lines: int = 5) -> str:
        try:
            return " | ".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # immediate shutdown (SIGINT would wait for clients)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process and self.process.stderr:
            self.process.stderr.close()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def url(self, dbname: str, user: str, password: str) -> str:
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{dbname}"

    def admin_url(self) -> str:
        return self.url("pgbouncer", ADMIN_USER, self.admin_password)
