#!/usr/bin/env bash
# PyQt6's wheels bundle Qt but need a few system libraries even offscreen (EGL/GL,
# fontconfig, xkbcommon, dbus). Install them with apt when they are missing and we may.
set -euo pipefail
need=()
for lib in libEGL.so.1 libGL.so.1 libfontconfig.so.1 libxkbcommon.so.0 libdbus-1.so.3 libglib-2.0.so.0; do
  ldconfig -p 2>/dev/null | grep -q "$lib" || need+=("$lib")
done
[ ${#need[@]} -eq 0 ] && exit 0
echo "missing system libraries for Qt: ${need[*]}" >&2
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq libegl1 libgl1 libfontconfig1 libxkbcommon0 libxkbcommon-x11-0 libdbus-1-3 libglib2.0-0 >/dev/null
else
  echo "install them with your package manager (Debian/Ubuntu: libegl1 libgl1 libfontconfig1 libxkbcommon0 libdbus-1-3 libglib2.0-0)" >&2
fi
