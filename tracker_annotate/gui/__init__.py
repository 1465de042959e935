"""The desktop app (PyQt6): thin views over the model (``core``) and the use cases (``app``).

Widgets observe the project and session through :mod:`.bind` and send commands; the
:mod:`.controller` turns gestures into core commands and app jobs; long work runs in a
worker thread. The only package that imports Qt (``pip install 'tracker_annotate[gui]'``)."""
