"""A throw-away PostgreSQL server (Debian's `postgresql` binaries) for the Prefect server's production database.

`initdb` into a new directory, `postgres` on a free loopback port with its socket in that directory, trust
authentication for the local `postgres` user; stopped and removed afterwards. PostgreSQL refuses to run as root, so
under root the binaries run as the `postgres` system user (`runuser`), in a directory that user owns.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from karez.embedded_nats import free_port


def postgres_bin() -> Path | None:
    """The folder of `initdb` and `pg_ctl` (Debian keeps them out of PATH), or None when PostgreSQL is missing."""
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    found = shutil.which("initdb")
    return Path(found).parent if found and shutil.which("pg_ctl") else None


def _as_user() -> list[str] | None:
    """The command prefix that runs the binaries as a non-root user ([] when we are not root); None: impossible."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return None
    runuser = shutil.which("runuser")
    return [runuser, "-u", "postgres", "--"] if runuser else None


def postgres_available() -> bool:
    """PostgreSQL's binaries are installed and can run here."""
    return postgres_bin() is not None and _as_user() is not None


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a private server; yield the SQLAlchemy URL Prefect takes (`postgresql+asyncpg://…/postgres`)."""
    folder, prefix = postgres_bin(), _as_user()
    if folder is None or prefix is None:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="tiro-postgres-"))  # under /tmp: the postgres user can reach it
    data, port = root / "data", free_port()
    if prefix:
        entry = pwd.getpwnam("postgres")
        os.chown(root, entry.pw_uid, entry.pw_gid)

    def run(*args: str) -> None:
        result = subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed: {result.stdout[-800:]} {result.stderr[-800:]}")

    run(str(folder / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync")
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    run(str(folder / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "postgres.log"), "-w", "start")
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres"
    finally:
        try:
            run(str(folder / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(root, ignore_errors=True)


__all__ = ["postgres_available", "postgres_server"]
