"""Every command the window offers: one table for menus, shortcuts and the help sheet.

The main window builds a ``QAction`` per row and connects it by ``name``; the shortcuts
dialog shows the same table, so the sheet cannot drift from the real key bindings.
"""

from __future__ import annotations

from dataclasses import dataclass

from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import QWidget

from tracker_annotate.core.commands import SWAP_IDENTITIES_KEY


@dataclass(frozen=True)
class ActionSpec:
    name: str
    text: str
    keys: tuple[str, ...] = ()
    menu: str = ""
    help: str = ""


SPECS: tuple[ActionSpec, ...] = (
    # File
    ActionSpec(
        "open", "&Open…", ("Ctrl+O",), "File", "Open a video, image folder, MOT sequence or project"
    ),
    ActionSpec(
        "import_annotations",
        "&Import annotations…",
        ("Ctrl+I",),
        "File",
        "Add tracks from MOT/CVAT/COCO/… files",
    ),
    ActionSpec(
        "import_detections", "Import &detections…", (), "File", "Detections become proposed tracks"
    ),
    ActionSpec(
        "export",
        "&Export annotations…",
        ("Ctrl+E",),
        "File",
        "Write every track in a chosen format",
    ),
    ActionSpec(
        "preferences", "&Preferences…", ("Ctrl+,",), "File", "Tracker, flag threshold, cache size"
    ),
    ActionSpec("quit", "&Quit", ("Ctrl+Q",), "File", "Every edit is already saved"),
    # Edit
    ActionSpec(
        "undo",
        "&Undo",
        ("Ctrl+Z",),
        "Edit",
        "Undo the last edit (a whole tracking run is one step)",
    ),
    ActionSpec("redo", "&Redo", ("Ctrl+Shift+Z", "Ctrl+Y"), "Edit", "Redo"),
    ActionSpec(
        "delete_box",
        "&Delete box / reject",
        ("Delete", "Backspace"),
        "Edit",
        "Delete the selected box (rejects a flagged box)",
    ),
    ActionSpec(
        "mark_outside",
        "Mark object &outside here",
        ("O",),
        "Edit",
        "The object is not visible from this frame on",
    ),
    ActionSpec(
        "copy_next",
        "&Copy box to next frame",
        ("Ctrl+D",),
        "Edit",
        "Copy the selected box to the next frame and go there",
    ),
    ActionSpec(
        "accept",
        "&Accept box",
        ("Return", "Enter"),
        "Edit",
        "Verify the selected box and clear its flag",
    ),
    ActionSpec(
        "accept_stretch",
        "Accept flagged &stretch",
        ("Shift+Return", "Shift+Enter"),
        "Edit",
        "Verify every flagged box in this track's run of flagged frames (play it first)",
    ),
    ActionSpec(
        "swap_identities",
        "S&wap identities from here",
        (SWAP_IDENTITIES_KEY,),
        "Edit",
        "Two tracks switched objects where they crossed: their boxes from this frame on change "
        "tracks (the two selected in the Tracks list, or the selected box's track and the "
        "track it crosses here)",
    ),
    # View
    ActionSpec("zoom_fit", "&Fit frame", ("Ctrl+0",), "View", "Fit the whole frame in the window"),
    ActionSpec("zoom_in", "Zoom &in", ("Ctrl+=", "Ctrl++"), "View", "Also: mouse wheel"),
    ActionSpec(
        "zoom_out", "Zoom &out", ("Ctrl+-",), "View", "Pan: middle button, or hold Space and drag"
    ),
    # Navigate
    ActionSpec("next_frame", "&Next frame", ("Right", "D"), "Navigate", ""),
    ActionSpec("prev_frame", "&Previous frame", ("Left", "A"), "Navigate", ""),
    ActionSpec("next_10", "Forward 10 frames", ("Shift+Right", "Shift+D"), "Navigate", ""),
    ActionSpec("prev_10", "Back 10 frames", ("Shift+Left", "Shift+A"), "Navigate", ""),
    ActionSpec(
        "play", "&Play / pause", (), "Navigate", "Space (tap). Plays at the video's frame rate"
    ),
    ActionSpec("goto", "&Go to frame…", ("Ctrl+G",), "Navigate", ""),
    ActionSpec(
        "next_key",
        "Next &keyframe",
        ("K", "PgDown"),
        "Navigate",
        "Of the selected track, or any track",
    ),
    ActionSpec("prev_key", "Previous keyframe", ("Shift+K", "PgUp"), "Navigate", ""),
    ActionSpec(
        "next_flag",
        "Next &flagged box",
        ("F",),
        "Navigate",
        "Goes to the frame and selects the box",
    ),
    ActionSpec("prev_flag", "Previous flagged box", ("Shift+F",), "Navigate", ""),
    ActionSpec("next_track", "Select next track on frame", ("Tab",), "Navigate", ""),
    ActionSpec(
        "suggest_keyframe",
        "&Go to suggested frame",
        ("G",),
        "Navigate",
        "The frame whose keyframe is expected to remove the most error",
    ),
    # Track
    ActionSpec(
        "track_all",
        "Track &all",
        ("T",),
        "Track",
        "Run the tracker on every track in the background",
    ),
    ActionSpec(
        "track_selected",
        "Track &selected",
        ("Shift+T",),
        "Track",
        "Run the tracker on the selected track",
    ),
    ActionSpec("cancel_tracking", "&Cancel tracking", ("Esc",), "Track", ""),
    ActionSpec(
        "detect",
        "&Detect objects on this frame",
        ("P",),
        "Track",
        "Propose boxes (classes in Preferences): Enter accepts, Delete rejects, drag fixes",
    ),
    ActionSpec(
        "auto_retrack",
        "Re-track after &edits",
        (),
        "Track",
        "Editing a box re-tracks the affected segment",
    ),
    # Quality
    ActionSpec(
        "apply_target",
        "&Flag for target",
        (),
        "Quality",
        "Flag the boxes the quality target needs reviewed (predicted from confidences)",
    ),
    ActionSpec(
        "start_audit",
        "Start &audit",
        (),
        "Quality",
        "Draw random unflagged boxes to check: measures what is left wrong (95% interval)",
    ),
    ActionSpec(
        "audit_next",
        "Audit &next step",
        (),
        "Quality",
        "Above the target: flag more boxes; a new threshold: audit again",
    ),
    # Help
    ActionSpec("shortcuts", "&Keyboard shortcuts", ("F1", "?"), "Help", ""),
    ActionSpec(
        "messages",
        "Recent &messages…",
        ("Ctrl+Shift+M",),
        "Help",
        "The last status-bar messages again (they vanish after a few seconds)",
    ),
)

LABEL_KEYS_HELP = ("1 … 9", "Set the selected track's label to the n-th label")
DRAW_HELP = (
    ("Drag on the image", "Draw a new track's box (hold Ctrl: redraw the selected track here)"),
    ("Drag a box / its handles", "Move / resize: it becomes a keyframe and is re-tracked"),
    ("Mouse wheel", "Zoom about the pointer"),
    ("Timeline: click / Ctrl+wheel", "Seek and select a track / zoom the timeline"),
)


def build_actions(parent: QWidget) -> dict[str, QAction]:
    actions: dict[str, QAction] = {}
    for spec in SPECS:
        act = QAction(spec.text, parent)
        if spec.keys:
            act.setShortcuts([QKeySequence(k) for k in spec.keys])
        tip = spec.help or spec.text.replace("&", "").rstrip("…")
        if spec.keys:
            tip += f" ({spec.keys[0]})"
        act.setToolTip(tip)
        act.setStatusTip(tip)
        act.setObjectName(spec.name)
        actions[spec.name] = act
    actions["auto_retrack"].setCheckable(True)
    return actions
