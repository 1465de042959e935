"""How a view subscribes to the model: one :class:`Binding` holds a view's connections.

A view names, per model it shows, which of the model's signals
(:class:`~tracker_annotate.core.events.Signal`: ``Project.changed``,
``Session.frame_changed``, ...) go to which of its handlers. :meth:`Binding.rebind`
drops the old connections and makes the new ones; :meth:`Binding.unbind` drops them all.
A view bound to a second project therefore leaves no handler on the first, and a closed
project never calls into a view that shows another one.

The binding holds the signals weakly: a model that is already gone (closed and freed) is
simply skipped when unbinding. Qt-free on purpose, so it is tested without a display.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from typing import Any

from tracker_annotate.core.events import Signal

#: Signal name on a model -> the view's handler for it.
Handlers = Mapping[str, Callable[[Any], None]]


def _signal(model: object, name: str) -> Signal[Any]:
    signal = getattr(model, name, None)
    if not isinstance(signal, Signal):
        raise TypeError(f"{type(model).__name__} has no signal {name!r} to bind")
    return signal


class Binding:
    """The connections from one view to the signals of the models it shows."""

    def __init__(self) -> None:
        self._links: list[tuple[weakref.ref[Signal[Any]], Callable[[Any], None]]] = []

    def rebind(self, *links: tuple[object, Handlers]) -> None:
        """Disconnect everything, then connect each ``(model, handlers)`` pair.

        Every name is checked before anything is connected, so a misspelt signal leaves
        the view unbound rather than half bound.
        """
        self.unbind()
        wanted = [
            (_signal(model, name), handler)
            for model, handlers in links
            for name, handler in handlers.items()
        ]
        for signal, handler in wanted:
            signal.connect(handler)
            self._links.append((weakref.ref(signal), handler))

    def unbind(self) -> None:
        """Disconnect every handler; a model that is gone is skipped."""
        links, self._links = self._links, []
        for ref, handler in links:
            signal = ref()
            if signal is not None:
                signal.disconnect(handler)

    def __len__(self) -> int:
        """How many connections are live (their model still exists)."""
        return sum(1 for ref, _h in self._links if ref() is not None)
