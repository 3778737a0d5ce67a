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
PNG_SIZES = (16, 32, 48, 64, 128, 256, 512)
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


def icon_files(svg: Path) -> dict[str, bytes]:
    """Every icon file rendered from the SVG, by file name (the folder is the SVG's)."""
    wanted = set(PNG_SIZES) | set(ICO_SIZES) | {size for _kind, size in ICNS_ENTRIES}
    pngs = {size: render_png(svg, size) for size in sorted(wanted)}
    files = {f"{ICON_NAME}-{size}.png": pngs[size] for size in PNG_SIZES}
    files[f"{ICON_NAME}.ico"] = ico({size: pngs[size] for size in ICO_SIZES})
    files[f"{ICON_NAME}.icns"] = icns(pngs)
    return files
