"""QR codes drawn with text, two modules per character cell, so a phone scans them off a
terminal."""

from __future__ import annotations

QUIET_ZONE = 4  # modules of light border a scanner needs around the code
# (top module dark, bottom module dark) -> the character; dark is drawn as a full cell.
CELLS = {(False, False): " ", (True, False): "▀", (False, True): "▄", (True, True): "█"}
# Light modules are printed as ink on a dark terminal too: the drawing is inverted by default,
# dark modules as spaces, so that light text on a dark background scans.


def matrix(text: str) -> list[list[bool]]:
    """The modules of the QR code of `text`, quiet zone included (True: dark)."""
    import qrcode

    code = qrcode.QRCode(border=QUIET_ZONE, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(text)
    code.make(fit=True)
    return [list(row) for row in code.get_matrix()]


def draw(modules: list[list[bool]], invert: bool = True) -> str:
    """The modules as half-block characters; `invert` draws the light modules (for a light
    text on dark background terminal)."""
    padded = modules + ([[False] * len(modules[0])] if len(modules) % 2 else [])
    rows = [[module != invert for module in row] for row in padded]
    lines = []
    for top, bottom in zip(rows[::2], rows[1::2], strict=True):
        lines.append("".join(CELLS[(a, b)] for a, b in zip(top, bottom, strict=True)))
    return "\n".join(lines)


def read(drawing: str, invert: bool = True) -> list[list[bool]]:
    """The modules a drawing shows (the inverse of `draw`)."""
    reverse = {char: pair for pair, char in CELLS.items()}
    rows: list[list[bool]] = []
    for line in drawing.splitlines():
        pairs = [reverse[char] for char in line]
        rows.append([top != invert for top, _ in pairs])
        rows.append([bottom != invert for _, bottom in pairs])
    return rows
