"""In-memory emulator of the Android Management API v1, for the local stack and tests."""

from devstack.amapi_emulator.server import EmulatorApp, EmulatorServer
from devstack.amapi_emulator.validation import (
    SchemaValidationError,
    validate,
    validate_or_raise,
)

__all__ = [
    "EmulatorApp",
    "EmulatorServer",
    "SchemaValidationError",
    "validate",
    "validate_or_raise",
]
