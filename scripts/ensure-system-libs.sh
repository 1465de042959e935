#!/usr/bin/env bash
# PyQt6's wheels bundle Qt but not the system libraries it links to: EGL/GL, fontconfig,
# xkbcommon, dbus and glib even offscreen, and on a desktop the X11 (xcb) set its xcb
# platform plugin loads (without libxcb-cursor0 Qt aborts with a core dump). Install what
# is missing with apt when we may (root); otherwise list the packages and the command.
# The table is tracker_annotate/cli/gui_libs.py's QT_XCB_LIBRARIES (a test compares them);
# `tracker-annotate gui` checks the same libraries before it starts Qt.
set -euo pipefail
# soname                  Debian/Ubuntu package
libs='
libxcb-cursor.so.0        libxcb-cursor0
libxcb-icccm.so.4         libxcb-icccm4
libxcb-image.so.0         libxcb-image0
libxcb-keysyms.so.1       libxcb-keysyms1
libxcb-randr.so.0         libxcb-randr0
libxcb-render-util.so.0   libxcb-render-util0
libxcb-render.so.0        libxcb-render0
libxcb-shape.so.0         libxcb-shape0
libxcb-shm.so.0           libxcb-shm0
libxcb-sync.so.1          libxcb-sync1
libxcb-util.so.1          libxcb-util1
libxcb-xfixes.so.0        libxcb-xfixes0
libxcb-xkb.so.1           libxcb-xkb1
libxcb.so.1               libxcb1
libxkbcommon-x11.so.0     libxkbcommon-x11-0
libxkbcommon.so.0         libxkbcommon0
libX11-xcb.so.1           libx11-xcb1
libX11.so.6               libx11-6
libEGL.so.1               libegl1
libGL.so.1                libgl1
libfontconfig.so.1        libfontconfig1
libfreetype.so.6          libfreetype6
libdbus-1.so.3            libdbus-1-3
libglib-2.0.so.0          libglib2.0-0
libgthread-2.0.so.0       libglib2.0-0
'
ldconfig=$(command -v ldconfig || echo /sbin/ldconfig)
have=$("$ldconfig" -p 2>/dev/null | awk 'NR > 1 {print $1}' || true)
need=()
while read -r so pkg; do
  [ -n "$so" ] || continue
  grep -qxF "$so" <<<"$have" || need+=("$pkg")
done <<<"$libs"
[ ${#need[@]} -eq 0 ] && exit 0
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
echo "missing system libraries for Qt: ${need[*]}" >&2
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "install them with your package manager (Debian/Ubuntu: sudo apt-get install ${need[*]})" >&2
fi
