"""`amapi-cosu`: profiles, devices, configurations, rollouts and exports from a terminal.

Tables for people; `--json` prints the API's own JSON for scripts. Talks to the local stack
(`make run`) with its administrator token by default; `--url` (or `AMAPI_COSU_URL`) points it
at production, where it authenticates with a Google ID token.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import click

from amapi_cosu_cli import qr_terminal
from amapi_cosu_cli.api import Api, ApiError
from amapi_cosu_cli.auth import NoCredentials, token_source

LOCAL_URL = "http://127.0.0.1:8080"
ROLLOUT_ENDS = ("SUCCEEDED", "FAILED", "CANCELLED", "ROLLED_BACK", "PAUSED")
COMMANDS = ("lock", "reboot", "sync")


class Context:
    """What every command needs: the API and how to print."""

    def __init__(self, api: Api, as_json: bool) -> None:
        self.api = api
        self.as_json = as_json

    def show(self, data: Any, rows: Iterable[dict[str, Any]] | None = None,
             columns: Sequence[tuple[str, Callable[[dict[str, Any]], Any]]] = (),
             title: str | None = None) -> None:
        """`data` as JSON, or `rows` as a table of `columns` (header, value of a row)."""
        if self.as_json:
            click.echo(json.dumps(data, indent=2, ensure_ascii=False))
            return
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title, show_lines=False)
        for index, (header, _) in enumerate(columns):
            # Ids are copied into the next command: never wrapped or cut.
            table.add_column(header, no_wrap=index == 0, min_width=20 if index == 0 else None)
        for row in rows if rows is not None else [data]:
            table.add_row(*("" if value is None else str(value)
                            for value in (pick(row) for _, pick in columns)))
        Console().print(table)


pass_context = click.make_pass_decorator(Context)


def _run(action: Callable[[], None]) -> None:
    try:
        action()
    except ApiError as exc:
        click.echo(exc.describe(), err=True)
        sys.exit(1)
    except NoCredentials as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)


@click.group()
@click.option("--url", envvar="AMAPI_COSU_URL", default=LOCAL_URL, show_default=True,
              help="where the functions are: <url>/enroll, <url>/policy, <url>/commands")
@click.option("--token", envvar="AMAPI_COSU_TOKEN", help="a bearer token to use as is")
@click.option("--token-file", type=click.Path(path_type=Path),
              help="the local stack's token file (default .devstack/admin-token)")
@click.option("--json", "as_json", is_flag=True, help="print the API's JSON")
@click.pass_context
def cli(ctx: click.Context, url: str, token: str | None, token_file: Path | None,
        as_json: bool) -> None:
    """Operate dedicated Android devices through amapi-cosu."""
    try:
        source = token_source(url, token, token_file)
    except NoCredentials as exc:
        raise click.UsageError(str(exc)) from None
    ctx.obj = Context(Api(url, source), as_json)


# --- Enrollment profiles -------------------------------------------------------------------

PROFILE_COLUMNS = (("ID", lambda p: p["id"]), ("Name", lambda p: p["name"]),
                   ("Space", lambda p: p["space"]), ("User", lambda p: p["userName"]),
                   ("Status", lambda p: p["status"]),
                   ("Enrolled", lambda p: p.get("enrolledDevices")),
                   ("Expires", lambda p: p["token"]["expireTime"]))


@cli.group()
def profiles() -> None:
    """Enrollment profiles (an AMAPI enrollment token and its QR code each)."""


@profiles.command("create")
@click.option("--name", required=True)
@click.option("--user", "user_name", required=True, help="the device user (userName)")
@click.option("--days", "validity_days", type=int, default=30, show_default=True)
@click.option("--space")
@click.option("--attribute", "attributes", multiple=True, metavar="NAME=VALUE",
              help="a custom attribute value (repeatable)")
@click.option("--one-time", is_flag=True, help="each token enrolls one device")
@pass_context
def profiles_create(ctx: Context, name: str, user_name: str, validity_days: int,
                    space: str | None, attributes: tuple[str, ...], one_time: bool) -> None:
    """Create a profile, and draw its QR code."""
    body: dict[str, Any] = {"name": name, "userName": user_name, "validityDays": validity_days,
                            "customAttributes": [_attribute(a) for a in attributes]}
    if space:
        body["space"] = space
    if one_time:
        body["oneTimeOnly"] = True

    def act() -> None:
        profile = ctx.api.call("enroll", "POST", "/enrollment-profiles", body)
        _show_profile(ctx, profile)

    _run(act)


def _attribute(text: str) -> dict[str, str]:
    name, separator, value = text.partition("=")
    if not separator:
        raise click.BadParameter(f"{text!r} is not NAME=VALUE", param_hint="--attribute")
    return {"name": name, "value": value}


@profiles.command("list")
@click.option("--space")
@click.option("--status", type=click.Choice(["ACTIVE", "EXPIRED", "USED"]))
@pass_context
def profiles_list(ctx: Context, space: str | None, status: str | None) -> None:
    """List profiles."""
    _run(lambda: _list(ctx, "enroll", "/enrollment-profiles", "enrollmentProfiles",
                       {"space": space, "status": status}, PROFILE_COLUMNS, "Profiles"))


@profiles.command("show")
@click.argument("profile_id")
@pass_context
def profiles_show(ctx: Context, profile_id: str) -> None:
    """Show a profile and draw its QR code, for a device to scan off the screen."""
    _run(lambda: _show_profile(ctx, ctx.api.call("enroll", "GET",
                                                  f"/enrollment-profiles/{profile_id}")))


def _show_profile(ctx: Context, profile: dict[str, Any]) -> None:
    ctx.show(profile, [profile], PROFILE_COLUMNS, "Profile")
    if ctx.as_json:
        return
    if profile["status"] != "ACTIVE":
        click.echo(f"no QR code: the profile is {profile['status']}")
        return
    click.echo(qr_terminal.draw(qr_terminal.matrix(profile["qrCode"])))


# --- Devices -------------------------------------------------------------------------------

DEVICE_COLUMNS = (("ID", lambda d: d["id"]), ("State", lambda d: d.get("state")),
                  ("Space", lambda d: d.get("space")), ("User", lambda d: d.get("userName")),
                  ("Model", lambda d: (d.get("hardware") or {}).get("model")),
                  ("Serial", lambda d: (d.get("hardware") or {}).get("serialNumber")),
                  ("Compliant", lambda d: (d.get("policy") or {}).get("compliant")),
                  ("Labels", lambda d: ",".join(d.get("labels") or [])))


@cli.group()
def devices() -> None:
    """The device inventory and device commands."""


@devices.command("list")
@click.option("--space")
@click.option("--state")
@click.option("--label")
@click.option("--config", "config_id", help="devices a COSU configuration reaches")
@pass_context
def devices_list(ctx: Context, space: str | None, state: str | None, label: str | None,
                 config_id: str | None) -> None:
    """List devices."""
    _run(lambda: _list(ctx, "commands", "/devices", "devices",
                       {"space": space, "state": state, "label": label, "configId": config_id},
                       DEVICE_COLUMNS, "Devices"))


@devices.command("find")
@click.option("--serial", "serial_number")
@click.option("--imei")
@click.option("--model")
@click.option("--user", "user_name")
@pass_context
def devices_find(ctx: Context, serial_number: str | None, imei: str | None, model: str | None,
                 user_name: str | None) -> None:
    """Find devices by serial number, IMEI, model or user."""
    query = {"serialNumber": serial_number, "imei": imei, "model": model,
             "userName": user_name}
    if not any(query.values()):
        raise click.UsageError("give --serial, --imei, --model or --user")
    _run(lambda: _list(ctx, "commands", "/devices", "devices", query, DEVICE_COLUMNS,
                       "Devices found"))


@devices.command("show")
@click.argument("device_id")
@pass_context
def devices_show(ctx: Context, device_id: str) -> None:
    """Show a device: state, policy, hardware, apps, and why it has its policy."""

    def act() -> None:
        device = ctx.api.call("commands", "GET", f"/devices/{device_id}")
        ctx.show(device, [device], DEVICE_COLUMNS, "Device")
        if not ctx.as_json and device.get("effective"):
            click.echo(device["effective"].get("reason", ""))

    _run(act)


def _command(ctx: Context, device_id: str, body: dict[str, Any]) -> None:
    command = ctx.api.call("commands", "POST", f"/devices/{device_id}/commands", body)
    ctx.show(command, [command], (("Command", lambda c: c["id"]), ("Type", lambda c: c["type"]),
                                  ("State", lambda c: c["state"])))


def _device_command(kind: str) -> None:
    @devices.command(kind, help=f"Send {kind.upper()} to a device.")
    @click.argument("device_id")
    @pass_context
    def send(ctx: Context, device_id: str) -> None:
        _run(lambda: _command(ctx, device_id, {"type": kind.upper()}))


for _kind in COMMANDS:
    _device_command(_kind)


@devices.command("wipe")
@click.argument("device_id")
@click.option("--reason", required=True, help="why (kept in the audit log)")
@click.option("--yes", is_flag=True, help="do not ask for the device's name")
@pass_context
def devices_wipe(ctx: Context, device_id: str, reason: str, yes: bool) -> None:
    """Factory-reset a device: type its id back to confirm, unless --yes."""

    def act() -> None:
        device = ctx.api.call("commands", "GET", f"/devices/{device_id}")
        if not yes:
            serial = (device.get("hardware") or {}).get("serialNumber") or "?"
            typed = click.prompt(f"Wiping erases device {device['id']} (serial {serial}) and "
                                 "removes it from management. Type its id to confirm")
            if typed.strip() != device["id"]:
                click.echo("the id does not match: nothing was done", err=True)
                sys.exit(1)
        _command(ctx, device_id, {"type": "WIPE", "reason": reason})

    _run(act)


# --- COSU configurations -------------------------------------------------------------------

CONFIG_COLUMNS = (("ID", lambda c: c["id"]), ("Name", lambda c: c["name"]),
                  ("Space", lambda c: c.get("space")), ("Priority", lambda c: c["priority"]),
                  ("App", lambda c: c["app"]["packageName"]),
                  ("Distribution", lambda c: c["distribution"]["mode"]))
FINDING_COLUMNS = (("Severity", lambda f: f["severity"]), ("Code", lambda f: f["code"]),
                   ("Field", lambda f: f["field"]), ("Message", lambda f: f["message"]),
                   ("Fix", lambda f: f["fix"]))


@cli.group()
def configs() -> None:
    """Dedicated-device (COSU) configurations."""


@configs.command("list")
@click.option("--space")
@pass_context
def configs_list(ctx: Context, space: str | None) -> None:
    """List configurations."""
    _run(lambda: _list(ctx, "policy", "/cosu-configs", "cosuConfigs", {"space": space},
                       CONFIG_COLUMNS, "COSU configurations"))


@configs.command("show")
@click.argument("config_id")
@pass_context
def configs_show(ctx: Context, config_id: str) -> None:
    """Show a configuration."""

    def act() -> None:
        config = ctx.api.call("policy", "GET", f"/cosu-configs/{config_id}")
        ctx.show(config, [config], CONFIG_COLUMNS, "COSU configuration")

    _run(act)


@configs.command("policy")
@click.argument("config_id")
@pass_context
def configs_policy(ctx: Context, config_id: str) -> None:
    """Print the AMAPI policy a configuration compiles to (JSON)."""
    _run(lambda: click.echo(json.dumps(
        ctx.api.call("policy", "GET", f"/cosu-configs/{config_id}/policy"), indent=2)))


@configs.command("lint")
@click.argument("config_id")
@pass_context
def configs_lint(ctx: Context, config_id: str) -> None:
    """What the kiosk linter finds in a configuration."""

    def act() -> None:
        found = ctx.api.call("policy", "GET", f"/cosu-configs/{config_id}/lint")
        ctx.show(found, found["findings"], FINDING_COLUMNS, "Findings")

    _run(act)


@configs.command("plan")
@click.argument("config_id")
@click.argument("patch", type=click.File())
@pass_context
def configs_plan(ctx: Context, config_id: str, patch: Any) -> None:
    """What a change (a JSON merge patch, from a file or - for stdin) would do; nothing is
    changed."""

    def act() -> None:
        plan = ctx.api.call("policy", "PATCH", f"/cosu-configs/{config_id}",
                            json.load(patch), query={"validateOnly": True})
        summary = plan["plan"]
        ctx.show(plan, plan["diff"], (("Policy", lambda d: d["policy"]),
                                      ("Field", lambda d: d["field"]),
                                      ("Before", lambda d: json.dumps(d["before"])),
                                      ("After", lambda d: json.dumps(d["after"]))),
                 f"{summary['amapiCalls']} AMAPI calls, {summary['policiesPatched']} "
                 f"policies, {summary['devicesMoved']} devices moved"
                 + (", as a rollout" if summary["rollout"] else ""))

    _run(act)


# --- Rollouts and exports ------------------------------------------------------------------

ROLLOUT_COLUMNS = (("ID", lambda r: r["id"]), ("Space", lambda r: r["space"]),
                   ("State", lambda r: r["state"]), ("Percent", lambda r: r.get("percent")),
                   ("Trigger", lambda r: f"{r['trigger']['kind']} {r['trigger']['id']}"))


@cli.group()
def rollouts() -> None:
    """Rollouts of large or staged changes."""


@rollouts.command("list")
@click.option("--space")
@click.option("--state")
@pass_context
def rollouts_list(ctx: Context, space: str | None, state: str | None) -> None:
    """List rollouts."""
    _run(lambda: _list(ctx, "policy", "/rollouts", "rollouts",
                       {"space": space, "state": state}, ROLLOUT_COLUMNS, "Rollouts"))


@rollouts.command("watch")
@click.argument("rollout_id")
@click.option("--every", type=float, default=2.0, show_default=True, help="seconds")
@pass_context
def rollouts_watch(ctx: Context, rollout_id: str, every: float) -> None:
    """Follow a rollout with a live progress bar until it ends or pauses."""

    def act() -> None:
        from rich.progress import BarColumn, Progress, TextColumn

        rollout = ctx.api.call("policy", "GET", f"/rollouts/{rollout_id}")
        with Progress(TextColumn("{task.description}"), BarColumn(),
                      TextColumn("{task.percentage:>3.0f}%"),
                      disable=ctx.as_json) as progress:
            task = progress.add_task(rollout["state"], total=100)
            while True:
                progress.update(task, completed=rollout.get("percent") or 0,
                                description=f"{rollout_id} {rollout['state']}")
                if rollout["state"] in ROLLOUT_ENDS:
                    break
                time.sleep(every)
                rollout = ctx.api.call("policy", "GET", f"/rollouts/{rollout_id}")
        if ctx.as_json:
            click.echo(json.dumps(rollout, indent=2))
        else:
            click.echo(f"{rollout_id}: {rollout['state']}")

    _run(act)


@cli.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv",
              show_default=True)
@click.option("--space")
@click.option("--config", "config_id")
@click.option("--output", "-o", type=click.File("wb"), default="-",
              help="a file, or - for standard output")
@pass_context
def export(ctx: Context, fmt: str, space: str | None, config_id: str | None,
           output: Any) -> None:
    """Stream the device inventory as CSV or JSON lines."""

    def act() -> None:
        for chunk in ctx.api.stream("commands", "/devices:export",
                                    {"format": fmt, "space": space, "configId": config_id}):
            output.write(chunk)

    _run(act)


def _list(ctx: Context, function: str, path: str, key: str, query: dict[str, Any],
          columns: Sequence[tuple[str, Callable[[dict[str, Any]], Any]]], title: str) -> None:
    items = list(ctx.api.pages(function, path, key, query))
    ctx.show({key: items}, items, columns, title)


def main() -> None:
    """The console script."""
    cli(prog_name="amapi-cosu")
