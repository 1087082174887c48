from __future__ import annotations

import configparser
import shlex
from pathlib import Path

from fraudcore.stack.servers import Program
from fraudcore.stack.supervisor import Paths, render_config


def test_servers_start_with_supervisord_and_services_on_demand(tmp_path: Path) -> None:
    paths = Paths(tmp_path)
    text = render_config(
        paths,
        [
            Program(
                "postgres", ["/pg/bin/postgres", "-D", "/d", "-k", ""], 5432, stopsignal="INT", user="fraudpg"
            ),
            Program("redis", ["redis-server", "--save", ""], 6379),
        ],
        [Program("api", ["/venv/bin/python", "-m", "api"], 0)],
    )
    conf = configparser.RawConfigParser()
    conf.read_string(text)
    pg = conf["program:postgres"]
    assert pg["autostart"] == "true"
    assert pg["stopsignal"] == "INT"
    assert pg["user"] == "fraudpg"
    assert shlex.split(pg["command"]) == ["/pg/bin/postgres", "-D", "/d", "-k", ""]
    assert conf["program:api"]["autostart"] == "false"
    assert conf["group:servers"]["programs"] == "postgres,redis"
    assert conf["group:services"]["programs"] == "api"
    assert conf["program:api"]["stdout_logfile"] == str(tmp_path / "logs" / "api.log")
    assert all(conf[s]["stopasgroup"] == "true" for s in conf.sections() if s.startswith("program:"))


def test_the_control_socket_path_stays_short(tmp_path: Path) -> None:
    deep = tmp_path.joinpath(*["a-rather-long-folder-name"] * 8)
    assert len(str(Paths(deep).socket)) < 100
    assert Paths(deep).socket != Paths(tmp_path).socket
