"""The dataset audit's manifest: a small JSON file in the dataset folder.

It holds what belongs to the dataset rather than to one project: the projects of the set
(paths relative to the manifest's folder, POSIX separators), the target and the acceptance
plan, and each round's seed, band edges, and per project the index of the round its
samples are stored in (the samples themselves live in each project's store, where the
app walks them with F) and the fingerprints of its boxes at the draw. The last figures are
kept too. Written atomically (a sibling temporary file, flushed and renamed over the old
one), keys sorted: the same state gives the same bytes.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tracker_annotate.core.errors import ProjectError

#: The manifest's name in a dataset folder.
MANIFEST_NAME = "dataset_audit.json"
FORMAT = "tracker_annotate dataset audit"
VERSION = 1


@dataclass
class ManifestProject:
    """One project in a round. ``round``: index into the project's audit rounds, ``-1``
    when it got no sample (no unseen box); ``fingerprints``: track id -> hash of its
    unseen boxes that are not samples (:func:`~.core.dataset_audit.track_fingerprints`)."""

    path: str
    round: int
    unseen: int
    visible: int
    samples: int
    fingerprints: dict[str, str] = field(default_factory=dict)


@dataclass
class ManifestRound:
    seed: int
    started: str  # UTC, ISO 8601
    edges: list[float]
    projects: list[ManifestProject]
    decision: str = "check"
    look: int = 0


@dataclass
class Manifest:
    """The dataset audit's state; ``rounds[-1]`` is current."""

    target: float
    risk: float
    looks: int
    interim_alpha: float
    level: float
    projects: list[str]
    rounds: list[ManifestRound] = field(default_factory=list)
    figures: dict[str, Any] | None = None

    def to_json(self) -> str:
        d = {"format": FORMAT, "version": VERSION, **asdict(self)}
        return json.dumps(d, indent=2, sort_keys=True) + "\n"


def read_manifest(path: str | os.PathLike[str]) -> Manifest:
    """The manifest at ``path``; :class:`ProjectError` naming the file and what was
    expected when it is missing or damaged."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProjectError(
            f"{p}: no dataset audit here; run 'tracker-annotate audit DIR start' first"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProjectError(f"{p}: cannot read the dataset audit manifest: {exc}") from exc
    try:
        d = json.loads(text)
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise ValueError(f'expected a JSON object with "format": "{FORMAT}"')
        if d.get("version") != VERSION:
            raise ValueError(f"version {d.get('version')!r}; this version reads {VERSION}")
        rounds = [
            ManifestRound(
                int(r["seed"]),
                str(r["started"]),
                [float(e) for e in r["edges"]],
                [
                    ManifestProject(
                        str(mp["path"]),
                        int(mp["round"]),
                        int(mp["unseen"]),
                        int(mp["visible"]),
                        int(mp["samples"]),
                        {str(k): str(v) for k, v in dict(mp["fingerprints"]).items()},
                    )
                    for mp in r["projects"]
                ],
                str(r["decision"]),
                int(r["look"]),
            )
            for r in d["rounds"]
        ]
        figures = d.get("figures")
        if figures is not None and not isinstance(figures, dict):
            raise ValueError("figures must be an object or null")
        return Manifest(
            float(d["target"]),
            float(d["risk"]),
            int(d["looks"]),
            float(d["interim_alpha"]),
            float(d["level"]),
            [str(x) for x in d["projects"]],
            rounds,
            figures,
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        what = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ProjectError(
            f"{p}: the dataset audit manifest is damaged ({what}); expected the JSON "
            f"written by 'tracker-annotate audit' (restore it, or remove it and start a "
            f"new dataset audit)"
        ) from exc


def write_manifest(path: str | os.PathLike[str], manifest: Manifest) -> None:
    """Write ``manifest`` to ``path`` atomically: the old file stays whole until the new
    one is complete on disk."""
    p = Path(path)
    tmp = p.with_name(f".{p.name}.tmp{os.getpid()}")
    try:
        with tmp.open("w", encoding="utf-8", newline="\n") as fh:
            fh.write(manifest.to_json())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ProjectError(f"{p}: cannot write the dataset audit manifest: {exc}") from exc
