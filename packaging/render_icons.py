"""The application icon in every size and format the platforms want, from one SVG.

`resources/icons/seg-desktop.svg` is the source. Qt itself (QSvgRenderer into a
QImage) renders the PNGs; the Windows `.ico` and macOS `.icns` are plain
containers of those PNGs, written here byte by byte, so no imaging library is
needed to build on any platform. Used by `compile_forms.py`, which writes the
files or checks that the committed ones are current.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

ICON_NAME = "seg-desktop"
# Every size the .ico and .icns need is committed as a PNG, so those two are made from
# committed bytes alone (24 px for Windows, 1024 px for macOS's 512@2x).
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512, 1024)
# Qt's raster engine may round a gradient differently on another CPU (SSE2/AVX2 paths):
# renderings that differ by no more than this per channel (of 255) are the same icon.
PIXEL_TOLERANCE = 3
# Windows picks from these; PNG entries in an .ico are read since Windows Vista.
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# (OSType, pixel size) of an .icns; the @2x types hold twice the nominal size.
ICNS_ENTRIES = (
    ("icp4", 16),
    ("icp5", 32),
    ("ic11", 32),  # 16@2x
    ("icp6", 64),
    ("ic12", 64),  # 32@2x
    ("ic07", 128),
    ("ic13", 256),  # 128@2x
    ("ic08", 256),
    ("ic14", 512),  # 256@2x
    ("ic09", 512),
    ("ic10", 1024),  # 512@2x
)


def render_png(svg: Path, size: int) -> bytes:
    """The SVG drawn into a transparent size × size image, as PNG bytes."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QGuiApplication, QImage, QImageWriter, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg} is not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(0)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QImageWriter(buffer, QByteArray(b"png"))
    if not writer.write(image.convertToFormat(QImage.Format.Format_ARGB32)):
        raise RuntimeError(f"could not encode the {size} px icon: {writer.errorString()}")
    buffer.close()
    return bytes(data.data())


def ico(pngs: dict[int, bytes]) -> bytes:
    """A Windows .ico holding one PNG entry per size."""
    sizes = sorted(pngs)
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = len(header) + 16 * len(sizes)
    directory, images = b"", b""
    for size in sizes:
        data = pngs[size]
        side = 0 if size >= 256 else size  # 0 means 256 in an .ico directory
        directory += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(data), offset)
        images += data
        offset += len(data)
    return header + directory + images


def icns(pngs: dict[int, bytes]) -> bytes:
    """A macOS .icns holding PNG entries for the standard and @2x sizes."""
    body = b"".join(
        kind.encode("ascii") + struct.pack(">I", 8 + len(pngs[size])) + pngs[size]
        for kind, size in ICNS_ENTRIES
    )
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def same_pixels(first: bytes, second: bytes, tolerance: int = PIXEL_TOLERANCE) -> bool:
    """Whether two PNGs show the same picture, each channel of each pixel within
    `tolerance` (out of 255)."""
    import numpy as np
    from PySide6.QtGui import QImage

    def pixels(data: bytes) -> np.ndarray | None:
        image = QImage.fromData(data)
        if image.isNull():
            return None
        image = image.convertToFormat(QImage.Format.Format_RGBA8888)
        buffer = np.frombuffer(image.constBits(), dtype=np.uint8)
        rows = buffer.reshape(image.height(), image.bytesPerLine())
        return rows[:, : image.width() * 4].astype(np.int16)

    a, b = pixels(first), pixels(second)
    if a is None or b is None or a.shape != b.shape:
        return False
    return bool(np.abs(a - b).max() <= tolerance)


def icon_files(svg: Path, committed: dict[int, bytes] | None = None) -> dict[str, bytes]:
    """Every icon file rendered from the SVG, by file name (the folder is the SVG's).

    `committed` holds the PNGs already in the repository by size: one that shows
    the same picture as the fresh rendering is kept byte for byte, so a machine
    whose CPU makes Qt round a gradient differently neither rewrites the icons
    nor fails the check. The .ico and .icns are made from the PNGs kept.
    """
    committed = committed or {}
    pngs: dict[int, bytes] = {}
    for size in PNG_SIZES:
        fresh = render_png(svg, size)
        old = committed.get(size)
        pngs[size] = old if old is not None and same_pixels(old, fresh) else fresh
    files = {f"{ICON_NAME}-{size}.png": pngs[size] for size in PNG_SIZES}
    files[f"{ICON_NAME}.ico"] = ico({size: pngs[size] for size in ICO_SIZES})
    files[f"{ICON_NAME}.icns"] = icns(pngs)
    return files
