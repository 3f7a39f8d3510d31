"""Every environment variable the suite reads, parsed once (documented in the README)."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

AUTH_MODES = ("local", "cloud-run-iam", "google-id-token")


class ConfigError(RuntimeError):
    """An environment variable is missing or malformed."""


@dataclass(frozen=True)
class Settings:
    """The parsed configuration of one function instance."""

    project: str
    enterprise: str
    pubsub_topic: str
    amapi_endpoint: str
    amapi_retry_budget_seconds: float
    amapi_retry_base_seconds: float
    amapi_retry_max_seconds: float
    amapi_timeout_seconds: float
    auth_mode: str
    auth_audience: str
    local_auth_public_key_file: str
    page_token_secret: str
    firestore_database: str
    firestore_retry_budget_seconds: float
    firestore_emulator_host: str
    log_level: str
    scheduler_principals: frozenset[str] = frozenset()
    rollout_inline_limit: int = 25
    rollout_batch_size: int = 100
    rollout_slice_seconds: float = 60.0
    rollout_topic: str = ""
    pubsub_emulator_host: str = ""
    # The project's AMAPI call budget shared by every function (0 calls: no budget at all).
    amapi_budget_calls: int = 900
    amapi_budget_window_seconds: float = 100.0
    amapi_budget_reserve_percent: float = 30.0

    @property
    def emulated(self) -> bool:
        """True when the suite runs against the local emulators, never in production."""
        return bool(self.firestore_emulator_host) and self.auth_mode == "local"

    @property
    def enterprise_id(self) -> str:
        """The enterprise id without the `enterprises/` prefix."""
        return self.enterprise.removeprefix("enterprises/")


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc
    if value < 0:
        raise ConfigError(f"{name} must not be negative, got {raw!r}")
    return value


def _emails(raw: str) -> frozenset[str]:
    return frozenset(e.strip().lower() for e in raw.split(",") if e.strip())


def _enterprise(raw: str) -> str:
    if raw and not raw.startswith("enterprises/"):
        return f"enterprises/{raw}"
    return raw


@functools.cache
def settings() -> Settings:
    """Read the environment once per process; call `settings.cache_clear()` in tests only."""
    env = os.environ
    auth_mode = env.get("AUTH_MODE", "google-id-token")
    if auth_mode not in AUTH_MODES:
        raise ConfigError(f"AUTH_MODE must be one of {', '.join(AUTH_MODES)}, got {auth_mode!r}")
    project = env.get("GOOGLE_CLOUD_PROJECT") or env.get("GCP_PROJECT") or ""
    return Settings(
        project=project,
        enterprise=_enterprise(env.get("AMAPI_ENTERPRISE", "")),
        pubsub_topic=env.get("PUBSUB_TOPIC", ""),
        amapi_endpoint=env.get("AMAPI_ENDPOINT", ""),
        amapi_retry_budget_seconds=_float("AMAPI_RETRY_BUDGET_SECONDS", 20.0),
        amapi_retry_base_seconds=_float("AMAPI_RETRY_BASE_SECONDS", 0.5),
        amapi_retry_max_seconds=_float("AMAPI_RETRY_MAX_SECONDS", 8.0),
        amapi_timeout_seconds=_float("AMAPI_TIMEOUT_SECONDS", 15.0),
        auth_mode=auth_mode,
        auth_audience=env.get("AUTH_AUDIENCE", ""),
        local_auth_public_key_file=env.get("LOCAL_AUTH_PUBLIC_KEY_FILE", ""),
        page_token_secret=env.get("PAGE_TOKEN_SECRET", ""),
        firestore_database=env.get("FIRESTORE_DATABASE", "(default)"),
        firestore_retry_budget_seconds=_float("FIRESTORE_RETRY_BUDGET_SECONDS", 15.0),
        firestore_emulator_host=env.get("FIRESTORE_EMULATOR_HOST", ""),
        log_level=env.get("LOG_LEVEL", "INFO").upper(),
        # Unset means nobody may run the scheduled targets: they fail closed.
        scheduler_principals=_emails(env.get("SCHEDULER_PRINCIPALS", "")),
        # Plans above this many AMAPI calls run as rollouts, in batches of the background lane's
        # share of one budget slice (63 calls by default), at most ROLLOUT_BATCH_SIZE.
        rollout_inline_limit=int(_float("ROLLOUT_INLINE_LIMIT", 25)),
        rollout_batch_size=max(1, int(_float("ROLLOUT_BATCH_SIZE", 100))),
        rollout_slice_seconds=_float("ROLLOUT_SLICE_SECONDS", 60.0),
        rollout_topic=env.get("ROLLOUT_TOPIC", ""),
        pubsub_emulator_host=env.get("PUBSUB_EMULATOR_HOST", ""),
        amapi_budget_calls=_budget_calls(),
        amapi_budget_window_seconds=_budget_number("AMAPI_BUDGET_WINDOW_SECONDS", 100.0, 0.0),
        amapi_budget_reserve_percent=_budget_number("AMAPI_BUDGET_RESERVE_PERCENT", 30.0, 100.0),
    )


def _budget_calls() -> int:
    # Budget slices are a tenth of the window each: below 10 calls a slice could hold none.
    value = _float("AMAPI_BUDGET_CALLS", 900.0)
    if not value.is_integer() or 0 < value < 10:
        raise ConfigError(f"AMAPI_BUDGET_CALLS must be 0 (no budget) or a whole number of at "
                          f"least 10, got {os.environ.get('AMAPI_BUDGET_CALLS')!r}")
    return int(value)


def _budget_number(name: str, default: float, bound: float) -> float:
    # `bound` 0: the value must be above 0; otherwise at most `bound`.
    value = _float(name, default)
    if (bound == 0 and value == 0) or (bound and value > bound):
        limit = "above 0" if bound == 0 else f"at most {bound:g}"
        raise ConfigError(f"{name} must be {limit}, got {os.environ.get(name)!r}")
    return value
