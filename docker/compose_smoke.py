"""`make compose-smoke`: the Compose stack from scratch, healthy, transactions in every store, torn down.

It runs as its own Compose project (``fraud-smoke``) with its own container names, published
ports the OS says are free and generated secrets, written to ``.stack-compose-smoke/smoke.env``: a stack
started with ``docker compose up`` beside it, or an embedded one (``make up``), is left alone,
and so is ``.env`` (written from ``.env.example`` with generated secrets only when there is none,
so that ``docker compose config`` and ``up`` work afterwards). Then:

1. ``docker compose build``, then ``up --wait`` on every service (``dash_app`` only once
   ``dash_app/app.py`` exists): servers, the first model trained by ``model_init`` (on
   ``MODEL_INIT_COUNT`` simulated transactions, 100,000 here), and every service healthy;
2. lets the simulator run until scored transactions are in MongoDB, PostgreSQL and Redis,
   and come through the API's WebSocket; checks the HTTP endpoints (API readiness and model,
   viewer, Streamlit, Kafdrop);
3. ``docker compose down -v`` (unless ``--keep``).

Exit 0 when every check passed. Needs a Docker engine with Compose v2 (``../shared/docker-sandbox``
here) and, for the WebSocket, the ``websockets`` package (installed with uvicorn[standard]).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT = "fraud-smoke"
ENV_FILE = ROOT / ".stack-compose-smoke" / "smoke.env"  # git- and docker-ignored (.stack-*)


def say(text: str) -> None:
    print(f"[compose-smoke {time.strftime('%H:%M:%S')}] {text}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def read_env(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a dotenv file, comments (whole-line, or after a space) dropped."""
    values: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        values[key.strip()] = value.split(" #", 1)[0].strip().strip("'\"")
    return values


class Stack:
    """One Compose project, run with its own env file."""

    def __init__(self, env_file: Path, values: dict[str, str]) -> None:
        self.env_file = env_file
        self.values = values

    def compose(self, *args: str, capture: bool = False, check: bool = True) -> str:
        command = ["docker", "compose", "--project-directory", str(ROOT), "--env-file", str(self.env_file)]
        done = subprocess.run(
            [*command, *args], cwd=ROOT, check=check, text=True, capture_output=capture, timeout=1800
        )
        return done.stdout if capture else ""

    def exec(self, container_var: str, *command: str) -> str:
        done = subprocess.run(
            ["docker", "exec", self.values[container_var], *command],
            check=True,
            text=True,
            capture_output=True,
            timeout=60,
        )
        return done.stdout.strip()

    def url(self, port_var: str, path: str, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.values[port_var]}{path}"


SECRETS = ("API__KEY", "POSTGRES_PASSWORD", "MONGO_ROOT_PASSWORD")


def write_dotenv(path: Path) -> None:
    """``.env.example`` as ``path``, with generated secrets instead of its placeholders."""
    lines = []
    for line in (ROOT / ".env.example").read_text().splitlines():
        key = line.split("=", 1)[0].strip()
        if key in SECRETS and not line.lstrip().startswith("#"):
            line = f"{key}={secrets.token_hex(16)}"
        lines.append(line)
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


def smoke_env(model_count: int) -> dict[str, str]:
    """The user's settings (.env, else .env.example) with this run's project, names, ports and secrets."""
    source = ROOT / ".env" if (ROOT / ".env").is_file() else ROOT / ".env.example"
    values = read_env(source)
    values.update(
        COMPOSE_PROJECT_NAME=PROJECT,
        KAFKA_CONTAINER=f"{PROJECT}-kafka",
        MONGO_CONTAINER=f"{PROJECT}-mongodb",
        POSTGRES_CONTAINER=f"{PROJECT}-postgres",
        REDIS_CONTAINER=f"{PROJECT}-redis",
        API__KEY=secrets.token_hex(16),
        POSTGRES_PASSWORD=secrets.token_hex(16),
        MONGO_ROOT_PASSWORD=secrets.token_hex(16),
        MODEL_INIT_COUNT=str(model_count),
    )
    ports = ("API", "STREAMLIT", "DASH", "KAFDROP", "KAFKA", "MONGO", "POSTGRES", "REDIS")
    values.update({f"{name}_PORT": str(free_port()) for name in ports})
    return values


def poll(what: str, probe: Callable[[], int], deadline: float) -> int:
    """``probe()`` until it is positive or the deadline passes; its last answer (0 on error)."""
    last, error = 0, ""
    while True:
        try:
            last, error = probe(), ""
        except (subprocess.SubprocessError, OSError, ValueError) as exc:
            last, error = 0, str(exc).strip().splitlines()[-1] if str(exc).strip() else repr(exc)
        if last > 0 or time.monotonic() > deadline:
            if error:
                say(f"{what}: {error}")
            return last
        time.sleep(3)


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def websocket_messages(url: str, want: int, seconds: float) -> int:
    """Transactions received on the WebSocket within ``seconds`` (stops at ``want``)."""
    from websockets.sync.client import connect

    received = 0
    deadline = time.monotonic() + seconds
    with connect(url, open_timeout=10) as ws:
        while received < want and time.monotonic() < deadline:
            try:
                message = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            except TimeoutError:
                break
            if message.get("type") == "transaction":
                received += 1
    return received


def checks(stack: Stack, seconds: float) -> list[tuple[str, bool, str]]:
    v = stack.values
    deadline = time.monotonic() + seconds
    database = v.get("MONGO__DATABASE", "fraud")
    recent = f"{v.get('LIVE__PREFIX', 'live:')}recent"

    def mongo_count() -> int:
        login = ["-u", v["MONGO_ROOT_USER"], "-p", v["MONGO_ROOT_PASSWORD"], "--quiet"]
        count = f"db.getSiblingDB('{database}').transactions.countDocuments()"
        return int(stack.exec("MONGO_CONTAINER", "mongosh", *login, "--eval", count))

    def postgres_count() -> int:
        login = ["-U", v["POSTGRES_USER"], "-d", v["POSTGRES_DB"]]
        count = "select count(*) from scored_transactions"
        return int(stack.exec("POSTGRES_CONTAINER", "psql", *login, "-tAc", count))

    mongo = poll("MongoDB", mongo_count, deadline)
    postgres = poll("PostgreSQL", postgres_count, deadline)
    redis = poll("Redis", lambda: int(stack.exec("REDIS_CONTAINER", "redis-cli", "llen", recent)), deadline)
    ws_url = stack.url("API_PORT", "/ws/transactions", scheme="ws")
    websocket = poll("WebSocket", lambda: websocket_messages(ws_url, want=20, seconds=30), deadline)
    results = [
        ("MongoDB fraud.transactions (scored by ml_consumer)", mongo > 0, f"{mongo:,} documents"),
        ("PostgreSQL scored_transactions (storage_consumer)", postgres > 0, f"{postgres:,} rows"),
        (f"Redis {recent} (storage_consumer)", redis > 0, f"{redis:,} entries"),
        ("WebSocket /ws/transactions (api)", websocket > 0, f"{websocket} transactions in under 30 s"),
    ]
    try:
        with urllib.request.urlopen(stack.url("API_PORT", "/models"), timeout=10) as response:
            body = json.loads(response.read())
        current = [m["version"] for m in body if m.get("current")]
        results.append(("model trained by model_init, scoring now", bool(current), f"current: {current}"))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        results.append(("model trained by model_init, scoring now", False, str(exc)))
    pages = [
        ("API readiness /health/ready", stack.url("API_PORT", "/health/ready")),
        ("WebSocket viewer /viewer", stack.url("API_PORT", "/viewer")),
        ("Streamlit", stack.url("STREAMLIT_PORT", "/_stcore/health")),
        ("Kafdrop", stack.url("KAFDROP_PORT", "/")),
    ]
    if (ROOT / "dash_app" / "app.py").is_file():
        pages.append(("Dash", stack.url("DASH_PORT", "/")))
    for name, url in pages:
        status = http_status(url)
        results.append((name, status == 200, f"HTTP {status} {url}"))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="docker/compose_smoke.py", description=__doc__.split("\n")[0])
    parser.add_argument("--keep", action="store_true", help="leave the stack running (down -v it yourself)")
    parser.add_argument(
        "--model-count",
        type=int,
        default=int(os.environ.get("MODEL_INIT_COUNT", "100000")),
        help="transactions simulated to train the first model (MODEL_INIT_COUNT, %(default)s)",
    )
    parser.add_argument("--wait-timeout", type=int, default=900, help="seconds until healthy (%(default)s)")
    parser.add_argument("--check-timeout", type=float, default=180, help="seconds for the data (%(default)s)")
    args = parser.parse_args(argv)

    if not (ROOT / ".env").exists():
        write_dotenv(ROOT / ".env")
        say(".env did not exist: written from .env.example with generated secrets, for `docker compose up`")
    values = smoke_env(args.model_count)
    ENV_FILE.parent.mkdir(exist_ok=True)
    ENV_FILE.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    ENV_FILE.chmod(0o600)
    stack = Stack(ENV_FILE, values)
    services = stack.compose("config", "--services", capture=True).split()
    if not (ROOT / "dash_app" / "app.py").is_file():
        services.remove("dash_app")
        say("dash_app/app.py does not exist yet: dash_app is left out")
    started = time.monotonic()
    try:
        say(f"project {PROJECT}: docker compose build")
        stack.compose("build")
        built = time.monotonic()
        say(f"built in {built - started:.0f} s; up --wait: {' '.join(services)}")
        try:
            stack.compose("up", "--detach", "--wait", "--wait-timeout", str(args.wait_timeout), *services)
        except subprocess.CalledProcessError:
            say("the stack did not become healthy:")
            stack.compose("ps", "--all", check=False)
            stack.compose("logs", "--tail", "40", check=False)
            return 1
        healthy = time.monotonic()
        say(f"every service healthy {healthy - built:.0f} s after `up` (first model trained on the way)")
        stack.compose("ps", "--all", "--format", "table {{.Service}}\t{{.Status}}", check=False)
        results = checks(stack, args.check_timeout)
        say(f"checked {time.monotonic() - healthy:.0f} s after healthy:")
        for name, ok, detail in results:
            print(f"  {'ok  ' if ok else 'FAIL'} {name:<52} {detail}", flush=True)
        failed = [name for name, ok, _ in results if not ok]
        if failed:
            stack.compose("logs", "--tail", "30", check=False)
        say(f"{'FAILED: ' + ', '.join(failed) if failed else 'all checks passed'}")
        return 1 if failed else 0
    finally:
        if args.keep:
            say(f"--keep: still running; stop it with docker compose --env-file {ENV_FILE} down -v")
        else:
            down = time.monotonic()
            stack.compose("down", "--volumes", "--remove-orphans", "--timeout", "20", check=False)
            say(f"down -v in {time.monotonic() - down:.0f} s; {time.monotonic() - started:.0f} s in all")


if __name__ == "__main__":
    sys.exit(main())
