"""The GUI's preference defaults are the engine's: one home per default."""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot

from tracker_annotate.gui import preferences
from tracker_annotate.gui.preferences import Preferences, PreferencesDialog
from tracker_annotate.tracking.api import TrackerConfig
from tracker_annotate.tracking.backends import DEFAULT_TRACKER
from tracker_annotate.tracking.proposals import ProposalConfig

pytestmark = pytest.mark.gui


def test_defaults_come_from_the_engine_configs() -> None:
    d = Preferences()
    assert d.tracker == TrackerConfig().tracker == DEFAULT_TRACKER
    assert d.flag_threshold == TrackerConfig().flag_threshold
    assert d.detect_min_score == ProposalConfig().min_score
    assert d.tracker_config() == TrackerConfig()


def test_fresh_settings_load_the_defaults_and_the_dialog_shows_them(qtbot: QtBot) -> None:
    loaded = preferences.load()  # the conftest isolates QSettings: nothing saved yet
    assert loaded == Preferences()
    dlg = PreferencesDialog(loaded)
    qtbot.addWidget(dlg)
    assert dlg.tracker.currentText() == DEFAULT_TRACKER
    assert dlg.threshold.value() == pytest.approx(TrackerConfig().flag_threshold)
    assert dlg.result_prefs() == loaded
