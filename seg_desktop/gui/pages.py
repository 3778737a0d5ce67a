"""Small layout pieces the views share."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QPushButton, QVBoxLayout, QWidget

__all__ = ["table_page"]


def table_page(table: QWidget, *buttons: QPushButton, margin: int | None = None) -> QWidget:
    """A page for a tab: the table, and its buttons in a row at the bottom right."""
    page = QWidget()
    layout = QVBoxLayout(page)
    if margin is not None:
        layout.setContentsMargins(margin, margin, margin, margin)
    layout.addWidget(table, 1)
    row = QHBoxLayout()
    row.addStretch(1)
    for button in buttons:
        row.addWidget(button)
    layout.addLayout(row)
    return page
