"""Help → About: the version, the database in use and the versions of what it runs on.

The dialog's layout is the Designer form `ui/about_dialog.ui`, compiled into
`seg_desktop.gui.forms`; this module only fills it in.
"""

from __future__ import annotations

import platform

import PySide6
from PySide6.QtCore import QSize, Qt, qVersion
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QDialog, QWidget

from seg_desktop import __version__
from seg_desktop.gui.forms.ui_about_dialog import Ui_AboutDialog
from seg_desktop.store.office import Office

ICON_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICON_SIZE = 64  # the icon's size in the About dialog, in device-independent pixels
# Server backends by URL scheme as SQLAlchemy names them; anything else is shown as named.
BACKENDS = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}


def app_icon() -> QIcon:
    """The application icon from the compiled resources: a PNG per size, the SVG above them."""
    icon = QIcon()
    for size in ICON_SIZES:
        icon.addFile(f":/icons/seg-desktop-{size}.png", QSize(size, size))
    icon.addFile(":/icons/seg-desktop.svg")
    return icon


def describe_database(database: str) -> str:
    """The database as the About box shows it: its kind, then on a line of its own
    the path or the server URL.

    `database` is what the office reports as its target: a SQLite file's path, or
    a server URL with the password already hidden.
    """
    scheme, separator, _rest = database.partition("://")
    if not separator:
        return f"SQLite file\n{database}"
    backend = scheme.split("+", 1)[0]
    return f"{BACKENDS.get(backend, backend)} server\n{database}"


def versions_text() -> str:
    """The versions of Qt, PySide6, SQLAlchemy and Python this process runs on, a line each."""
    return "\n".join(
        (
            f"Qt {qVersion()}",
            f"PySide6 {PySide6.__version__}",
            f"SQLAlchemy {Office.sqlalchemy_version()}",
            f"Python {platform.python_version()}",
        )
    )


class AboutDialog(QDialog):
    """The About box: icon, version, database in use, and the versions it runs on."""

    def __init__(self, database: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ui = Ui_AboutDialog()
        self.ui.setupUi(self)
        icon = app_icon()
        self.setWindowIcon(icon)
        # the form's pixmap is the 64 px PNG; a HiDPI screen gets the larger one
        self.ui.icon_label.setPixmap(
            icon.pixmap(QSize(ICON_SIZE, ICON_SIZE), self.devicePixelRatioF())
        )
        self.ui.version_label.setText(f"Version {__version__}")
        self.ui.database_label.setText(describe_database(database))
        self.ui.versions_label.setText(versions_text())


def show_about(parent: QWidget, database: str) -> None:
    """Show the About box over `parent` and wait until it is closed."""
    dialog = AboutDialog(database, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.exec()
