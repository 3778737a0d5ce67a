"""Help → About: the version, the database in use and the versions of what it runs on."""

from __future__ import annotations

import platform

import PySide6
import sqlalchemy
from PySide6.QtCore import qVersion
from PySide6.QtWidgets import QMessageBox, QWidget

from seg_desktop import __version__


def about_text(database: str) -> str:
    """The About box's text (HTML)."""
    return (
        f"<h3>seg-desktop {__version__}</h3>"
        "<p>Segments an office's clients into revenue tiers and rule-based segments.</p>"
        f"<p><b>Database:</b> {database}</p>"
        f"<p>Qt {qVersion()} · PySide6 {PySide6.__version__} · SQLAlchemy {sqlalchemy.__version__}"
        f" · Python {platform.python_version()}</p>"
    )


def show_about(parent: QWidget, database: str) -> None:
    """Show the About box."""
    QMessageBox.about(parent, "About seg-desktop", about_text(database))
