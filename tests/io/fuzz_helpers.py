"""Inputs for fuzzing the importers and the project opener: valid seed files and the ways
real files go wrong (truncated, a field replaced by something absurd, lines shuffled,
duplicated or dropped, random bytes), as hypothesis strategies.

``FUZZ_EXAMPLES`` (environment variable ``TA_FUZZ_EXAMPLES``) sets the examples per target:
a small number in the normal suite, thousands for ``benchmarks/fuzz_long.py``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from tracker_annotate.core.errors import TrackerAnnotateError
from tracker_annotate.core.project import MediaRef

FUZZ_EXAMPLES = int(os.environ.get("TA_FUZZ_EXAMPLES", "150"))
MEDIA = MediaRef("/videos/clip.mp4", 60, 640, 480, 25.0)

MOT_SEED = "\n".join(
    [
        "1,1,10.5,20,30,40,1,1,0.9",
        "2,1,12,22,30,40,1,1,0.8",
        "3,1,14,24,30,40,1,1,0.2",
        "1,2,100,100,50,80,1,3,1",
        "5,2,110,100,50,80,0,3,1",
        "",
        "# a comment",
        "7,3,600,400,60,90,0.5,-1,-1",
    ]
)
DET_SEED = "\n".join(
    [
        "1,-1,10,20,30,40,0.9,-1,-1,-1",
        "1,-1,200,200,40,40,0.35,-1,-1,-1",
        "2,-1,12,21,30,40,0.88,-1,-1,-1",
        "9,-1,0,0,639,479,0.01,-1,-1,-1",
    ]
)
CVAT_SEED = """<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta><task><size>60</size><mode>interpolation</mode>
    <labels><label><name>car</name><color>#ff0000</color></label>
            <label><name>person</name><color>#00ff00</color></label></labels>
    <original_size><width>640</width><height>480</height></original_size>
  </task></meta>
  <track id="0" label="car">
    <box frame="0" keyframe="1" outside="0" occluded="0" xtl="10" ytl="20" xbr="60" ybr="80"/>
    <box frame="5" keyframe="1" outside="0" occluded="1" xtl="20" ytl="20" xbr="70" ybr="80">
      <attribute name="ta_source">tracked</attribute>
    </box>
    <box frame="9" keyframe="1" outside="1" occluded="0" xtl="20" ytl="20" xbr="70" ybr="80"/>
  </track>
  <track id="1" label="person">
    <box frame="3" keyframe="1" outside="0" occluded="0" xtl="300" ytl="200" xbr="340" ybr="300"/>
  </track>
</annotations>
"""
COCO_SEED = json.dumps(
    {
        "videos": [{"id": 1, "name": "clip", "width": 640, "height": 480, "length": 60}],
        "images": [
            {"id": i + 1, "video_id": 1, "frame_id": i, "file_name": f"clip/{i}.jpg"}
            for i in range(6)
        ],
        "categories": [{"id": 1, "name": "car"}, {"id": 2, "name": "person"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "track_id": 1, "bbox": [10, 20, 30, 40]},
            {"id": 2, "image_id": 2, "category_id": 1, "track_id": 1, "bbox": [12, 20, 30, 40]},
            {
                "id": 3,
                "image_id": 4,
                "category_id": 2,
                "track_id": 2,
                "bbox": [300, 200, 40, 90],
                "score": 0.7,
                "attributes": {"occluded": True, "ta_source": "tracked", "ta_flagged": True},
            },
        ],
    },
    indent=1,
)
COCO_DET_SEED = json.dumps(
    [
        {"image_id": 1, "category_id": 1, "bbox": [10, 20, 30, 40], "score": 0.9},
        {"image_id": 3, "category_id": 2, "bbox": [100, 120, 30, 40], "score": 0.4},
    ]
)
SEQINFO_SEED = (
    "[Sequence]\nname=SEQ\nimDir=img1\nframeRate=25\nseqLength=4\n"
    "imWidth=64\nimHeight=48\nimExt=.png\n"
)

#: Values that break parsers: non-numbers, non-finite, huge, negative, empty, control
#: characters, markup, very long.
NASTY = [
    "nan",
    "NaN",
    "inf",
    "-inf",
    "1e300",
    "-1e300",
    "1e309",
    "99999999999999999999999",
    "-99999999999999999999999",
    "0",
    "-0",
    "-1",
    "-5",
    "0.0000001",
    "1.5",
    "",
    " ",
    "\x00",
    "\ufeff",
    "é",
    "\U0001f600",
    "0x10",
    "1,2",
    "<",
    "&",
    '"',
    "'",
    "]]>",
    "&#0;",
    "&lol;",
    "null",
    "true",
    "[]",
    "{}",
    "[1,2,3,4,5]",
    "A" * 300,
    "1" * 40,
    "\n",
    "\r",
    "\t",
]


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    cur = ""
    for ch in text:
        if ch.isalnum() or ch in ".-+_#":
            cur += ch
        else:
            if cur:
                out.append(cur)
            out.append(ch)
            cur = ""
    if cur:
        out.append(cur)
    return out


@st.composite
def mutated(draw: st.DrawFn, seed: str) -> str:
    """``seed`` with 1-4 mutations a broken file shows."""
    text = seed
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(
            st.sampled_from(["token", "token", "token", "truncate", "line", "dup", "insert"])
        )
        if kind == "token":
            toks = _tokens(text)
            if not toks:
                continue
            i = draw(st.integers(0, len(toks) - 1))
            toks[i] = draw(st.sampled_from(NASTY) | st.text(max_size=8))
            text = "".join(toks)
        elif kind == "truncate":
            text = text[: draw(st.integers(0, len(text)))]
        elif kind in ("line", "dup"):
            lines = text.split("\n")
            i = draw(st.integers(0, max(0, len(lines) - 1)))
            if kind == "line":
                del lines[i]
            else:
                lines.insert(i, lines[i] if lines else "")
            text = "\n".join(lines)
        else:
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(st.sampled_from(NASTY)) + text[at:]
    return text


def inputs(seed: str) -> st.SearchStrategy[bytes]:
    """Structured mutations of ``seed`` (most), and raw random bytes."""
    return st.one_of(
        mutated(seed).map(lambda t: t.encode("utf-8", "surrogatepass")),
        mutated(seed).map(lambda t: t.encode("utf-8", "surrogatepass")),
        mutated(seed).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.binary(max_size=400),
    )


def only_our_errors(fn: Callable[[], Any], what: str) -> Any:
    """Run ``fn``; a :class:`TrackerAnnotateError` is the expected refusal. Any other
    exception fails the test (with its type, so the corpus case says what broke)."""
    try:
        return fn()
    except TrackerAnnotateError:
        return None
    except Exception as exc:
        raise AssertionError(f"{what}: {type(exc).__name__}: {exc}") from exc


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
