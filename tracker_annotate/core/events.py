"""A minimal observer mechanism, so the model can announce changes without knowing Qt."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


class Signal(Generic[T]):
    """A list of callbacks called in connection order with one value.

    A failing observer is logged and re-raised after the others ran, so one broken view
    cannot stop the store from persisting a change.
    """

    def __init__(self) -> None:
        self._slots: list[Callable[[T], None]] = []

    def connect(self, slot: Callable[[T], None]) -> None:
        if slot not in self._slots:
            self._slots.append(slot)

    def disconnect(self, slot: Callable[[T], None]) -> None:
        if slot in self._slots:
            self._slots.remove(slot)

    def emit(self, value: T) -> None:
        first_error: BaseException | None = None
        for slot in list(self._slots):
            try:
                slot(value)
            except Exception as exc:  # re-raised below, after the others ran
                log.exception("observer %r failed", slot)
                if first_error is None:
                    first_error = exc
        if first_error is not None:
            raise first_error
