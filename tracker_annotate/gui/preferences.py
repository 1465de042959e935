"""User preferences kept with QSettings (per user, not per project) and their dialog."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from PyQt6.QtCore import QSettings
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from tracker_annotate.app.worklog import default_annotator
from tracker_annotate.io.frame_cache import MIB
from tracker_annotate.tracking.api import TRACKER_NAMES, TrackerConfig
from tracker_annotate.tracking.backends import BACKENDS
from tracker_annotate.tracking.detector import COCO_CLASSES, DEFAULT_CLASSES
from tracker_annotate.tracking.proposals import ProposalConfig

ORG, APP = "tracker_annotate", "tracker-annotate"
MAX_RECENT = 10


@dataclass(frozen=True)
class Preferences:
    """What the annotator chose. Each field says its trade-off.

    ``tracker`` / ``flag_threshold``: see :class:`TrackerConfig`. ``cache_mb``: decoded
    frames kept in memory; more makes scrubbing back instant but costs RAM (a 1080p frame
    is ~6 MB). ``auto_retrack``: re-track the edited segment after every box edit; turn it
    off on slow machines or when placing many keyframes first. ``detect_classes``: what
    "Detect objects on this frame" (P) proposes (COCO class names). ``detect_min_score``:
    proposals score at least this; raising it shows fewer false boxes but misses more.
    ``detect_after_tracking``: after "Track all", the detector proposes objects that enter
    mid-video and re-finds lost tracks, on a sparse schedule (about 20% of the run's time).
    ``record_work``: keep the work record in the project (each action's kind, box and
    time; never frames or the screen) for ``tracker-annotate report``; ``annotator``: the
    name it is recorded under (default: the OS user).
    """

    tracker: str = TrackerConfig().tracker
    flag_threshold: float = TrackerConfig().flag_threshold
    cache_mb: int = 512
    auto_retrack: bool = True
    detect_classes: tuple[str, ...] = DEFAULT_CLASSES
    detect_min_score: float = ProposalConfig().min_score
    detect_after_tracking: bool = True
    record_work: bool = True
    annotator: str = field(default_factory=default_annotator)

    def tracker_config(self) -> TrackerConfig:
        return TrackerConfig(tracker=self.tracker, flag_threshold=self.flag_threshold)

    @property
    def cache_bytes(self) -> int:
        return self.cache_mb * MIB


def settings() -> QSettings:
    return QSettings(ORG, APP)


def load() -> Preferences:
    s = settings()
    d = Preferences()

    def get(key: str, default: object, kind: type) -> object:
        try:
            return kind(s.value(key, default))
        except (TypeError, ValueError):
            return default

    tracker = str(s.value("tracker", d.tracker))
    auto = s.value("auto_retrack", d.auto_retrack)
    after = s.value("detect_after_tracking", d.detect_after_tracking)
    record = s.value("record_work", d.record_work)
    score = float(get("detect_min_score", d.detect_min_score, float))  # type: ignore[arg-type]
    return Preferences(
        tracker=tracker if tracker in TRACKER_NAMES else d.tracker,
        flag_threshold=min(1.0, max(0.0, float(get("flag_threshold", d.flag_threshold, float)))),  # type: ignore[arg-type]
        cache_mb=max(0, int(get("cache_mb", d.cache_mb, int))),  # type: ignore[call-overload]
        auto_retrack=auto in (True, "true", "1", 1),
        detect_classes=parse_classes(str(s.value("detect_classes", ",".join(d.detect_classes)))),
        detect_min_score=min(1.0, max(0.0, score)),
        detect_after_tracking=after in (True, "true", "1", 1),
        record_work=record in (True, "true", "1", 1),
        annotator=str(s.value("annotator", d.annotator)).strip() or d.annotator,
    )


def parse_classes(text: str) -> tuple[str, ...]:
    """Known COCO class names from a comma-separated list (unknown ones dropped; none
    known gives the default classes)."""
    names = tuple(n.strip() for n in text.split(",") if n.strip() in COCO_CLASSES)
    return names or DEFAULT_CLASSES


def save(prefs: Preferences) -> None:
    s = settings()
    s.setValue("tracker", prefs.tracker)
    s.setValue("flag_threshold", prefs.flag_threshold)
    s.setValue("cache_mb", prefs.cache_mb)
    s.setValue("auto_retrack", prefs.auto_retrack)
    s.setValue("detect_classes", ",".join(prefs.detect_classes))
    s.setValue("detect_min_score", prefs.detect_min_score)
    s.setValue("detect_after_tracking", prefs.detect_after_tracking)
    s.setValue("record_work", prefs.record_work)
    s.setValue("annotator", prefs.annotator)
    s.sync()


def recent_files() -> list[str]:
    value = settings().value("recent_files", [])
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value] if isinstance(value, list) else []


def add_recent(path: str) -> list[str]:
    files = [path] + [f for f in recent_files() if f != path]
    files = files[:MAX_RECENT]
    s = settings()
    s.setValue("recent_files", files)
    s.sync()
    return files


class PreferencesDialog(QDialog):
    """Edit :class:`Preferences`; ``result_prefs()`` after ``exec()`` returns Accepted."""

    def __init__(self, prefs: Preferences, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self._prefs = prefs
        form = QFormLayout(self)
        self.tracker = QComboBox()
        self.tracker.addItems(TRACKER_NAMES)
        self.tracker.setCurrentText(prefs.tracker)
        self.tracker.setToolTip("\n".join(f"{b.name}: {b.description}" for b in BACKENDS.values()))
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.0, 1.0)
        self.threshold.setSingleStep(0.05)
        self.threshold.setValue(prefs.flag_threshold)
        self.threshold.setToolTip("Higher flags more boxes: fewer errors slip by, more review")
        self.cache = QSpinBox()
        self.cache.setRange(0, 64 * 1024)
        self.cache.setSuffix(" MB")
        self.cache.setValue(prefs.cache_mb)
        self.cache.setToolTip("Decoded frames kept in memory (applies when media is reopened)")
        self.auto = QCheckBox("Re-track automatically after editing a box")
        self.auto.setChecked(prefs.auto_retrack)
        self.classes = QLineEdit(", ".join(prefs.detect_classes))
        self.classes.setToolTip(
            "COCO class names the detector proposes (P), comma-separated; e.g. person, car, "
            "dog. Unknown names are ignored."
        )
        self.min_score = QDoubleSpinBox()
        self.min_score.setRange(0.05, 1.0)
        self.min_score.setSingleStep(0.05)
        self.min_score.setValue(prefs.detect_min_score)
        self.min_score.setToolTip("Higher: fewer false proposals to reject, more objects missed")
        self.after = QCheckBox("After Track all: propose new objects, re-find lost tracks")
        self.after.setChecked(prefs.detect_after_tracking)
        form.addRow("Tracker", self.tracker)
        form.addRow("Flag threshold", self.threshold)
        form.addRow("Frame cache", self.cache)
        form.addRow(self.auto)
        form.addRow("Detector classes", self.classes)
        form.addRow("Detector min score", self.min_score)
        form.addRow(self.after)
        self.record = QCheckBox("Record my work (actions and times, never the screen)")
        self.record.setChecked(prefs.record_work)
        self.record.setToolTip(
            "Kept in the project for `tracker-annotate report`: each action's kind, box "
            "and time. Applies from the next project opened."
        )
        self.annotator = QLineEdit(prefs.annotator)
        self.annotator.setToolTip("The name your work is recorded under")
        form.addRow(self.record)
        form.addRow("Annotator", self.annotator)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def result_prefs(self) -> Preferences:
        return replace(
            self._prefs,
            tracker=self.tracker.currentText(),
            flag_threshold=float(self.threshold.value()),
            cache_mb=int(self.cache.value()),
            auto_retrack=self.auto.isChecked(),
            detect_classes=parse_classes(self.classes.text()),
            detect_min_score=float(self.min_score.value()),
            detect_after_tracking=self.after.isChecked(),
            record_work=self.record.isChecked(),
            annotator=self.annotator.text().strip() or default_annotator(),
        )
