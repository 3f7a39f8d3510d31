"""Fault injection: AMAPI calls that fail at random with 429/5xx, as the real service can.

By default a failed call changed nothing. With `afterEffect` the call takes effect and only its
answer is lost, as when a 500 or a timeout comes back from a request AMAPI already acted on.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Any

from devstack.amapi_emulator import discovery, errors


@dataclass(frozen=True)
class FaultRule:
    """Fail matching calls with probability `probability`, with a code drawn from `codes`."""

    probability: float
    codes: tuple[int, ...]
    methods: frozenset[str] | None = None
    after_effect: bool = False

    def as_json(self) -> dict[str, Any]:
        """The rule as the control API shows it."""
        body: dict[str, Any] = {"probability": self.probability, "codes": list(self.codes)}
        if self.methods is not None:
            body["methods"] = sorted(self.methods)
        if self.after_effect:
            body["afterEffect"] = True
        return body


def parse_rule(body: Any) -> FaultRule:
    """A FaultRule from a control API body, or a 400 naming what is wrong."""
    if not isinstance(body, dict):
        raise errors.bad_request(
            "Expected a JSON object {probability, codes, methods?, afterEffect?}.")
    unknown = sorted(set(body) - {"probability", "codes", "methods", "afterEffect"})
    if unknown:
        raise errors.bad_request(f"Unknown field(s): {', '.join(unknown)}.")
    probability = body.get("probability")
    if isinstance(probability, bool) or not isinstance(probability, int | float) \
            or not 0 <= probability <= 1:
        raise errors.bad_request("probability must be a number between 0 and 1.")
    codes = body.get("codes")
    if not isinstance(codes, list) or not codes or not all(
            isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599
            for code in codes):
        raise errors.bad_request("codes must be a non-empty list of HTTP error codes (4xx/5xx).")
    after_effect = body.get("afterEffect", False)
    if not isinstance(after_effect, bool):
        raise errors.bad_request("afterEffect must be true or false.")
    methods = body.get("methods")
    if methods is None:
        return FaultRule(float(probability), tuple(codes), None, after_effect)
    known = discovery.method_by_short_id()
    if not isinstance(methods, list) or not all(isinstance(m, str) for m in methods):
        raise errors.bad_request("methods must be a list of method ids.")
    unknown_methods = sorted(m for m in methods if m not in known)
    if unknown_methods:
        raise errors.bad_request(
            f"Unknown method id(s): {', '.join(unknown_methods)} "
            "(use ids like enterprises.policies.patch).")
    return FaultRule(float(probability), tuple(codes), frozenset(methods), after_effect)


class FaultInjector:
    """Holds the active fault rule and decides, per call, whether it fails."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._lock = threading.Lock()
        self._rule: FaultRule | None = None
        self._rng = rng or random.Random()

    @property
    def rule(self) -> FaultRule | None:
        """The active rule, if any."""
        with self._lock:
            return self._rule

    def set(self, rule: FaultRule) -> None:
        """Replace the active rule."""
        with self._lock:
            self._rule = rule

    def clear(self) -> None:
        """No more faults."""
        with self._lock:
            self._rule = None

    def pick(self, method_id: str) -> tuple[int, bool] | None:
        """The HTTP code this call of `method_id` must fail with and whether it takes effect
        first, or None to serve it."""
        with self._lock:
            rule = self._rule
            if rule is None or (rule.methods is not None and method_id not in rule.methods):
                return None
            if self._rng.random() >= rule.probability:
                return None
            return self._rng.choice(rule.codes), rule.after_effect
