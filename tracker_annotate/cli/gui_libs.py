"""Before Qt starts on X11: can the shared libraries its xcb platform plugin needs load?

PyQt6's wheels bundle Qt, not the X11 libraries its ``xcb`` platform plugin links to. When
one is missing (``libxcb-cursor0`` on a fresh Debian desktop), Qt prints "xcb-cursor0 or
libxcb-cursor0 is needed to load the Qt xcb platform plugin" and aborts with a core dump.
:func:`check_xcb_libraries` asks the dynamic loader for each library first, without
importing Qt, and raises one :class:`TrackerAnnotateError` naming the Debian packages to
install, which the CLI prints as one line with exit code 2.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable, Mapping

from tracker_annotate.core.errors import TrackerAnnotateError

#: The system libraries (soname -> Debian/Ubuntu package) that PyQt6's
#: ``Qt6/plugins/platforms/libqxcb.so`` and the Qt libraries it loads name as ``NEEDED``,
#: beyond the C runtime every system has (libc, libstdc++, zlib, zstd). Taken from the
#: wheel with ``readelf -d``; ``tests/cli/test_gui_libs.py`` checks it against the installed
#: wheel and against ``scripts/ensure-system-libs.sh``, which installs the same packages.
#: Qt 6 no longer links ``libxcb-xinerama0``.
QT_XCB_LIBRARIES: Mapping[str, str] = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb.so.1": "libxcb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
}

#: ``loadable(soname)``: whether the dynamic loader finds and loads the library.
Loadable = Callable[[str], bool]


def can_load(soname: str) -> bool:
    """Whether ``soname`` loads as Qt would load it (the loader's own search: the
    ``ld.so`` cache, ``LD_LIBRARY_PATH``); a library whose own dependencies are missing
    does not load either."""
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def will_use_xcb(environ: Mapping[str, str], platform: str = sys.platform) -> bool:
    """Whether Qt will pick its X11 (``xcb``) platform plugin: on Linux, with
    ``QT_QPA_PLATFORM`` unset (or naming xcb first) and a ``DISPLAY`` to connect to. A
    Wayland session, offscreen and the other plugins load none of these libraries, nor
    does Qt on macOS (an XQuartz ``DISPLAY`` notwithstanding) or Windows."""
    if not platform.startswith("linux") or not environ.get("DISPLAY"):
        return False
    platform = environ.get("QT_QPA_PLATFORM", "").strip()
    if platform:
        return platform.split(";")[0].split(":")[0].strip() == "xcb"
    # Qt 6 prefers its Wayland plugin in a Wayland session, even with XWayland's DISPLAY
    wayland = environ.get("WAYLAND_DISPLAY") and environ.get("XDG_SESSION_TYPE") == "wayland"
    return not wayland


def missing_xcb_libraries(loadable: Loadable = can_load) -> dict[str, str]:
    """The libraries of :data:`QT_XCB_LIBRARIES` that do not load, soname -> package."""
    return {so: pkg for so, pkg in QT_XCB_LIBRARIES.items() if not loadable(so)}


def check_xcb_libraries(
    environ: Mapping[str, str], loadable: Loadable = can_load, platform: str = sys.platform
) -> None:
    """Raise :class:`TrackerAnnotateError` (one line: the missing libraries, their
    packages and the apt command) when Qt will use xcb and a library it needs is missing;
    return quietly otherwise, or when another platform plugin will be used."""
    if not will_use_xcb(environ, platform):
        return
    missing = missing_xcb_libraries(loadable)
    if not missing:
        return
    packages = " ".join(dict.fromkeys(sorted(missing.values())))
    raise TrackerAnnotateError(
        f"Qt's X11 platform plugin needs system libraries that are missing "
        f"({', '.join(missing)}): install them with "
        f"`sudo apt-get install {packages}` (Debian/Ubuntu)"
    )
