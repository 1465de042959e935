"""Keys typed into a text field go to the field, not to the window's one-key shortcuts.

The window binds bare keys (Enter accepts a box, Delete deletes it, D and the arrows step
frames, T tracks, 1-9 relabel...). Qt lets a line edit claim the keys it edits with
(characters, Backspace, Delete, arrows), but not Enter: renaming a track in the table and
pressing Enter accepted the selected flagged box instead, and the new name was lost. While
a text input has the keyboard, this filter claims every key without Ctrl, Alt or Meta for
it, whatever the widget (Ctrl+Z and other chords still reach the window).
"""

from __future__ import annotations

from PyQt6.QtCore import QEvent, QObject, Qt
from PyQt6.QtGui import QKeyEvent
from PyQt6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

_CHORD = (
    Qt.KeyboardModifier.ControlModifier
    | Qt.KeyboardModifier.AltModifier
    | Qt.KeyboardModifier.MetaModifier
)


def is_text_input(widget: QWidget | None) -> bool:
    """Whether ``widget`` takes typed text (a cell editor is a line edit too)."""
    if isinstance(widget, QComboBox):
        return widget.isEditable()
    return isinstance(widget, (QLineEdit, QAbstractSpinBox, QTextEdit, QPlainTextEdit))


class TypingGuard(QObject):
    """Install on the application: ``app.installEventFilter(TypingGuard(window))``."""

    def eventFilter(self, obj: QObject | None, event: QEvent | None) -> bool:
        if event is None or event.type() != QEvent.Type.ShortcutOverride:
            return False
        if not isinstance(event, QKeyEvent) or event.modifiers() & _CHORD:
            return False
        if is_text_input(QApplication.focusWidget()):
            event.accept()  # the key is delivered to the field; no shortcut fires
            return True
        return False
