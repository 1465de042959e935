"""The dataset audit as a use case: many project files, one audit, one manifest.

:class:`DatasetAudit` opens every project of a set (``.taproj`` files, or folders searched
for them), reads or creates the manifest (:mod:`tracker_annotate.io.dataset_manifest`)
and runs the steps of :mod:`tracker_annotate.core.dataset_audit`: ``plan``, ``start``
(each project's share of the samples becomes an audit round in its own store, so the app
walks it with F as for a project audit), ``record`` and ``next`` (the sequential
acceptance test; on a rejection every project's flag threshold rises). After each step the
dataset figures are written into every project (``status`` and exports carry them) and
into the manifest. Nothing is written by ``plan`` without ``apply``.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any

from tracker_annotate.core import audit
from tracker_annotate.core import dataset_audit as da
from tracker_annotate.core.boxes import BoxXYXY
from tracker_annotate.core.errors import ConfigError, ProjectError
from tracker_annotate.core.project import Project
from tracker_annotate.core.quality import AuditRound, DatasetFigures, Outcome
from tracker_annotate.io import store_schema as sc
from tracker_annotate.io.dataset_manifest import (
    MANIFEST_NAME,
    Manifest,
    ManifestProject,
    ManifestRound,
    read_manifest,
    write_manifest,
)
from tracker_annotate.io.store import ProjectStore


def find_projects(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The project files named or found (recursively, hidden names skipped) under the
    folders named, without duplicates, sorted by path."""
    found: dict[Path, Path] = {}
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            for suffix in sc.PROJECT_SUFFIXES:
                for f in p.rglob(f"*{suffix}"):
                    rel = f.relative_to(p)
                    if f.is_file() and not any(part.startswith(".") for part in rel.parts):
                        found.setdefault(f.resolve(), f)
        elif p.suffix.lower() in sc.PROJECT_SUFFIXES and p.is_file():
            found.setdefault(p.resolve(), p)
        else:
            raise ProjectError(
                f"{p}: expected a project file ({sc.PROJECT_SUFFIXES[0]}) or a folder"
            )
    if not found:
        raise ProjectError(
            f"no project files ({sc.PROJECT_SUFFIXES[0]}) in {', '.join(map(str, paths))}"
        )
    return sorted(found, key=lambda r: r.as_posix())


def default_manifest(paths: Sequence[str | os.PathLike[str]], projects: Sequence[Path]) -> Path:
    """The folder named alone, else the projects' common folder, holds the manifest."""
    if len(paths) == 1 and Path(paths[0]).is_dir():
        return Path(paths[0]) / MANIFEST_NAME
    common = Path(os.path.commonpath([str(p.parent) for p in projects]))
    return common / MANIFEST_NAME


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


class DatasetAudit:
    """The projects of a dataset and its manifest, open together (a context manager)."""

    def __init__(
        self,
        paths: Sequence[str | os.PathLike[str]],
        *,
        manifest: str | os.PathLike[str] | None = None,
    ) -> None:
        found = find_projects(paths)
        self.manifest_path = Path(manifest) if manifest else default_manifest(paths, found)
        self.root = self.manifest_path.parent
        self.manifest: Manifest | None = (
            read_manifest(self.manifest_path) if self.manifest_path.exists() else None
        )
        self.found = [self._rel(p) for p in found]
        self._stack = ExitStack()
        self.stores: dict[str, ProjectStore] = {}

    def _rel(self, p: Path) -> str:
        return Path(os.path.relpath(p.resolve(), self.root.resolve())).as_posix()

    def __enter__(self) -> DatasetAudit:
        names = list(self.found)
        if self.manifest is not None:
            names += [n for n in self.manifest.projects if n not in names]
        for name in sorted(names):
            path = self.root / name
            if not path.is_file():
                raise ProjectError(
                    f"{path}: a project of the dataset audit ({self.manifest_path}) is gone"
                )
            self.stores[name] = self._stack.enter_context(
                ProjectStore.open(path, check_media=False)
            )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                for st in self.stores.values():
                    st.flush()
        finally:
            self._stack.close()

    # -- state ----------------------------------------------------------------------------

    def project(self, name: str) -> Project:
        return self.stores[name].project

    def acceptance(self) -> da.AcceptancePlan:
        m = self.manifest
        if m is None:
            return da.AcceptancePlan()
        return da.AcceptancePlan(m.risk, m.looks, m.interim_alpha)

    def current(self) -> ManifestRound:
        if self.manifest is None or not self.manifest.rounds:
            raise ProjectError(
                f"{self.manifest_path}: no dataset audit round yet; run 'audit ... start'"
            )
        return self.manifest.rounds[-1]

    def rounds(self) -> list[tuple[str, AuditRound]]:
        """Each audited project's round of the current dataset round."""
        out = []
        for mp in self.current().projects:
            if mp.round < 0:
                continue
            rounds = self.project(mp.path).quality.rounds
            if mp.round >= len(rounds):
                raise ProjectError(
                    f"{self.root / mp.path}: its audit round {mp.round + 1} of the dataset "
                    f"audit is gone (the project has {len(rounds)}); start a new round"
                )
            out.append((mp.path, rounds[mp.round]))
        return out

    def changes(self) -> list[str]:
        """What changed since the round was drawn, one sentence per project: a project
        added or removed, a new audit round in it, or a track whose unseen boxes differ
        (a track with a sample found wrong may change: the correction re-tracks it)."""
        rnd = self.current()
        out = []
        in_round = {mp.path for mp in rnd.projects}
        out += [f"{n}: added since the audit started" for n in self.found if n not in in_round]
        rounds = dict(self.rounds())
        for mp in rnd.projects:
            p = self.project(mp.path)
            if mp.round >= 0 and mp.round != len(p.quality.rounds) - 1:
                out.append(f"{mp.path}: a newer audit round was started in it")
                continue
            r = rounds.get(mp.path) or AuditRound(0, 0.0, 0, (), ())
            wrong = {str(s.track_id) for s in r.samples if s.outcome == "wrong"}
            now = da.track_fingerprints(p, r)
            diff = sorted(
                (
                    t
                    for t in set(now) | set(mp.fingerprints)
                    if now.get(t) != mp.fingerprints.get(t)
                ),
                key=int,
            )
            diff = [t for t in diff if t not in wrong]
            if diff:
                shown = ", ".join(diff[:5]) + (" ..." if len(diff) > 5 else "")
                out.append(f"{mp.path}: boxes changed since the draw (tracks {shown})")
        return out

    # -- steps ----------------------------------------------------------------------------

    def plan(self, target: float, n: int | None = None) -> da.DatasetPlan:
        projects = [self.project(name) for name in self.found]
        return da.plan_round(projects, target, self.acceptance(), n)

    def apply_target(self, target: float) -> int:
        """Flag, in each project, the boxes its own curve picks for ``target``."""
        n = 0
        for name in self.found:
            p = self.project(name)
            pick = audit.choose_threshold(p, target=target)
            n += audit.apply_threshold(
                p, pick.threshold, f"Flag for the dataset target {100 * target:g}%"
            )
        return n

    def start(
        self,
        target: float,
        seed: int,
        *,
        n: int | None = None,
        force: bool = False,
        acceptance: da.AcceptancePlan | None = None,
    ) -> da.DatasetPlan:
        """Draw a round over the projects found and store each one's share in it."""
        flagged = {
            name: sum(
                1
                for t in self.project(name).tracks
                for b in self.project(name).boxes(t).values()
                if b.flagged and not b.verified
            )
            for name in self.found
        }
        left = {k: v for k, v in flagged.items() if v}
        if left and not force:
            shown = ", ".join(f"{k} ({v})" for k, v in sorted(left.items())[:5])
            raise ProjectError(
                f"flagged boxes are still unreviewed in {shown}; review them (or force the "
                f"audit: it then measures only the unflagged boxes)"
            )
        acc = acceptance or self.acceptance()
        projects = [self.project(name) for name in self.found]
        plan = da.plan_round(projects, target, acc, n)
        drawn = da.draw_round(projects, plan, seed, acc.looks)
        entries = []
        for name, p, rnd, pp in zip(
            self.found, projects, drawn, da.populations(projects, plan.edges)[0], strict=True
        ):
            idx = -1
            if rnd.samples:
                q = p.quality
                with p.edit(f"Start dataset audit ({len(rnd.samples)} samples, seed {seed})") as tx:
                    tx.set_quality(replace(q, target=target, rounds=(*q.rounds, rnd)))
                idx = len(p.quality.rounds) - 1
            entries.append(
                ManifestProject(
                    name,
                    idx,
                    len(pp.unseen),
                    pp.visible,
                    len(rnd.samples),
                    da.track_fingerprints(p, rnd),
                )
            )
        old = self.manifest.rounds if self.manifest is not None else []
        self.manifest = Manifest(
            target,
            acc.risk,
            acc.looks,
            acc.interim_alpha,
            da.LEVEL,
            list(self.found),
            [*old, ManifestRound(seed, _now(), list(plan.edges), entries)],
        )
        self.refresh()
        return plan

    def record(
        self, name: str, track_id: int, frame: int, outcome: Outcome, corrected: BoxXYXY | None
    ) -> bool:
        """A verdict on a sample of project ``name``; ``False`` when it already had one
        (kept: undo in the app to change it)."""
        if name not in self.stores:
            raise ConfigError(
                f"{name}: not a project of this dataset audit; expected one of "
                f"{sorted(self.stores)}"
            )
        rounds = dict(self.rounds())
        rnd = rounds.get(name)
        hit = rnd.sample_at(track_id, frame) if rnd is not None else None
        if hit is None:
            raise ProjectError(
                f"{name}: track {track_id} frame {frame} is not a sample of the dataset audit"
            )
        if hit.outcome is not None:
            return False
        audit.check_sample(self.project(name), track_id, frame, outcome, corrected)
        return True

    def decide(self) -> da.Decision:
        m = self.manifest
        assert m is not None
        visible = sum(mp.visible for mp in self.current().projects)
        return da.decide(
            [r for _, r in self.rounds()], m.target, self.acceptance(), visible=visible
        )

    def next(self) -> tuple[da.Decision, int]:
        """Apply the acceptance test; on a rejection raise each project's flag threshold
        (aiming lower by how optimistic the confidences proved) and return the boxes
        flagged. Refused when a project changed since the draw. Once the round is decided
        it stays decided (flagging more changes the projects: the next round measures
        that)."""
        if self.current().decision in ("accept", "reject"):
            return self.decide(), 0
        changed = self.changes()
        if changed:
            raise ProjectError(
                f"{self.manifest_path}: the dataset changed since this audit round was "
                f"drawn, so its samples no longer measure it: "
                + "; ".join(changed[:5])
                + ". Start a new round ('audit ... start')"
            )
        dec = self.decide()
        m = self.manifest
        assert m is not None
        projects = [self.project(mp.path) for mp in self.current().projects]
        flagged = da.flag_more(projects, dec, m.target)
        self.refresh(dec)
        return dec, flagged

    def refresh(self, dec: da.Decision | None = None) -> DatasetFigures:
        """Write the current figures into every project and the manifest."""
        m = self.manifest
        assert m is not None
        rnd = self.current()
        dec = dec or self.decide()
        est = dec.estimate
        rounds = [r for _, r in self.rounds()]
        figs = DatasetFigures(
            manifest="",
            projects=len(rnd.projects),
            visible_boxes=sum(mp.visible for mp in rnd.projects),
            unseen_boxes=sum(mp.unseen for mp in rnd.projects),
            samples=sum(len(r.samples) for r in rounds),
            checked=sum(r.checked for r in rounds),
            wrong=sum(r.wrong for r in rounds),
            residual=est.residual if est is not None else None,
            residual_interval=est.residual_interval if est is not None else None,
            level=da.LEVEL,
            target=m.target,
            decision=dec.action,
            look=dec.look,
            bound=est.bound if est is not None else None,
            risk=m.risk,
            date=_now(),
        )
        for mp in rnd.projects:
            p = self.project(mp.path)
            rel = os.path.relpath(
                self.manifest_path.resolve(), (self.root / mp.path).resolve().parent
            )
            mine = replace(figs, manifest=Path(rel).as_posix(), round=mp.round)
            if p.quality.dataset != mine:
                with p.edit("Dataset audit figures") as tx:
                    tx.set_quality(replace(p.quality, dataset=mine))
        rnd.decision, rnd.look = dec.action, dec.look
        m.figures = replace(figs, manifest=MANIFEST_NAME).as_dict()
        write_manifest(self.manifest_path, m)
        return figs

    def sample_rows(self) -> list[dict[str, Any]]:
        """The current round's samples, project by project in walk order."""
        acc = self.acceptance()
        rows = []
        for name, rnd in self.rounds():
            p = self.project(name)
            for i, (s, stage) in enumerate(
                zip(rnd.samples, da.sample_stages(rnd, acc.looks), strict=True)
            ):
                b = p.box(s.track_id, s.frame)
                rows.append(
                    {
                        "project": name,
                        "ord": i,
                        "track_id": s.track_id,
                        "frame": s.frame,
                        "stratum": rnd.strata[s.stratum].name,
                        "look": stage,
                        "confidence": b.confidence if b is not None else None,
                        "xyxy": list(b.xyxy.as_tuple()) if b is not None else None,
                        "outcome": s.outcome,
                    }
                )
        return rows
