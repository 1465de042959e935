"""The file flows run without a main window: a parent widget and the services they need.

That is the seam that broke the file_flows <-> main_window import circle; these tests
drive the flows the way another front end (or a dialog of its own) would.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest
from PyQt6.QtWidgets import QFileDialog, QWidget
from pytestqt.qtbot import QtBot

from tracker_annotate.app.document import Document
from tracker_annotate.core import commands
from tracker_annotate.core.boxes import BoxXYXY
from tracker_annotate.gui import file_flows
from tracker_annotate.io.media import MediaConfig

pytestmark = pytest.mark.gui


class Host:
    """What a front end hands the flows: it records what they did."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.docs: list[Document] = []
        self.status: list[str] = []

    def close_current(self) -> None:
        self.calls.append("close")

    def install(self, doc: Document) -> None:
        self.calls.append("install")
        self.docs.append(doc)

    def open(self, parent: QWidget, path: Path) -> bool:
        return file_flows.open_path(
            parent,
            str(path),
            media_config=MediaConfig(cache_bytes=8 << 20),
            close_current=self.close_current,
            install=self.install,
            status=self.status.append,
        )


@pytest.fixture
def parent(qtbot: QtBot) -> QWidget:
    w = QWidget()
    qtbot.addWidget(w)
    return w


@pytest.fixture
def host() -> Iterator[Host]:
    h = Host()
    yield h
    for doc in h.docs:
        doc.close()


def test_file_flows_do_not_import_the_main_window() -> None:
    tree = ast.parse(inspect.getsource(file_flows))
    imported = [
        node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
    ] + [a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names]
    assert imported and not [m for m in imported if "main_window" in m]


def test_open_closes_the_current_document_first_then_installs_the_new_one(
    parent: QWidget, host: Host, video: Path, shown_errors: list[str]
) -> None:
    assert host.open(parent, video)
    assert host.calls == ["close", "install"]
    doc = host.docs[0]
    assert doc.project.media is not None and doc.project.media.n_frames == 40
    assert doc.read(3).shape == (240, 320, 3)  # a real decoded frame
    assert host.status == [f"Opened {doc.path} (every edit is saved as you go)"]
    assert shown_errors == []


def test_a_file_that_is_no_media_is_shown_as_an_error_and_installs_nothing(
    parent: QWidget, host: Host, tmp_path: Path, shown_errors: list[str]
) -> None:
    junk = tmp_path / "notes.avi"
    junk.write_text("not a video")
    assert not host.open(parent, junk)
    assert host.calls == ["close"] and host.docs == [] and host.status == []
    assert len(shown_errors) == 1 and shown_errors[0].startswith("Cannot open notes.avi")


def test_export_and_import_take_the_document_not_the_window(
    parent: QWidget,
    host: Host,
    video: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    shown_errors: list[str],
) -> None:
    assert host.open(parent, video)
    doc = host.docs[0]
    tid = commands.add_track(doc.project, 0, BoxXYXY(40, 80, 90, 140))
    commands.add_box(doc.project, tid, 5, BoxXYXY(55, 80, 105, 140))
    out = tmp_path / "gt"
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), "MOT file (*.txt)")
    )
    file_flows.export(parent, doc, host.status.append)
    assert (tmp_path / "gt.txt").is_file()
    assert host.status[-1].startswith(f"Exported mot to {out}.txt")
    monkeypatch.setattr(
        QFileDialog, "getOpenFileName", lambda *a, **k: (str(tmp_path / "gt.txt"), "")
    )
    file_flows.import_annotations(parent, doc, host.status.append)
    assert host.status[-1] == f"Imported 1 tracks from {tmp_path / 'gt.txt'}"
    new = max(doc.project.tracks)
    assert new != tid and sorted(doc.project.boxes(new)) == [0, 5]
    # the export's quality warning went to the parent (no audit was run on this project)
    assert len(shown_errors) == 1 and shown_errors[0].startswith("Exported with warnings")


def test_import_detections_hands_the_chosen_file_on(
    parent: QWidget, host: Host, video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert host.open(parent, video)
    det = tmp_path / "det.txt"
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(det), ""))
    handed: list[str] = []
    file_flows.import_detections(parent, host.docs[0], handed.append)
    assert handed == [str(det)]
    file_flows.import_detections(parent, None, handed.append)  # nothing open: no question
    assert handed == [str(det)]
