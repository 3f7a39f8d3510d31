"""QR images of an enrollment token's provisioning JSON, decoding back to it byte for byte."""

from __future__ import annotations

import io


def _image(text: str, factory: type) -> bytes:
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M

    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=8, border=4,
                         image_factory=factory)
    # Bytes, so that the payload is encoded as UTF-8 exactly as AMAPI returned it.
    code.add_data(text.encode("utf-8"))
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image().save(buffer)
    return buffer.getvalue()


def png(text: str) -> bytes:
    """A PNG (pure Python, through pypng)."""
    from qrcode.image.pure import PyPNGImage

    return _image(text, PyPNGImage)


def svg(text: str) -> bytes:
    """An SVG with one path."""
    from qrcode.image.svg import SvgPathImage

    return _image(text, SvgPathImage)
