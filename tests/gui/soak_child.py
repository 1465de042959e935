"""The app-level loop the kill -9 soak kills: edit -> re-track -> accept stretch -> undo.

Run as ``python soak_child.py PROJECT SEED CYCLES``. It opens PROJECT the way the app does
(``open_document``, the window's ``Controller``, auto re-track on), prints ``READY``, then
for each cycle moves a box (its re-track runs in the tracker thread), accepts the flagged
stretch the re-track left, and undoes that. After every committed change (each is one
SQLite transaction) it prints ``C <index> <description> <stale marks> <digest>``, where the
digest is
:func:`state_digest` of the project as the file now holds it; ``END`` at the end.

Deterministic for a given project and seed, so a run that is killed must print a prefix
of what an unkilled run prints, and its file must hold one of those states.
"""

from __future__ import annotations

import hashlib
import os
import random
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from tracker_annotate.core.boxes import BoxXYXY
from tracker_annotate.core.project import ChangeSet, Project


def state_digest(p: Project) -> str:
    """Everything an edit, a re-track, an accept or an undo can change, hashed in a fixed
    order (sorted keys, rounded floats; never set or hash order)."""
    h = hashlib.blake2b(digest_size=10)
    for tid in sorted(p.tracks):
        info = p.tracks[tid]
        h.update(f"T{tid}|{info.label}|{info.name}|{info.hidden}|{info.proposed}\n".encode())
        boxes = p.boxes(tid)
        for f in sorted(boxes):
            b = boxes[f]
            coords = ",".join(f"{v:.6f}" for v in b.xyxy.as_tuple())
            h.update(
                f"{f}|{coords}|{b.source.value}|{b.confidence:.6f}|{b.flagged}|"
                f"{b.verified}|{b.occluded}|{b.outside}\n".encode()
            )
    h.update(repr(sorted(p.stale)).encode())
    return h.hexdigest()


def main(path: str, seed: int, cycles: int) -> None:
    from PyQt6.QtWidgets import QApplication

    from tracker_annotate.gui.controller import Controller
    from tracker_annotate.gui.document import open_document
    from tracker_annotate.gui.preferences import Preferences

    app = QApplication.instance() or QApplication([])
    doc = open_document(
        path,
        choose_project_path=lambda s: None,
        choose_media=lambda e, m: None,
    )
    assert doc is not None
    prefs = Preferences(tracker="cascade", flag_threshold=0.8, cache_mb=32, auto_retrack=True)
    c = Controller(prefs)
    c.doc = doc
    p, s = doc.project, doc.session
    n = [0]

    def on_commit(cs: ChangeSet) -> None:
        # connected after the store: by now the change is committed to the file
        n[0] += 1
        desc = cs.description.replace(" ", "_")
        print(f"C {n[0]} {cs.kind}:{desc} {len(p.stale)} {state_digest(p)}", flush=True)

    p.changed.connect(on_commit)

    def settle() -> None:
        while True:
            app.processEvents()
            if not c.busy:
                app.processEvents()
                if not c.busy:
                    return
            time.sleep(0.002)

    rng = random.Random(seed)
    print("READY", flush=True)
    for _ in range(cycles):
        tid = rng.choice(sorted(p.tracks))
        frames = sorted(p.boxes(tid))
        frame = rng.choice(frames[1:-1] if len(frames) > 2 else frames)
        b = p.box(tid, frame)
        assert b is not None
        dx, dy = rng.uniform(-12, 12), rng.uniform(-12, 12)
        w, h = doc.source.width, doc.source.height  # type: ignore[union-attr]
        x1 = min(max(b.xyxy.x1 + dx, 0.0), w - b.xyxy.width)
        y1 = min(max(b.xyxy.y1 + dy, 0.0), h - b.xyxy.height)
        s.go_to(frame, tid)
        c.edit_box(tid, frame, BoxXYXY(x1, y1, x1 + b.xyxy.width, y1 + b.xyxy.height))
        settle()
        flagged = sorted(f for f, x in p.boxes(tid).items() if x.flagged and not x.verified)
        if flagged and rng.random() < 0.7:  # else the undo below takes fix + re-track
            s.go_to(rng.choice(flagged), tid)
            c.accept_stretch()
            settle()
        if rng.random() < 0.6:
            c.undo()
            settle()
    print("END", flush=True)
    doc.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
