"""The emulator's own control API (`/emulator/v1/...`): simulate devices, faults and time.

Routes (JSON in and out; errors use the same google.rpc.Status shape as AMAPI):
  GET    healthz                                  {"status": "ok"}
  POST   enroll                                   {enrollmentToken, hardwareInfo, ...} -> Device
  POST   enroll:batch                             {enrollmentToken, devices: [...]} -> {devices}
  POST   enterprises/E/devices/D:report           partial Device -> merged Device
  GET|POST|DELETE faults                          {probability, codes, methods?, afterEffect?}
  GET|DELETE requests                             {"requests": [...]} (AMAPI calls only)
  GET|POST|DELETE quota                           {"calls": n, "windowSeconds": s}; DELETE: default
  GET|POST|DELETE behaviors                       {devices|percent, policy, nonCompliance|appError|
                                                  neverApply}; GET lists, DELETE clears
  GET|POST clock                                  {"offsetSeconds": n} -> {now, offsetSeconds}
  GET|POST delays                                 {"commandSeconds"?, "applySeconds"?}
  POST   signup:complete                          {signupUrlName} -> {enterpriseToken, ...}
  POST   reset                                    back to the initial state
"""

from __future__ import annotations

import re
import secrets
import urllib.parse
from collections.abc import Callable
from typing import Any

from devstack.amapi_emulator import device_reports, errors
from devstack.amapi_emulator.behaviors import parse_behavior
from devstack.amapi_emulator.faults import FaultInjector, parse_rule
from devstack.amapi_emulator.quota import Quota, parse_limit
from devstack.amapi_emulator.request_log import RequestLog
from devstack.amapi_emulator.simulation import Simulation

PREFIX = "/emulator/v1/"
Handler = Callable[[dict[str, str], Any], dict[str, Any]]


class ControlApi:
    """Routes and handlers of the control API; every body and answer is JSON."""

    def __init__(self, simulation: Simulation, faults: FaultInjector, log: RequestLog,
                 quota: Quota, reset: Callable[[], None]) -> None:
        self.sim = simulation
        self.faults = faults
        self.log = log
        self.quota = quota
        self._reset = reset
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = [
            ("GET", re.compile(r"^healthz$"), self.healthz),
            ("POST", re.compile(r"^enroll$"), self.enroll),
            ("POST", re.compile(r"^enroll:batch$"), self.enroll_batch),
            ("POST", re.compile(r"^(?P<device>enterprises/[^/]+/devices/[^/:]+):report$"),
             self.report),
            ("GET", re.compile(r"^faults$"), self.get_faults),
            ("POST", re.compile(r"^faults$"), self.set_faults),
            ("DELETE", re.compile(r"^faults$"), self.clear_faults),
            ("GET", re.compile(r"^requests$"), self.requests),
            ("DELETE", re.compile(r"^requests$"), self.clear_requests),
            ("GET", re.compile(r"^quota$"), self.get_quota),
            ("POST", re.compile(r"^quota$"), self.set_quota),
            ("DELETE", re.compile(r"^quota$"), self.default_quota),
            ("GET", re.compile(r"^behaviors$"), self.get_behaviors),
            ("POST", re.compile(r"^behaviors$"), self.add_behavior),
            ("DELETE", re.compile(r"^behaviors$"), self.clear_behaviors),
            ("GET", re.compile(r"^clock$"), self.get_clock),
            ("POST", re.compile(r"^clock$"), self.set_clock),
            ("GET", re.compile(r"^delays$"), self.get_delays),
            ("POST", re.compile(r"^delays$"), self.set_delays),
            ("POST", re.compile(r"^signup:complete$"), self.complete_signup),
            ("POST", re.compile(r"^reset$"), self.reset),
        ]

    def route(self, http_method: str, path: str) -> tuple[Handler, dict[str, str]]:
        """The handler for a control path (after `/emulator/v1/`), or a 404/405 ApiError."""
        allowed = False
        for method, pattern, handler in self.routes:
            found = pattern.match(path)
            if found:
                if method == http_method:
                    return handler, found.groupdict()
                allowed = True
        if allowed:
            raise errors.ApiError(405, f"{http_method} is not allowed on {PREFIX}{path}.",
                                  "INVALID_ARGUMENT")
        raise errors.not_found(f"No control route {PREFIX}{path}.")

    def healthz(self, params: dict[str, str], body: Any) -> dict[str, Any]:
        """Liveness."""
        return {"status": "ok"}

    def enroll(self, params: dict[str, str], body: Any) -> dict[str, Any]:
        """A device enrolls with a token; ENROLLMENT is published."""
        with self.sim.transaction() as outbox:
            return device_reports.enroll(self.sim, outbox, body)

    def enroll_batch(self, params: dict[str, str], body: Any) -> dict[str, Any]:
        """Up to MAX_BATCH devices enroll with one token, all or none; one ENROLLMENT each."""
        with self.sim.transaction() as outbox:
            return {"devices": device_reports.enroll_batch(self.sim, outbox, body)}

    def report(self, params: dict[str, str], body: Any) -> dict[str, Any]:
        """A device sends a status report; STATUS_REPORT is published."""
        with self.sim.transaction() as outbox:
            return device_reports.report(self.sim, outbox, params["device"], body)

    def get_faults(self, params: dict[str, str], body: Any) -> dict[str, Any]:
        """The active fault rule, `{}` when none."""
        rule = self.faults.rule
        return rule.as_json() if rule else {}

    def set_faults(self, params: dict[str, str], body: Any) -> dict[str, Any]:
        """Make matching AMAPI calls fail with the given probability and codes."""
        rule = parse_rule(body)
        self.faults.set(rule)
        return rule.as_json()

    def clear_faults(self, params: dict[str, str], body: Any) -> dict[str, Any]:
        """Stop injecting faults."""
        self.faults.clear()
        return {}

    def requests(self, params: dict[str, str], body: Any) -> dict[str, Any]:
        """Every AMAPI call received since the last clear."""
        return {"requests": self.log.entries()}

    def clear_requests(self, params: dict[str, str], body: Any) -> dict[str, Any]:
        """Forget the logged calls."""
        self.log.clear()
        return {}

    def get_quota(self, params: dict[str, str], body: Any) -> dict[str, Any]:
        """The quota in force and the calls counted in its current window."""
        return self.quota.usage()

    def set_quota(self, params: dict[str, str], body: Any) -> dict[str, Any]:
        """Limit AMAPI calls to `calls` per rolling `windowSeconds`; counted calls stay."""
        self.quota.set(parse_limit(body))
        return self.quota.usage()

    def default_quota(self, params: dict[str, str], body: Any) -> dict[str, Any]:
        """Back to the quota the emulator started with (counted calls stay)."""
        self.quota.set(self.quota.default)
        return self.quota.usage()

    def get_behaviors(self, params: dict[str, str], body: Any) -> dict[str, Any]:
        """The device behaviours in force, in the order they were added."""
        with self.sim.transaction():
            return {"behaviors": [b.as_json() for b in self.sim.state.behaviors]}

    def add_behavior(self, params: dict[str, str], body: Any) -> dict[str, Any]:
        """Make matching devices misbehave whenever they next apply the policy."""
        with self.sim.transaction():
            behavior = parse_behavior(body, self.sim.state.devices)
            self.sim.state.behaviors.append(behavior)
            return behavior.as_json()

    def clear_behaviors(self, params: dict[str, str], body: Any) -> dict[str, Any]:
        """Devices behave again (each drops its simulated faults at its next report)."""
        with self.sim.transaction():
            self.sim.state.behaviors.clear()
        return {}

    def get_clock(self, params: dict[str, str], body: Any) -> dict[str, Any]:
        """The emulator's current time and offset."""
        return {"now": self.sim.clock.timestamp(), "offsetSeconds": self.sim.clock.offset_seconds}

    def set_clock(self, params: dict[str, str], body: Any) -> dict[str, Any]:
        """Set the clock to real time + `offsetSeconds`."""
        offset = body.get("offsetSeconds") if isinstance(body, dict) else None
        if isinstance(offset, bool) or not isinstance(offset, int | float):
            raise errors.bad_request('Expected {"offsetSeconds": <number>}.')
        self.sim.clock.set_offset(offset)
        self.sim.changed()
        return {"now": self.sim.clock.timestamp(), "offsetSeconds": offset}

    def get_delays(self, params: dict[str, str], body: Any) -> dict[str, Any]:
        """How long simulated devices take to complete commands and apply policies."""
        return {"commandSeconds": self.sim.command_delay, "applySeconds": self.sim.apply_delay}

    def set_delays(self, params: dict[str, str], body: Any) -> dict[str, Any]:
        """Change the device delays (e.g. keep commands pending); reset restores them."""
        if not isinstance(body, dict) or set(body) - {"commandSeconds", "applySeconds"}:
            raise errors.bad_request('Expected {"commandSeconds"?: n, "applySeconds"?: n}.')
        values = {key: body[key] for key in ("commandSeconds", "applySeconds") if key in body}
        for key, value in values.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise errors.bad_request(f"{key} must be a number of seconds >= 0.")
        self.sim.command_delay = float(values.get("commandSeconds", self.sim.command_delay))
        self.sim.apply_delay = float(values.get("applySeconds", self.sim.apply_delay))
        self.sim.changed()
        return self.get_delays(params, body)

    def complete_signup(self, params: dict[str, str], body: Any) -> dict[str, Any]:
        """The administrator finishes Google's signup page: an enterprise token is issued."""
        name = body.get("signupUrlName") if isinstance(body, dict) else None
        if not isinstance(name, str) or not name:
            raise errors.bad_request('Expected {"signupUrlName": "signupUrls/..."}.')
        with self.sim.transaction():
            signup = self.sim.state.signups.get(name)
            if signup is None:
                raise errors.bad_request(f"Unknown signup URL {name}.")
            if signup.enterprise_token is None:
                signup.enterprise_token = "E" + secrets.token_urlsafe(24)
            return {"enterpriseToken": signup.enterprise_token,
                    "signupUrlName": name,
                    "callbackUrl": _with_enterprise_token(signup.callback_url,
                                                          signup.enterprise_token)}

    def reset(self, params: dict[str, str], body: Any) -> dict[str, Any]:
        """Back to the initial state."""
        self._reset()
        return {}



def _with_enterprise_token(callback_url: str, enterprise_token: str) -> str:
    """Where Google would redirect the admin: the callback URL plus `enterpriseToken`."""
    separator = "&" if "?" in callback_url else "?"
    return callback_url + separator + urllib.parse.urlencode({"enterpriseToken": enterprise_token})
