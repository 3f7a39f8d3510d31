"""`make run`: the whole suite on this machine, on Google's emulators, until Ctrl-C.

Firestore emulator, Pub/Sub emulator (AMAPI's topic + push subscription to /notifications, the
rollout topic + push subscription to /rollouts), the AMAPI emulator with one enterprise wired
to the first topic, and every function behind the gateway.

The stack keeps its data in `.devstack/data/` (see saved_data): Firestore and the AMAPI
emulator's world are restored at start and saved on Ctrl-C; meanwhile the emulator saves about a
second after each change and Firestore is exported every SAVE_SECONDS, so a crash loses little.
Pub/Sub keeps nothing: its topics and subscriptions are created at each start. `--fresh` (make
run FRESH=1) starts empty, moving the previous data to `.devstack/data.previous/`.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from devstack import emulators, local_auth
from devstack.saved_data import SavedData

ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = Path(os.environ.get("DEVSTACK_DIR", ROOT / ".devstack"))
ADMIN_EMAIL = "admin@example.com"
# How often the running stack exports Firestore (the AMAPI emulator saves on each change).
SAVE_SECONDS = float(os.environ.get("DEVSTACK_SAVE_SECONDS", "10"))
# After the AMAPI emulator stops: time for notifications it already published to be pushed.
DRAIN_SECONDS = 0.5


@dataclass(frozen=True)
class StackConfig:
    """Addresses and names of one local stack (ports overridable by environment variables)."""

    host: str = "127.0.0.1"
    gateway_port: int = int(os.environ.get("GATEWAY_PORT", "8080"))
    firestore_port: int = int(os.environ.get("FIRESTORE_PORT", "8081"))
    pubsub_port: int = int(os.environ.get("PUBSUB_PORT", "8085"))
    amapi_port: int = int(os.environ.get("AMAPI_EMULATOR_PORT", "8090"))
    project: str = os.environ.get("LOCAL_PROJECT", "amapi-cosu-local")
    enterprise_id: str = "LC00local"
    topic_id: str = "amapi-events"
    rollout_topic_id: str = "amapi-cosu-rollouts"

    @property
    def topic(self) -> str:
        """The enterprise's notification topic."""
        return f"projects/{self.project}/topics/{self.topic_id}"

    @property
    def subscription(self) -> str:
        """The push subscription that delivers to /notifications."""
        return f"projects/{self.project}/subscriptions/{self.topic_id}-push"

    @property
    def rollout_topic(self) -> str:
        """The topic background rollouts are driven through."""
        return f"projects/{self.project}/topics/{self.rollout_topic_id}"

    @property
    def rollout_subscription(self) -> str:
        """The push subscription that delivers to /rollouts."""
        return f"projects/{self.project}/subscriptions/{self.rollout_topic_id}-push"

    @property
    def gateway_url(self) -> str:
        """Where the functions answer."""
        return f"http://{self.host}:{self.gateway_port}"

    @property
    def amapi_url(self) -> str:
        """Where the AMAPI emulator answers."""
        return f"http://{self.host}:{self.amapi_port}"


def function_environment(*, project: str, firestore_host: str, pubsub_host: str,
                         amapi_url: str, enterprise_id: str, topic: str,
                         public_key_file: Path, rollout_topic: str) -> dict[str, str]:
    """The environment the functions run with against the emulators."""
    return {
        "GOOGLE_CLOUD_PROJECT": project,
        "FIRESTORE_EMULATOR_HOST": firestore_host,
        "PUBSUB_EMULATOR_HOST": pubsub_host,
        "AMAPI_ENDPOINT": amapi_url,
        "AMAPI_ENTERPRISE": f"enterprises/{enterprise_id}",
        "PUBSUB_TOPIC": topic,
        "ROLLOUT_TOPIC": rollout_topic,
        "AUTH_MODE": "local",
        "LOCAL_AUTH_PUBLIC_KEY_FILE": str(public_key_file),
        # No Cloud Scheduler runs locally: the stack's administrator triggers scheduled targets.
        "SCHEDULER_PRINCIPALS": ADMIN_EMAIL,
        "AMAPI_RETRY_BUDGET_SECONDS": "8",
        "AMAPI_RETRY_BASE_SECONDS": "0.2",
    }


class LocalStack:
    """Starts the children in order, watches them, and stops all of them on any exit."""

    def __init__(self, config: StackConfig, *, fresh: bool = False) -> None:
        self.config = config
        self.fresh = fresh
        self.data = SavedData(STATE_DIR / "data")
        self.restored = False
        self.children: list[emulators.ManagedProcess] = []
        self._stopping = threading.Event()
        self._ready = False
        self._saver: threading.Thread | None = None

    def _spawn(self, process: emulators.ManagedProcess) -> emulators.ManagedProcess:
        self.children.append(process)
        process.start()
        return process

    def start(self) -> None:
        """Bring everything up; raises if a part does not become ready."""
        config, logs = self.config, STATE_DIR / "logs"
        for port in (config.gateway_port, config.firestore_port, config.pubsub_port,
                     config.amapi_port):
            _require_free(config.host, port)
        _, public_key = local_auth.ensure_keys(STATE_DIR / "auth")
        if self.fresh:
            self.data.set_aside()
        seed = self.data.firestore_seed()
        self.restored = seed is not None or self.data.emulator_file.exists()
        firestore = self._spawn(emulators.firestore_emulator(config.host, config.firestore_port,
                                                             logs, import_data=seed))
        pubsub = self._spawn(emulators.pubsub_emulator(config.host, config.pubsub_port, logs))
        emulators.wait_for_http(f"http://{config.host}:{config.firestore_port}/", 60,
                                firestore.process)
        emulators.wait_for_http(f"http://{config.host}:{config.pubsub_port}/", 60, pubsub.process)
        pubsub_host = f"{config.host}:{config.pubsub_port}"
        emulators.ensure_topic(pubsub_host, config.topic)
        emulators.ensure_subscription(
            pubsub_host, config.subscription, config.topic,
            push_endpoint=f"{config.gateway_url}/notifications/{config.topic}")
        wire_rollouts(pubsub_host, config.rollout_topic, config.rollout_subscription,
                      config.gateway_url)
        python = sys.executable
        amapi = self._spawn(emulators.ManagedProcess("amapi", [
            python, "-m", "devstack.amapi_emulator", "--host", config.host,
            "--port", str(config.amapi_port), "--project", config.project,
            "--enterprise-id", config.enterprise_id, "--topic", config.topic,
            "--pubsub-host", pubsub_host, "--state-file", str(self.data.emulator_file)],
            logs / "amapi-emulator.log"))
        env = dict(os.environ, **function_environment(
            project=config.project, firestore_host=f"{config.host}:{config.firestore_port}",
            pubsub_host=pubsub_host, amapi_url=config.amapi_url,
            enterprise_id=config.enterprise_id, topic=config.topic,
            public_key_file=public_key, rollout_topic=config.rollout_topic))
        # A client may start on the gateway's first /healthz 200: everything its first call
        # needs (the administrator's binding and token, AMAPI) is ready before the gateway is.
        _bind_admin(env)
        write_admin_token()
        emulators.wait_for_http(f"{config.amapi_url}/emulator/v1/healthz", 30, amapi.process)
        gateway = self._spawn(emulators.ManagedProcess("gateway", [
            python, "-m", "devstack.gateway", "--host", config.host,
            "--port", str(config.gateway_port)], logs / "functions.log", env=env))
        emulators.wait_for_http(f"{config.gateway_url}/enroll/healthz", 60, gateway.process)
        self._ready = True
        self._saver = threading.Thread(target=self._save_periodically, name="devstack-saver",
                                       daemon=True)
        self._saver.start()

    def save_firestore(self) -> None:
        """Export Firestore into the data folder now."""
        self.data.save_firestore(f"{self.config.host}:{self.config.firestore_port}",
                                 self.config.project)

    def _save_periodically(self) -> None:
        while not self._stopping.wait(SAVE_SECONDS):
            try:
                self.save_firestore()
            except Exception as exc:  # the next save (or the one on exit) tries again
                print(f"local stack: could not save Firestore: {exc}", file=sys.stderr,
                      flush=True)

    def stop(self) -> None:
        """Save the data and stop every child.

        The AMAPI emulator stops first (saving its world with the device work still owed,
        which it replays at the next start), then the functions, so that the Firestore export
        taken last holds everything they wrote.
        """
        self._stopping.set()
        if self._saver is not None:
            self._saver.join(timeout=70)
        by_name = {child.name: child for child in self.children}
        amapi, gateway = by_name.get("amapi"), by_name.get("gateway")
        if amapi is not None:
            amapi.stop(grace=15)
            time.sleep(DRAIN_SECONDS)
        if gateway is not None:
            gateway.stop()
        firestore = by_name.get("firestore")
        if self._ready and firestore is not None and firestore.process is not None \
                and firestore.process.poll() is None:
            try:
                self.save_firestore()
            except Exception as exc:
                print(f"local stack: could not save Firestore: {exc}", file=sys.stderr,
                      flush=True)
        for child in reversed(self.children):
            child.stop()

    def watch(self) -> str:
        """Block until a signal arrives or a child dies; say which."""
        while not self._stopping.wait(0.5):
            for child in self.children:
                if child.process is not None and child.process.poll() is not None:
                    return f"{child.name} exited with {child.process.returncode}"
        return "stopped"


def wire_rollouts(pubsub_host: str, topic: str, subscription: str, gateway_url: str) -> None:
    """Create the rollout topic and its push subscription to the gateway's /rollouts."""
    emulators.ensure_topic(pubsub_host, topic)
    # The topic in the path is how functions-framework names a push's source, as Eventarc does.
    # A worker runs for a time slice (ROLLOUT_SLICE_SECONDS) before it answers: a shorter
    # deadline would redeliver to a second worker meanwhile (harmless, but wasted).
    emulators.ensure_subscription(pubsub_host, subscription, topic,
                                  push_endpoint=f"{gateway_url}/rollouts/{topic}",
                                  ack_deadline=600)


def admin_token_file() -> Path:
    """Where the stack writes its administrator's bearer token."""
    return STATE_DIR / "admin-token"


def write_admin_token() -> Path:
    """Write a week-long bearer token for the stack's administrator; return its file."""
    private_key, _ = local_auth.ensure_keys(STATE_DIR / "auth")
    token_file = admin_token_file()
    token_file.write_text(local_auth.issue_token(private_key, ADMIN_EMAIL,
                                                 lifetime_seconds=7 * 24 * 3600))
    token_file.chmod(0o600)
    return token_file


def _bind_admin(env: dict[str, str]) -> None:
    """Make the stack's administrator ADMIN of `global` (what the admin token is for)."""
    import subprocess

    subprocess.run([sys.executable, "-c", (
        "from shared.store import access_control; access_control.put_binding("
        f"{{'principal': '{ADMIN_EMAIL}', 'role': 'ADMIN', 'space': 'global'}})")],
        env=env, check=True, timeout=60)


def _require_free(host: str, port: int) -> None:
    import socket

    with socket.socket() as probe:
        if probe.connect_ex((host, port)) == 0:
            raise SystemExit(f"port {port} is already in use: stop what listens there, or set "
                             "GATEWAY_PORT / FIRESTORE_PORT / PUBSUB_PORT / AMAPI_EMULATOR_PORT")


def _banner(stack: LocalStack, token_file: Path, seconds: float) -> str:
    config, gw = stack.config, stack.config.gateway_url
    if stack.fresh:
        data = f"started empty (FRESH); saved to {stack.data.root}"
        if stack.data.previous.exists():
            data += f", earlier data moved to {stack.data.previous}"
    elif stack.restored:
        data = f"restored from {stack.data.root} and saved there"
    else:
        data = f"none saved yet; saved to {stack.data.root}"
    return "\n".join([
        f"amapi-cosu local stack ready in {seconds:.1f}s",
        f"  functions gateway  {gw}",
        f"    {gw}/enroll  {gw}/policy  {gw}/commands  {gw}/notifications  {gw}/rollouts",
        f"    {gw}/expire-tokens  {gw}/reconcile-commands",
        f"    {gw}/mcp  (Model Context Protocol: point an MCP client here with the token)",
        f"  AMAPI emulator     {config.amapi_url}  (enterprise enterprises/{config.enterprise_id})",
        f"  Firestore emulator {config.host}:{config.firestore_port}",
        f"  Pub/Sub emulator   {config.host}:{config.pubsub_port}  (topics {config.topic}, "
        f"{config.rollout_topic})",
        f"  admin token        {token_file}  (logs in {STATE_DIR / 'logs'})",
        f"  data               {data}",
        "",
        "Try:",
        f"  curl -H \"Authorization: Bearer $(cat {token_file})\" "
        f"{gw}/enroll/openapi.json",
        "Ctrl-C saves the data and stops everything (make run FRESH=1 starts empty).",
    ])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options of `python -m devstack`."""
    parser = argparse.ArgumentParser(prog="python -m devstack",
                                     description="Run the whole local stack until Ctrl-C.")
    parser.add_argument("--fresh", action="store_true",
                        help="start empty instead of restoring the previous run's data "
                             "(which is moved to .devstack/data.previous/)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the stack in the foreground."""
    args = parse_args(argv)
    started = time.monotonic()
    config = StackConfig()
    stack = LocalStack(config, fresh=args.fresh)

    def on_signal(signum: int, _frame: object) -> None:
        stack._stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        stack.start()
        print(_banner(stack, admin_token_file(), time.monotonic() - started), flush=True)
        reason = stack.watch()
    except Exception as exc:
        print(f"local stack failed: {exc} (see the logs in {STATE_DIR / 'logs'}; if saved "
              "data cannot be restored, make run FRESH=1 starts empty)", file=sys.stderr,
              flush=True)
        stack.stop()
        return 1
    stack.stop()
    print(f"local stack {reason}; data saved in {stack.data.root}; every child stopped",
          flush=True)
    return 0 if reason == "stopped" else 1


if __name__ == "__main__":
    sys.exit(main())
