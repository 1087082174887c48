"""Start, inspect and stop the embedded stack (see the package doc)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil
import psycopg2
from psycopg2 import sql

from fraudcore.bootstrap import bootstrap
from fraudcore.clients import NotReady
from fraudcore.clients.kafka import wait_kafka
from fraudcore.clients.mongo import wait_mongo
from fraudcore.clients.postgres import wait_postgres
from fraudcore.clients.redis import wait_redis
from fraudcore.logging import get_logger
from fraudcore.settings import Settings
from fraudcore.stack.servers import (
    Endpoints,
    PostgresInstall,
    Program,
    StackError,
    kafka_program,
    mongodb_program,
    redis_program,
)
from fraudcore.stack.services import SERVICES, Service
from fraudcore.stack.supervisor import SERVERS_GROUP, SERVICES_GROUP, Paths, SupervisorClient, render_config

log = get_logger(__name__)

__all__ = ["EmbeddedStack", "ProcessStatus", "StackError"]


@dataclass(frozen=True)
class ProcessStatus:
    name: str
    group: str
    state: str
    pid: int
    uptime_s: int
    port: int | None
    log: Path


class EmbeddedStack:
    """The four servers and the services, under one supervisord, configured by ``settings``.

    ``services`` defaults to every service that exists (:data:`SERVICES`); tests pass
    an empty tuple to get the servers alone.
    """

    def __init__(self, settings: Settings, services: Iterable[Service] = SERVICES) -> None:
        self.settings = settings
        self.services = tuple(services)
        self.paths = Paths(settings.stack.data_dir.resolve())
        self.postgres = PostgresInstall(settings, self.paths.data_dir)
        self.client = SupervisorClient(self.paths.socket)

    # -- lifecycle ---------------------------------------------------------
    def up(self, start_services: bool = True) -> None:
        """Start whatever is not running yet, wait for the servers, bootstrap, start the services."""
        if self.client.alive():
            log.info("embedded stack already running; reusing it", data_dir=str(self.paths.data_dir))
            self.client.supervisor.startProcessGroup(SERVERS_GROUP, True)
        else:
            self._start_supervisor()
        self.wait_servers()
        self._create_database()
        bootstrap(self.settings)
        if start_services and self.services:
            self._start_services()

    def down(self, timeout_s: float = 60.0) -> list[int]:
        """Stop every process this stack started; return the pids that were stopped."""
        supervisord = self._supervisord_process()
        if supervisord is None:
            self.paths.pidfile.unlink(missing_ok=True)
            return []
        children = [p for p in (_process(info["pid"]) for info in self._safe_processes()) if p is not None]
        tracked = [*children, *(p for c in children for p in _descendants(c)), supervisord]
        try:
            self.client.supervisor.shutdown()
        except Exception as exc:  # supervisord not answering: stop it by signal instead
            log.warning("supervisord did not answer shutdown; sending SIGTERM", error=str(exc))
            supervisord.terminate()
        _, alive = psutil.wait_procs(tracked, timeout=timeout_s)
        for process in alive:
            log.warning("process did not stop in time; killing it", pid=process.pid, name=process.name())
            process.kill()
        psutil.wait_procs(alive, timeout=5)
        self.paths.socket.unlink(missing_ok=True)
        return [p.pid for p in tracked]

    def destroy(self) -> None:
        """Stop everything and delete the data folder (and PostgreSQL's data, wherever it was kept)."""
        self.down()
        pg = self.paths.data_dir / "postgres"
        if pg.is_symlink():
            shutil.rmtree(pg.resolve(), ignore_errors=True)
        shutil.rmtree(self.paths.data_dir, ignore_errors=True)

    # -- inspection ----------------------------------------------------------
    def status(self) -> list[ProcessStatus]:
        if not self.client.alive():
            return []
        ports = self._ports()
        return [
            ProcessStatus(
                name=info["name"],
                group=info["group"],
                state=info["statename"],
                pid=info["pid"],
                uptime_s=max(0, info["now"] - info["start"]) if info["pid"] else 0,
                port=ports.get(info["name"]),
                log=self.paths.log(info["name"]),
            )
            for info in self.client.processes()
        ]

    def log_tail(self, program: str, lines: int = 20) -> str:
        path = self.paths.log(program)
        if not path.exists():
            return f"(no log at {path})"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    # -- steps -------------------------------------------------------------
    def _server_ports(self) -> dict[str, int]:
        return {name: port for name, (_, port) in asdict(Endpoints.of(self.settings)).items()}

    def _ports(self) -> dict[str, int]:
        """Each server's and each service's port, from the settings."""
        return {
            **self._server_ports(),
            **{s.name: s.port(self.settings) for s in self.services if s.port},
        }

    def _server_programs(self) -> list[Program]:
        data = self.paths.data_dir
        return [
            kafka_program(self.settings),
            mongodb_program(self.settings, data),
            self.postgres.program(),
            redis_program(self.settings, data),
        ]

    def _service_programs(self) -> list[Program]:
        return [Program(s.name, [sys.executable, "-m", s.module], 0) for s in self.services]

    def _start_supervisor(self) -> None:
        self.paths.logs.mkdir(parents=True, exist_ok=True)
        self.postgres.prepare()
        self.paths.config.write_text(
            render_config(self.paths, self._server_programs(), self._service_programs())
        )
        self._check_ports_free()
        env = {**os.environ, **self.settings.to_env(), "PYTHONUNBUFFERED": "1"}
        started = subprocess.run(
            [sys.executable, "-m", "supervisor.supervisord", "-c", str(self.paths.config)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if started.returncode:
            raise StackError(f"supervisord did not start:\n{started.stdout}{started.stderr}")
        deadline = time.monotonic() + 15
        while not self.client.alive():
            if time.monotonic() > deadline:
                raise StackError(f"supervisord did not come up; see {self.paths.log('supervisord')}")
            time.sleep(0.1)
        log.info("supervisord started", config=str(self.paths.config))

    def _check_ports_free(self) -> None:
        busy = [f"{name} port {port}" for name, port in self._server_ports().items() if not _port_free(port)]
        if busy:
            raise StackError(
                "ports already in use: " + ", ".join(busy) + ". Another stack (or a server) is running:"
                " stop it (`make down`, `docker compose down`) or choose other ports in .env"
            )

    def wait_servers(self) -> None:
        """Wait until each server answers; on failure, show the end of its log."""
        timeout = self.settings.stack.ready_timeout_s
        probes: dict[str, Callable[[], None]] = {
            "kafka": lambda: wait_kafka(self.settings, timeout).close(),
            "mongodb": lambda: wait_mongo(self.settings, timeout).close(),
            "postgres": lambda: wait_postgres(self.settings, timeout, dsn=self._maintenance_dsn()),
            "redis": lambda: wait_redis(self.settings, timeout).close(),
        }
        for name, probe in probes.items():
            try:
                probe()
            except NotReady as exc:
                raise StackError(
                    f"{exc}\nLast lines of {self.paths.log(name)}:\n{self.log_tail(name)}"
                ) from None

    def _maintenance_dsn(self) -> str:
        """The DSN of the server's ``postgres`` database (the configured one may not exist yet)."""
        return str(self.settings.postgres.dsn).rsplit("/", 1)[0] + "/postgres"

    def _create_database(self) -> None:
        name = self.settings.postgres.database
        conn = psycopg2.connect(self._maintenance_dsn(), connect_timeout=5)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if cur.fetchone() is None:
                    cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                    log.info("created database", database=name)
        finally:
            conn.close()

    def _start_services(self) -> None:
        results = self.client.supervisor.startProcessGroup(SERVICES_GROUP, True)
        failed = [r for r in results if r["status"] != 80]  # 80: SUCCESS
        already = {r["name"] for r in failed if r["description"] == "ALREADY_STARTED"}
        failed = [r for r in failed if r["name"] not in already]
        if failed:
            details = "\n".join(
                f"{r['name']}: {r['description']}\n{self.log_tail(r['name'])}" for r in failed
            )
            raise StackError(f"services did not start:\n{details}")
        self._wait_service_ports()

    def _wait_service_ports(self) -> None:
        """Return once every service that serves a port answers on it, so the printed URLs work."""
        deadline = time.monotonic() + self.settings.stack.ready_timeout_s
        waiting = {s.name: s.port(self.settings) for s in self.services if s.port and s.port(self.settings)}
        while waiting:
            for name, port in list(waiting.items()):
                with socket.socket() as sock:
                    sock.settimeout(0.5)
                    if sock.connect_ex(("127.0.0.1", port)) == 0:
                        del waiting[name]
            if not waiting:
                return
            if time.monotonic() > deadline:
                details = "\n".join(
                    f"{name} (port {port}):\n{self.log_tail(name)}" for name, port in waiting.items()
                )
                raise StackError(f"services started but do not answer on their ports:\n{details}")
            time.sleep(0.3)

    # -- process helpers ---------------------------------------------------
    def _supervisord_process(self) -> psutil.Process | None:
        try:
            pid = int(self.paths.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        process = _process(pid)
        if process is None or "supervisord" not in " ".join(process.cmdline()):
            return None
        return process

    def _safe_processes(self) -> list[dict[str, int]]:
        try:
            return [p for p in self.client.processes() if p["pid"]]
        except Exception:
            return []


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        # as the servers themselves do: a port in TIME_WAIT after a restart is free to listen on
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _process(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid) if pid else None
    except psutil.NoSuchProcess:
        return None


def _descendants(process: psutil.Process) -> list[psutil.Process]:
    try:
        return list(process.children(recursive=True))
    except psutil.NoSuchProcess:
        return []
