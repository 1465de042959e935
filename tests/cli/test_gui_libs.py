"""``gui`` on a desktop without Qt's X11 libraries: one line naming the packages, exit 2,
never Qt's abort; and ``scripts/ensure-system-libs.sh`` installing the same set."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tracker_annotate.cli.gui_libs import (
    QT_XCB_LIBRARIES,
    check_xcb_libraries,
    missing_xcb_libraries,
    will_use_xcb,
)
from tracker_annotate.core.errors import TrackerAnnotateError

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "ensure-system-libs.sh"
HIDDEN = "libxcb-cursor.so.0"  # the one a fresh Debian desktop lacks
X11 = {"DISPLAY": ":0"}


def _all_but(*hidden: str) -> Callable[[str], bool]:
    return lambda soname: soname not in hidden


@pytest.mark.parametrize(
    ("env", "xcb"),
    [
        ({"DISPLAY": ":0"}, True),  # a plain X11 desktop: Qt's default plugin
        ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}, True),  # asked for by name
        ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb;wayland"}, True),  # first choice is xcb
        ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, False),  # loads no X library
        ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "wayland"}, False),  # the Wayland plugin
        ({"QT_QPA_PLATFORM": "xcb"}, False),  # no display to connect to: another error
        ({}, False),  # no display at all (the display check says so)
        (  # a Wayland session with XWayland: Qt 6 picks Wayland
            {"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"},
            False,
        ),
        ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, True),  # not a Wayland session
    ],
)
def test_which_environments_use_the_xcb_plugin(env: dict[str, str], xcb: bool) -> None:
    assert will_use_xcb(env, "linux") is xcb


@pytest.mark.parametrize("platform", ["darwin", "win32"])
def test_qt_uses_no_xcb_outside_linux(platform: str) -> None:
    assert not will_use_xcb({"DISPLAY": ":0"}, platform)  # XQuartz sets DISPLAY on macOS


def test_a_hidden_library_is_one_line_naming_its_package_and_the_apt_command() -> None:
    with pytest.raises(TrackerAnnotateError) as err:
        check_xcb_libraries(X11, _all_but(HIDDEN, "libxcb-icccm.so.4"), "linux")
    msg = str(err.value)
    assert "\n" not in msg
    assert HIDDEN in msg and "libxcb-icccm.so.4" in msg
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4" in msg


def test_two_libraries_of_one_package_name_it_once() -> None:
    with pytest.raises(TrackerAnnotateError) as err:
        check_xcb_libraries(X11, _all_but("libglib-2.0.so.0", "libgthread-2.0.so.0"), "linux")
    assert str(err.value).count("libglib2.0-0") == 1


def test_nothing_missing_or_another_platform_passes() -> None:
    check_xcb_libraries(X11, _all_but(), "linux")
    asked: list[str] = []
    check_xcb_libraries(
        {"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, lambda so: bool(asked.append(so))
    )
    assert asked == []  # offscreen: not even looked up


def test_the_real_loader_finds_the_c_runtime_and_not_a_made_up_library() -> None:
    from tracker_annotate.cli.gui_libs import can_load

    assert can_load("libc.so.6")
    assert not can_load("libtracker-annotate-does-not-exist.so.0")
    assert missing_xcb_libraries(_all_but(HIDDEN)) == {HIDDEN: "libxcb-cursor0"}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Qt uses xcb on Linux")
def test_gui_command_with_a_hidden_library_prints_one_line_and_exits_2() -> None:
    """The real entry point in a fresh interpreter, with the dynamic loader refusing one
    library: exit 2, one stderr line, and Qt never imported (so it cannot abort)."""
    code = f"""
import ctypes, sys
real = ctypes.CDLL
def hiding(name, *a, **k):
    if name == {HIDDEN!r}:
        raise OSError(name + ": cannot open shared object file")
    return real(name, *a, **k)
ctypes.CDLL = hiding
from tracker_annotate.cli.main import main
rc = main(["gui"])
print("qt-loaded" if "PyQt6" in sys.modules else "qt-not-loaded")
sys.exit(rc)
"""
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env["DISPLAY"] = ":0"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("tracker-annotate gui: error:")
    assert "libxcb-cursor0" in lines[0] and "apt-get install" in lines[0]
    assert proc.stdout.strip() == "qt-not-loaded"


def _script_table() -> dict[str, str]:
    body = SCRIPT.read_text().split("libs='", 1)[1].split("'", 1)[0]
    return dict(line.split() for line in body.strip().splitlines())  # type: ignore[misc]


def test_the_install_script_knows_the_same_libraries_as_the_check() -> None:
    assert _script_table() == dict(QT_XCB_LIBRARIES)


def test_the_table_covers_what_the_installed_wheels_xcb_plugin_needs() -> None:
    """Every system library the wheel's xcb plugin (and the Qt libraries it pulls in)
    names as NEEDED is in the table, but for the C runtime: a PyQt6 upgrade that adds one
    fails here instead of aborting on a user's desktop."""
    spec = importlib.util.find_spec("PyQt6")
    readelf = shutil.which("readelf")
    if spec is None or not spec.submodule_search_locations or readelf is None:
        pytest.skip("needs PyQt6 and readelf")
    qt = Path(next(iter(spec.submodule_search_locations))) / "Qt6"
    plugin = qt / "plugins" / "platforms" / "libqxcb.so"
    if not plugin.exists():
        pytest.skip("this PyQt6 has no xcb plugin")
    system: set[str] = set()
    seen: set[Path] = set()
    todo = [plugin]
    while todo:
        lib = todo.pop()
        out = subprocess.run(
            [readelf, "-d", str(lib)], check=True, capture_output=True, text=True
        ).stdout
        for name in re.findall(r"Shared library: \[(.*?)\]", out):
            bundled = qt / "lib" / name
            if bundled.exists():
                if bundled not in seen:
                    seen.add(bundled)
                    todo.append(bundled)
            else:
                system.add(name)
    runtime = re.compile(r"^(ld-linux.*|lib(c|m|dl|pthread|rt|stdc\+\+|gcc_s|z|zstd)\.so\.\d+)$")
    assert {n for n in system if not runtime.match(n)} <= set(QT_XCB_LIBRARIES)
    assert "libxcb-cursor.so.0" in system  # the table is not trivially a superset


def _fake_bin(tmp_path: Path, uid: int) -> tuple[dict[str, str], Path]:
    """A PATH whose ``id``, ``ldconfig`` and ``apt-get`` are stand-ins: the cache lacks
    :data:`HIDDEN`, apt-get only writes down how it was called."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "apt.log"
    cache = "\n".join(
        f"\t{so} (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/{so}"
        for so in QT_XCB_LIBRARIES
        if so != HIDDEN
    )
    scripts = {
        "id": f"echo {uid}",
        "ldconfig": f"echo '{len(QT_XCB_LIBRARIES) - 1} libs found in cache'\necho '{cache}'",
        "apt-get": f'echo "$*" >> {log}',
    }
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    return env, log


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_script_lists_the_missing_packages_when_not_root(tmp_path: Path) -> None:
    env, log = _fake_bin(tmp_path, uid=1000)
    proc = subprocess.run(
        ["bash", str(SCRIPT)], check=False, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert "sudo apt-get install libxcb-cursor0)" in proc.stderr
    assert not log.exists()


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_script_installs_the_missing_packages_as_root(tmp_path: Path) -> None:
    env, log = _fake_bin(tmp_path, uid=0)
    proc = subprocess.run(
        ["bash", str(SCRIPT)], check=False, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    calls = log.read_text().splitlines()
    assert calls[-1] == "install -y -qq --no-install-recommends libxcb-cursor0"
