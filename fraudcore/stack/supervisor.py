"""The supervisord configuration of the embedded stack, and a small client for its XML-RPC API.

supervisord is the process manager: it starts the servers and the services, restarts
what crashes, keeps each one's log, and stops them all (process groups included) on
shutdown.
"""

from __future__ import annotations

import configparser
import hashlib
import http.client
import tempfile
import xmlrpc.client
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supervisor.xmlrpc import SupervisorTransport

from fraudcore.stack.servers import Program

SERVERS_GROUP = "servers"
SERVICES_GROUP = "services"


@dataclass(frozen=True)
class Paths:
    """Every file the stack keeps, under its data folder."""

    data_dir: Path

    @property
    def logs(self) -> Path:
        return self.data_dir / "logs"

    @property
    def config(self) -> Path:
        return self.data_dir / "supervisord.conf"

    @property
    def pidfile(self) -> Path:
        return self.data_dir / "supervisord.pid"

    @property
    def socket(self) -> Path:
        # a Unix socket path is limited to ~100 bytes: keep it short, but unique per data folder
        digest = hashlib.sha256(str(self.data_dir.resolve()).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"fraud-stack-{digest}.sock"

    def log(self, program: str) -> Path:
        return self.logs / f"{program}.log"


def render_config(paths: Paths, servers: list[Program], services: list[Program]) -> str:
    """The supervisord.conf text: servers start with supervisord, services when asked."""
    conf = configparser.RawConfigParser()
    conf.optionxform = str  # type: ignore[assignment,method-assign]
    conf["unix_http_server"] = {"file": str(paths.socket), "chmod": "0700"}
    conf["supervisord"] = {
        "logfile": str(paths.log("supervisord")),
        "logfile_maxbytes": "10MB",
        "logfile_backups": "2",
        "pidfile": str(paths.pidfile),
        "childlogdir": str(paths.logs),
        "directory": str(Path.cwd()),
        "nodaemon": "false",
        "silent": "true",
        "minfds": "1024",
    }
    conf["rpcinterface:supervisor"] = {
        "supervisor.rpcinterface_factory": "supervisor.rpcinterface:make_main_rpcinterface"
    }
    conf["supervisorctl"] = {"serverurl": f"unix://{paths.socket}"}
    for program, autostart in [*((p, True) for p in servers), *((p, False) for p in services)]:
        section = {
            "command": " ".join(_quote(part) for part in program.command),
            "autostart": str(autostart).lower(),
            "autorestart": "true",
            "startsecs": "1",
            "startretries": "3",
            "stopsignal": program.stopsignal,
            "stopwaitsecs": "20",
            "stopasgroup": "true",
            "killasgroup": "true",
            "redirect_stderr": "true",
            "stdout_logfile": str(paths.log(program.name)),
            "stdout_logfile_maxbytes": "20MB",
            "stdout_logfile_backups": "2",
        }
        if program.user:
            section["user"] = program.user
        if program.directory:
            section["directory"] = str(program.directory)
        if program.environment:
            section["environment"] = ",".join(f'{k}="{v}"' for k, v in program.environment.items())
        conf[f"program:{program.name}"] = section
    conf[f"group:{SERVERS_GROUP}"] = {"programs": ",".join(p.name for p in servers)}
    if services:
        conf[f"group:{SERVICES_GROUP}"] = {"programs": ",".join(p.name for p in services)}
    lines: list[str] = []
    for name in conf.sections():
        lines.append(f"[{name}]")
        lines.extend(f"{key}={value}" for key, value in conf[name].items())
        lines.append("")
    return "\n".join(lines)


def _quote(part: str) -> str:
    # supervisor splits commands with shlex; "%" must be doubled for its own expansion
    escaped = part.replace("%", "%%")
    if part == "" or any(c in part for c in " \"'"):
        return '"' + escaped.replace('"', '\\"') + '"'
    return escaped


class SupervisorClient:
    """supervisord's XML-RPC API over its Unix socket."""

    def __init__(self, socket: Path) -> None:
        self.socket = socket

    @property
    def supervisor(self) -> Any:
        # a fresh connection per use: the transport cannot recover from a failed request
        transport = SupervisorTransport(None, None, f"unix://{self.socket}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor

    def alive(self) -> bool:
        try:
            return bool(self.supervisor.getState()["statename"] == "RUNNING")
        except (OSError, xmlrpc.client.Error, http.client.HTTPException):
            return False

    def processes(self) -> list[dict[str, Any]]:
        return list(self.supervisor.getAllProcessInfo())
