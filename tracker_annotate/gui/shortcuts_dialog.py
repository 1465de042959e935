"""The keyboard shortcuts sheet (F1 or ?), generated from the action table."""

from __future__ import annotations

from PyQt6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from tracker_annotate.gui.actions import DRAW_HELP, LABEL_KEYS_HELP, SPECS


def rows() -> list[tuple[str, str, str]]:
    """``(keys, command, note)`` for every shortcut, in menu order."""
    out = [
        (
            " / ".join(s.keys) if s.keys else ("Space" if s.name == "play" else ""),
            s.text.replace("&", ""),
            s.help,
        )
        for s in SPECS
        if s.keys or s.name == "play"
    ]
    out.append((LABEL_KEYS_HELP[0], "Set label", LABEL_KEYS_HELP[1]))
    out.extend((k, "Mouse", note) for k, note in DRAW_HELP)
    return out


class ShortcutsDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(720, 640)
        data = rows()
        table = QTableWidget(len(data), 3, self)
        table.setHorizontalHeaderLabels(["Keys", "Command", "Notes"])
        for r, row in enumerate(data):
            for c, text in enumerate(row):
                table.setItem(r, c, QTableWidgetItem(text))
        header = table.horizontalHeader()
        if header is not None:
            header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
            header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
            header.setStretchLastSection(True)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table = table
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(table)
        lay.addWidget(buttons)
