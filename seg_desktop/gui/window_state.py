"""Remember where the user left windows, splitters and table columns.

Window state is kept apart from preferences (as Picard does): it is not something the
user chose in a dialog, it can be thrown away at any time ("Reset layout"), and a
change of layout between versions simply discards it. Everything is stored through a
``QSettings`` passed in (tests use an INI file in ``tmp_path``), under
``<group>/<objectName>/<kind>`` keys.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QPoint, QRect, QSettings, QSize, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QMainWindow,
    QSplitter,
    QTableView,
    QTreeView,
    QWidget,
)

__all__ = ["WindowStateStore", "fit_to_screen"]

TITLE_BAR_ALLOWANCE = 40
"""Room left above a window for the window manager's title bar (unknown before it shows)."""

_GEOMETRY = "geometry"
_MAIN_WINDOW_STATE = "window_state"
_SPLITTER = "splitter"
_HEADER = "header"
# The leading underscore keeps it apart from widget names (snake_case words by convention).
_VERSION_KEY = "_layout_version"


class WindowStateStore:
    """Saves and restores window geometry, splitter sizes and header (column) states.

    Keys are namespaced by each widget's ``objectName``, which must therefore be set,
    free of "/" and unique among the widgets saved. A header without a name of its own
    is keyed by its view's name and orientation (``clients_table.horizontal_header``).

    ``version`` is the layout version: bump it when a window's docks, splitters or
    columns change enough that an old saved state would restore nonsense; saved state of
    another version is then ignored (and overwritten on the next save).
    """

    def __init__(self, settings: QSettings, *, group: str = "window_state", version: int = 1):
        self._settings = settings
        self._group = group.strip("/")
        self._version = version

    # -- one widget at a time ------------------------------------------------------------

    def save_window(self, window: QWidget) -> None:
        """Save a top-level window's geometry (and a ``QMainWindow``'s docks/toolbars)."""
        name = _name_of(window)
        self._put(name, _GEOMETRY, window.saveGeometry())
        if isinstance(window, QMainWindow):
            self._put(name, _MAIN_WINDOW_STATE, window.saveState(self._version))

    def restore_window(self, window: QWidget) -> bool:
        """Restore what :meth:`save_window` saved; False if nothing (valid) was saved.

        Call before the window is shown. Qt moves a window saved on a screen that is
        gone back onto a visible one.
        """
        name = _name_of(window)
        geometry = self._get(name, _GEOMETRY)
        restored = geometry is not None and window.restoreGeometry(geometry)
        if isinstance(window, QMainWindow):
            state = self._get(name, _MAIN_WINDOW_STATE)
            restored = state is not None and window.restoreState(state, self._version) and restored
        return restored

    def save_splitter(self, splitter: QSplitter) -> None:
        """Save a splitter's sizes."""
        self._put(_name_of(splitter), _SPLITTER, splitter.saveState())

    def restore_splitter(self, splitter: QSplitter) -> bool:
        """Restore a splitter's sizes; False if nothing (valid) was saved."""
        state = self._get(_name_of(splitter), _SPLITTER)
        return state is not None and splitter.restoreState(state)

    def save_header(self, header: QHeaderView) -> None:
        """Save a header's column widths, order, hidden columns and sort indicator."""
        self._put(_header_name(header), _HEADER, header.saveState())

    def restore_header(self, header: QHeaderView) -> bool:
        """Restore a header; False if nothing (valid) was saved.

        May be called before the view's model is set: Qt applies the state when the
        columns appear.
        """
        state = self._get(_header_name(header), _HEADER)
        return state is not None and header.restoreState(state)

    # -- a whole window ------------------------------------------------------------------

    def save_all(self, root: QWidget) -> None:
        """Save ``root`` and every named splitter and item view's column header inside it.

        Unnamed splitters and views are skipped: a name is what opts a widget in.
        Raises ``ValueError`` if two of them would share a key.
        """
        for kind, _name, widget in self._members(root):
            if kind == _GEOMETRY:
                self.save_window(widget)
            elif isinstance(widget, QSplitter):
                self.save_splitter(widget)
            elif isinstance(widget, QHeaderView):
                self.save_header(widget)
        self._settings.sync()

    def restore_all(self, root: QWidget) -> int:
        """Restore what :meth:`save_all` saved; return how many states were restored.

        Restores nothing when the saved state is of another layout ``version``.
        """
        restored = 0
        for kind, _name, widget in self._members(root):
            if kind == _GEOMETRY:
                restored += self.restore_window(widget)
            elif isinstance(widget, QSplitter):
                restored += self.restore_splitter(widget)
            elif isinstance(widget, QHeaderView):
                restored += self.restore_header(widget)
        return restored

    def clear(self) -> None:
        """Forget every saved state (for a "Reset layout" action)."""
        self._settings.remove(self._group)
        self._settings.sync()

    # -- internals -----------------------------------------------------------------------

    def _members(self, root: QWidget) -> list[tuple[str, str, QWidget]]:
        """Return (kind, name, widget) for root and its named splitters and headers."""
        found: list[tuple[str, str, QWidget]] = [(_GEOMETRY, _name_of(root), root)]
        # Only what this window shows: a dialog parented to it is a window of its own
        # (two import dialogs hold views of the same names), and saves its own state.
        for splitter in root.findChildren(QSplitter):
            if splitter.objectName() and splitter.window() is root.window():
                found.append((_SPLITTER, _name_of(splitter), splitter))
        for view in root.findChildren(QAbstractItemView):
            if view.window() is not root.window():
                continue
            for header in _headers_of(view):
                if header.objectName() or view.objectName():
                    found.append((_HEADER, _header_name(header), header))
        seen: dict[tuple[str, str], QWidget] = {}
        for kind, name, widget in found:
            if (kind, name) in seen and seen[(kind, name)] is not widget:
                raise ValueError(f"two widgets are saved as {name!r}; give them unique names")
            seen[(kind, name)] = widget
        return found

    def _saved_version(self) -> int | None:
        value = self._settings.value(self._key(_VERSION_KEY))
        try:
            return int(str(value)) if value is not None else None
        except ValueError:
            return None

    def _key(self, *parts: str) -> str:
        return "/".join((self._group, *parts))

    def _put(self, name: str, kind: str, state: QByteArray) -> None:
        if self._saved_version() != self._version:
            # Drop the other version's states first, or saving one splitter would make
            # every stale entry beside it look current.
            self._settings.remove(self._group)
            self._settings.setValue(self._key(_VERSION_KEY), self._version)
        self._settings.setValue(self._key(name, kind), state)

    def _get(self, name: str, kind: str) -> QByteArray | None:
        if self._saved_version() != self._version:
            return None
        value = self._settings.value(self._key(name, kind))
        # A hand-edited or foreign settings file may hold anything here; only bytes are a
        # saved state.
        if isinstance(value, QByteArray) and not value.isEmpty():
            return value
        if isinstance(value, bytes) and value:
            return QByteArray(value)
        return None


def _name_of(widget: QWidget) -> str:
    name = widget.objectName()
    if not name:
        raise ValueError(f"{type(widget).__name__} needs an objectName to save its state")
    if "/" in name:
        raise ValueError(f"objectName {name!r} contains '/', which QSettings reads as a group")
    return name


def _header_name(header: QHeaderView) -> str:
    if header.objectName():
        return _name_of(header)
    view = header.parentWidget()
    if view is None or not view.objectName():
        raise ValueError("a header needs an objectName, or a view with one, to save its state")
    orientation = "horizontal" if header.orientation() == Qt.Orientation.Horizontal else "vertical"
    return f"{_name_of(view)}.{orientation}_header"


def _headers_of(view: QAbstractItemView) -> list[QHeaderView]:
    # Only column headers: rows come and go with the data, so remembering their heights
    # would restore sizes for rows that are no longer the same (save_header still takes a
    # vertical header when one is worth it).
    if isinstance(view, QTreeView):
        return [view.header()]
    if isinstance(view, QTableView):
        return [view.horizontalHeader()]
    return []


def fit_to_screen(window: QWidget, available: QRect, preferred: QSize) -> None:
    """Size and place a window so all of it, title bar included, is on the screen.

    ``available`` is the screen's area free of panels (``QScreen.availableGeometry``).
    A window with no saved place gets ``preferred`` (or less, to fit), centred; a
    restored one that no longer fits (a smaller screen, a lower resolution, a larger
    scale) is shrunk and moved back inside. The minimum size gives way too, so a
    small screen never pushes the status bar or the right edge off-screen.
    """
    room = QSize(available.width(), max(1, available.height() - TITLE_BAR_ALLOWANCE))
    minimum = window.minimumSize()
    window.setMinimumSize(minimum.boundedTo(room))
    current = window.geometry()
    restored = current.isValid() and window.testAttribute(Qt.WidgetAttribute.WA_Moved)
    size = (current.size() if restored else preferred).boundedTo(room)
    if restored:
        left = min(max(current.left(), available.left()), available.right() - size.width() + 1)
        top = min(
            max(current.top(), available.top() + TITLE_BAR_ALLOWANCE),
            available.bottom() - size.height() + 1,
        )
        position = QPoint(left, top)
    else:
        position = QPoint(
            available.left() + (available.width() - size.width()) // 2,
            available.top() + TITLE_BAR_ALLOWANCE + (room.height() - size.height()) // 2,
        )
    window.setGeometry(QRect(position, size))
