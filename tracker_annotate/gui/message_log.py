"""The status bar's recent messages, kept so a message that vanished can be read again.

Status messages disappear after a few seconds; :class:`MessageLog` records every one the
status bar shows (with the time), keeps the last :data:`KEEP`, and
:class:`MessagesDialog` (Help › Recent messages) lists them, newest first.
"""

from __future__ import annotations

import time
from collections import deque

from PyQt6.QtWidgets import QDialog, QDialogButtonBox, QPlainTextEdit, QVBoxLayout, QWidget

#: Messages kept (the oldest go first).
KEEP = 50


class MessageLog:
    """The last :data:`KEEP` status messages as ``(HH:MM:SS, text)``."""

    def __init__(self, keep: int = KEEP) -> None:
        self._items: deque[tuple[str, str]] = deque(maxlen=keep)

    def add(self, text: str) -> None:
        """Record ``text`` (an empty one is the bar clearing itself; a repeat is skipped)."""
        if not text or (self._items and self._items[-1][1] == text):
            return
        self._items.append((time.strftime("%H:%M:%S"), text))

    def items(self) -> list[tuple[str, str]]:
        """Newest first."""
        return list(reversed(self._items))


class MessagesDialog(QDialog):
    def __init__(self, log: MessageLog, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Recent messages")
        self.resize(640, 360)
        self.text = QPlainTextEdit(self)
        self.text.setReadOnly(True)
        lines = [f"{t}  {m}" for t, m in log.items()]
        self.text.setPlainText("\n".join(lines) if lines else "No messages yet.")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
