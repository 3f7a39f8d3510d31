"""Shared steps of the enroll function's tests."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import numpy
import png
import zxingcpp


def emulator_call(server: Any, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """Call the AMAPI emulator (AMAPI or control API) and return (status, JSON)."""
    request = urllib.request.Request(f"{server.url}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read()
            return response.status, json.loads(text) if text else {}
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def enroll_device(server: Any, token_value: str, serial: str = "SN-0001") -> tuple[int, Any]:
    """What a kiosk does when it scans the QR code: enroll with the token."""
    return emulator_call(server, "POST", "/emulator/v1/enroll", {
        "enrollmentToken": token_value, "apiLevel": 34,
        "hardwareInfo": {"serialNumber": serial, "manufacturer": "Zebra", "brand": "Zebra",
                         "model": "TC58"},
        "softwareInfo": {"androidVersion": "14", "securityPatchLevel": "2026-10-01"}})


def decode_qr_png(data: bytes) -> bytes:
    """Decode a QR code PNG back to its bytes, as a phone scanner would."""
    width, height, rows, info = png.Reader(bytes=data).asDirect()
    pixels = numpy.array([list(row) for row in rows], dtype=numpy.uint16)
    if info["bitdepth"] < 8:
        pixels = pixels * (255 // (2 ** info["bitdepth"] - 1))
    if info["planes"] > 1:
        pixels = pixels.reshape(height, width, info["planes"])[:, :, 0]
    results = zxingcpp.read_barcodes(pixels.astype(numpy.uint8))
    assert len(results) == 1, "expected exactly one QR code"
    return bytes(results[0].bytes)


class EnrollApi:
    """The enroll function through functions-framework's test client."""

    def __init__(self, app: Any, headers: dict[str, str]) -> None:
        self.client = app.test_client()
        self.headers = headers

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> Any:
        """One request; `headers` are added to the admin's Authorization."""
        return self.client.open(path, method=method, json=body,
                                headers={**self.headers, **headers})

    def user(self, user_name: str = "kiosk-operator", **fields: Any) -> Any:
        """Create a device user."""
        return self.call("POST", "/users", {"userName": user_name, **fields})

    def attribute(self, name: str, **fields: Any) -> Any:
        """Define a device attribute."""
        return self.call("POST", "/device-attributes", {"name": name, **fields})

    def profile(self, name: str = "Lobby kiosks", validity: Any = 30, **fields: Any) -> Any:
        """Create an enrollment profile."""
        body = {"name": name, "userName": "kiosk-operator", "validityDays": validity, **fields}
        return self.call("POST", "/enrollment-profiles", body)
