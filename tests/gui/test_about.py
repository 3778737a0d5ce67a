from __future__ import annotations

from pytestqt.qtbot import QtBot

from seg_desktop import __version__
from seg_desktop.gui.about import AboutDialog, describe_database


def test_about(qtbot: QtBot) -> None:
    d = AboutDialog("postgresql+psycopg://office:***@db.example.com/office")
    qtbot.addWidget(d)
    d.show()
    assert __version__ in d.ui.version_label.text()
    assert d.ui.database_label.text().startswith("PostgreSQL server\n")
    assert "SQLAlchemy" in d.ui.versions_label.text()
    assert not d.ui.icon_label.pixmap().isNull()
    assert not d.windowIcon().isNull()
    d.ui.button_box.accepted.emit()
    assert d.result() == 1
    assert describe_database("/x/o.db") == "SQLite file\n/x/o.db"
