"""The review queue: flagged stretches in value order, each with its reason in full.

A tracker that loses an object flags every frame after it, so the list shows one row per
*stretch* (consecutive flagged frames of one track): a lost pedestrian is one row to visit,
not two hundred identical ones. Rows are in the core's value order (expected wrong boxes
fixed per second, :mod:`tracker_annotate.core.review`), the order F / Shift+F walk; each row
wraps to show its whole reason (also its tooltip). Selecting a row goes to the stretch's
first frame and selects the box. Accept (Enter), Accept stretch (Shift+Enter), Reject
(Delete) and Outside (O) are the window's actions, shown here as buttons, so the keyboard
and the panel do the same thing; on an overlap flag (two tracks crossing) the panel also
offers Swap identities (X), naming the two tracks. The counter says how many boxes are
left, and in how many stretches.

A detector's proposed objects are not flags (:mod:`tracker_annotate.core.proposals`): they
wait in their own list under the queue ("19 proposed objects: Enter accept, Delete
reject"), one row per object in the core's queue order; selecting a row goes to the
object's first frame and selects it. Once accepted, its flags join the queue above.
"""

from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QAction, QColor, QIcon, QPixmap
from PyQt6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from tracker_annotate.core import audit, quality, recal_report
from tracker_annotate.core import proposals as props
from tracker_annotate.core.commands import SWAP_IDENTITIES_KEY
from tracker_annotate.core.project import ChangeSet, Project
from tracker_annotate.core.review import (
    FlagSegment,
    ReviewItem,
    crossing_partner,
    flag_segments,
    review_items,
    suggests_swap,
)
from tracker_annotate.core.session import Session
from tracker_annotate.gui import style
from tracker_annotate.gui.bind import Binding

MAX_ROWS = 2000  # a list this long is already a to-do for the tracker settings


#: A row of the list: a stretch of one track (the core's type, ordered by value there).
Stretch = FlagSegment


def _swatch(color: QColor) -> QIcon:
    pm = QPixmap(12, 12)
    pm.fill(color)
    return QIcon(pm)


class ReviewPanel(QWidget):
    #: The user set the quality target (a fraction: 0.01 = 1%).
    target_changed = pyqtSignal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._project: Project | None = None
        self._session: Session | None = None
        self._binding = Binding()
        self._items: list[ReviewItem] = []
        self._stretches: list[Stretch] = []
        self.counter = QLabel("No project")
        font = self.counter.font()
        font.setBold(True)
        self.counter.setFont(font)
        self.only_derived = QCheckBox("Show every unverified tracked box")
        self.only_derived.setToolTip("Not just flagged ones: audit everything the tracker made")
        self.only_derived.toggled.connect(lambda _c: self.refresh())
        self.auto_advance = QCheckBox("After accept/reject go to the next flag")
        self.auto_advance.setChecked(True)
        self.list = QListWidget()
        self.list.setAlternatingRowColors(True)
        self.list.setWordWrap(True)  # a row's reason is read in full, never scrolled to
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.list.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.list.currentRowChanged.connect(self._on_row)
        self.proposals = QLabel()
        self.proposals.setWordWrap(True)
        self.proposal_list = QListWidget()
        self.proposal_list.setMaximumHeight(120)
        self.proposal_list.currentRowChanged.connect(self._on_proposal_row)
        self._queue: list[props.ProposedObject] = []
        self.buttons = QGridLayout()
        # offered on an overlap flag: where two tracks cross, identities may have switched
        self.swap_hint = QLabel()
        self.swap_hint.setWordWrap(True)
        self.swap_button = QToolButton()
        self.swap_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.swap_button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.swap_offer = QWidget()
        offer = QVBoxLayout(self.swap_offer)
        offer.setContentsMargins(0, 0, 0, 0)
        offer.addWidget(self.swap_hint)
        offer.addWidget(self.swap_button)
        self.swap_offer.hide()
        self.target = QDoubleSpinBox()
        self.target.setRange(0.1, 50.0)
        self.target.setDecimals(1)
        self.target.setSingleStep(0.5)
        self.target.setSuffix(" %")
        self.target.setValue(100 * quality.DEFAULT_TARGET)
        self.target.setToolTip(
            "At most this share of the boxes may be wrong and unseen (never reviewed)"
        )
        self.target.editingFinished.connect(
            lambda: self.target_changed.emit(self.target.value() / 100)
        )
        self.prediction = QLabel()
        self.prediction.setWordWrap(True)
        self.audit_status = QLabel("No audit yet")
        self.audit_status.setWordWrap(True)
        # what the reviews taught the confidence on this video (core.recalibration)
        self.learned = QLabel()
        self.learned.setWordWrap(True)
        self.quality_buttons = QGridLayout()
        group = QGroupBox("Quality")
        form = QFormLayout(group)
        form.addRow("Target: wrong and unseen ≤", self.target)
        form.addRow(self.prediction)
        form.addRow(self.learned)
        form.addRow(self.audit_status)
        form.addRow(self.quality_buttons)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(group)
        lay.addWidget(self.counter)
        lay.addWidget(self.only_derived)
        lay.addWidget(self.auto_advance)
        lay.addWidget(self.list, 1)
        lay.addWidget(self.swap_offer)
        lay.addWidget(self.proposals)
        lay.addWidget(self.proposal_list)
        lay.addLayout(self.buttons)

    def add_action_buttons(self, actions: list[QAction]) -> None:
        """Buttons for the window's review actions, two to a row (the dock is narrow)."""
        for i, act in enumerate(actions):
            b = QToolButton()
            b.setDefaultAction(act)
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            b.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            self.buttons.addWidget(b, i // 2, i % 2)

    def set_swap_action(self, action: QAction) -> None:
        """The window's swap-identities action, offered (with the two tracks named) when
        the box the session is on carries an overlap flag."""
        self.swap_button.setDefaultAction(action)

    def add_quality_buttons(self, actions: list[QAction]) -> None:
        for i, act in enumerate(actions):
            b = QToolButton()
            b.setDefaultAction(act)
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            b.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            self.quality_buttons.addWidget(b, i // 2, i % 2)

    def bind(self, project: Project, session: Session) -> None:
        self.unbind()
        self._project, self._session = project, session
        self._binding.rebind(
            (project, {"changed": self._on_changed}),
            (session, {"frame_changed": self._on_position, "selection_changed": self._on_position}),
        )
        self.refresh()

    def unbind(self) -> None:
        self._binding.unbind()
        self._project = self._session = None
        self._items = []
        self._stretches = []
        self._queue = []
        self.list.clear()
        self.proposal_list.clear()

    @property
    def items(self) -> list[ReviewItem]:
        """Every box in the queue, in review order."""
        return list(self._items)

    @property
    def stretches(self) -> list[Stretch]:
        """The rows: runs of consecutive frames per track, most valuable first."""
        return list(self._stretches)

    @property
    def proposal_rows(self) -> list[props.ProposedObject]:
        """The proposed objects listed, in queue order."""
        return list(self._queue)

    def refresh(self) -> None:
        if self._project is None:
            return
        self._refresh_quality()
        self._refresh_proposals()
        derived = self.only_derived.isChecked()
        self._stretches = flag_segments(self._project, unverified_derived=derived)
        self._items = review_items(
            self._project, unverified_derived=derived, segments=self._stretches
        )
        n, m = len(self._items), len(self._stretches)
        what = "unverified" if derived else "flagged"
        where = f" in {m} stretch{'es' if m != 1 else ''}" if m != n else ""
        pending = audit.pending_samples(self._project)
        if n:
            self.counter.setText(f"{n} left{where} ({what})")
        elif pending:
            self.counter.setText(f"{len(pending)} audit samples to check (F walks them)")
        else:
            self.counter.setText(f"Nothing {what} left \u2713")
        self.list.blockSignals(True)
        self.list.clear()
        for st in self._stretches[:MAX_ROWS]:
            info = self._project.tracks.get(st.track_id)
            label = info.label if info is not None else "?"
            frames = f"frame {st.start}"
            if st.count > 1:
                frames = f"frames {st.start}\u2013{st.end} ({st.count})"
            why = st.explain()
            row = QListWidgetItem(
                _swatch(style.track_color(st.track_id)),
                f"#{st.track_id} {label}  {frames}  conf {st.min_confidence:.2f}\n{why}",
            )
            more = "; Shift+Enter accepts the whole stretch" if st.count > 1 else ""
            row.setToolTip(why + more)
            self.list.addItem(row)
        if m > MAX_ROWS:
            self.list.addItem(QListWidgetItem(f"\u2026 and {m - MAX_ROWS} more (use F to step)"))
        self.list.blockSignals(False)
        self._on_position(None)

    def _refresh_proposals(self) -> None:
        assert self._project is not None
        self._queue = props.proposal_queue(self._project)
        n = len(self._queue)
        self.proposals.setText(
            f"{n} proposed object{'s' if n != 1 else ''}: Enter accept, Delete reject"
        )
        self.proposals.setToolTip(
            "Objects the detector found that no track follows. They are not flags: "
            "once accepted, their flagged boxes join the queue above"
        )
        self.proposals.setVisible(bool(n))
        self.proposal_list.setVisible(bool(n))
        self.proposal_list.blockSignals(True)
        self.proposal_list.clear()
        for prop in self._queue[:MAX_ROWS]:
            self.proposal_list.addItem(
                QListWidgetItem(
                    _swatch(style.PROPOSAL),
                    f"#{prop.track_id} {prop.label}  frame {prop.frame}  score {prop.score:.2f}",
                )
            )
        self.proposal_list.blockSignals(False)

    def _on_proposal_row(self, row: int) -> None:
        if self._session is not None and 0 <= row < min(len(self._queue), MAX_ROWS):
            prop = self._queue[row]
            self._session.go_to(prop.frame, prop.track_id)

    def _refresh_quality(self) -> None:
        """The target, what flagging for it costs, and the audit's estimate."""
        p = self._project
        assert p is not None
        q = p.quality
        if not self.target.hasFocus():
            self.target.blockSignals(True)
            self.target.setValue(100 * q.target)
            self.target.blockSignals(False)
        curve = audit.predict_curve(p)
        now = curve[0]  # threshold 0: the flags as they are
        pick = audit.pick_for_target(curve, q.target)
        text = f"Predicted now: ≈{100 * now.residual:.1f}% left wrong (from confidences)"
        if pick.threshold > now.threshold:
            text += f"\nFor the target: {pick.summary()}"
        self.prediction.setText(text)
        line = recal_report.summary(p)
        self.learned.setText(line[:1].upper() + line[1:])
        rnd = audit.current_round(p)
        if rnd is None:
            self.audit_status.setText("No audit yet: review the flags, then Start audit")
            return
        est = audit.estimate(rnd)
        lines = [est.summary() if est is not None else f"Audit: {rnd.checked} checked"]
        if rnd.checked < len(rnd.samples):
            lines.append(f"{len(rnd.samples) - rnd.checked} of {len(rnd.samples)} left to check")
            self.audit_status.setText("\n".join(lines))
            return
        step = audit.loop_step(p)
        if step.action == "done":
            lines.append(f"Target {100 * q.target:g}% met \u2713")
        elif step.action == "flag_more":
            lines.append("Above the target: Audit next step flags more boxes")
        else:
            lines.append(step.message)
        self.audit_status.setText("\n".join(lines))
        self.audit_status.setToolTip(est.method if est is not None else "")

    def _on_changed(self, cs: ChangeSet) -> None:
        self.refresh()

    def _on_row(self, row: int) -> None:
        if self._session is not None and 0 <= row < min(len(self._stretches), MAX_ROWS):
            st = self._stretches[row]
            self._session.go_to(st.start, st.track_id)

    def _on_position(self, _value: object) -> None:
        """Highlight the row of the stretch the session is on, if it is in the queue."""
        s = self._session
        if s is None:
            return
        row = next(
            (
                i
                for i, st in enumerate(self._stretches[:MAX_ROWS])
                if st.contains(s.frame, s.selected)
            ),
            -1,
        )
        self.list.blockSignals(True)
        self.list.setCurrentRow(row)
        self.list.blockSignals(False)
        ids = [p.track_id for p in self._queue[:MAX_ROWS]]
        self.proposal_list.blockSignals(True)
        self.proposal_list.setCurrentRow(ids.index(s.selected) if s.selected in ids else -1)
        self.proposal_list.blockSignals(False)
        self._offer_swap()

    def _offer_swap(self) -> None:
        """Show the swap offer when the selected box's flag says two tracks cross here."""
        p, s = self._project, self._session
        partner = None
        if (
            p is not None
            and s is not None
            and s.selected is not None
            and suggests_swap(p.box(s.selected, s.frame))
        ):
            partner = crossing_partner(p, s.selected, s.frame)
        if partner is not None and s is not None:
            self.swap_hint.setText(
                f"Track {s.selected} crosses track {partner} here. If they switched "
                f"objects, swap their identities from this frame ({SWAP_IDENTITIES_KEY}):"
            )
        self.swap_offer.setVisible(partner is not None)
