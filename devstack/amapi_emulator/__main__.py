"""Run the AMAPI emulator in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from devstack.amapi_emulator import persistence
from devstack.amapi_emulator.pubsub import PubSubEmulatorPublisher
from devstack.amapi_emulator.quota import AMAPI_DEFAULT, QuotaLimit, parse_setting
from devstack.amapi_emulator.server import EmulatorServer, default_publisher

QUOTA_ENV = "AMAPI_EMULATOR_QUOTA"


def _quota(text: str) -> QuotaLimit | None:
    try:
        return parse_setting(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m devstack.amapi_emulator",
                                     description="In-memory Android Management API v1 emulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--project", default="amapi-cosu-local")
    parser.add_argument("--enterprise-id", default="LC00local")
    parser.add_argument("--topic", default=None,
                        help="Pub/Sub topic of the initial enterprise "
                             "(default projects/<project>/topics/amapi-events)")
    parser.add_argument("--pubsub-host", default=None,
                        help="Pub/Sub emulator host:port (default $PUBSUB_EMULATOR_HOST)")
    parser.add_argument("--command-delay", type=float, default=0.2,
                        help="seconds before a simulated device completes a command")
    parser.add_argument("--apply-delay", type=float, default=0.2,
                        help="seconds before a simulated device applies a policy or is wiped")
    amapi_quota = f"{AMAPI_DEFAULT.calls}/{AMAPI_DEFAULT.window_seconds}"
    parser.add_argument("--quota", type=_quota, default=os.environ.get(QUOTA_ENV) or amapi_quota,
                        metavar="CALLS/SECONDS",
                        help="AMAPI calls allowed per rolling window of SECONDS, or off "
                             f"(default ${QUOTA_ENV}, else AMAPI's {amapi_quota})")
    parser.add_argument("--state-file", type=Path, default=None,
                        help="restore the emulated world from this file if it exists, and save "
                             "it there about a second after each change and on exit")
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGINT/SIGTERM, then free the port and exit 0."""
    args = parse_args(argv)
    publisher = PubSubEmulatorPublisher(args.pubsub_host) if args.pubsub_host \
        else default_publisher()
    server = EmulatorServer(
        host=args.host, port=args.port, project=args.project,
        enterprise_id=args.enterprise_id,
        topic=args.topic or f"projects/{args.project}/topics/amapi-events",
        publisher=publisher, command_delay=args.command_delay, apply_delay=args.apply_delay,
        log_requests=not args.quiet, quota=args.quota)
    saver = None
    if args.state_file is not None:
        try:
            saved = persistence.load(args.state_file)
            if saved is not None:
                server.restore(saved)
        except persistence.SnapshotError as exc:
            print(f"AMAPI emulator cannot restore {args.state_file}: {exc} (move it away to "
                  "start empty)", file=sys.stderr)
            return 1
        saver = persistence.AutoSaver(server.app.simulation, args.state_file).start()
        if saved is not None:
            devices = len(server.app.simulation.state.devices)
            print(f"AMAPI emulator restored {args.state_file} ({devices} devices)", flush=True)
    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        server.start()
    except OSError as exc:
        print(f"AMAPI emulator cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print(f"AMAPI emulator listening on {server.url}", flush=True)
    try:
        stopping.wait()
    finally:
        server.stop()
        if saver is not None:
            saver.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
