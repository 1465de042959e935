"""CVAT for video 1.1 XML (``annotations.xml``), read and written.

The layout (element and attribute names as CVAT's and Datumaro's ``cvat`` importers read
them)::

    <annotations>
      <version>1.1</version>
      <meta><task> <size/> <mode>interpolation</mode> <labels><label> <name/> <color/>
          <attributes><attribute><name/><input_type/>...</attribute></attributes>
        </label></labels> <original_size><width/><height/></original_size> </task></meta>
      <track id="1" label="person" source="manual">
        <box frame="0" keyframe="1" outside="0" occluded="0" xtl ytl xbr ybr z_order="0">
          <attribute name="ta_confidence">1</attribute> ...
        </box>
      </track>
    </annotations>

Frames are 0-based, as in CVAT. **Reading** follows CVAT's interpolation semantics: a
track's shapes are keyframes; frames between two visible shapes that the file leaves out
are filled by linear interpolation (source INTERPOLATED); an ``outside`` shape ends the
visible stretch (no boxes until the next shape; an outside keyframe is kept as an
``outside`` box, the way :func:`~tracker_annotate.core.commands.mark_outside` marks a
track's end); a track whose last shape is visible continues to the task's last frame.
Shapes written without ``keyframe="1"`` (CVAT writes every frame) become INTERPOLATED
boxes, keyframes MANUAL. Elements other than the ones above are a :class:`FormatError`
(``<image>`` means "CVAT for images", not supported); ``<meta>`` is read leniently.

**Writing** puts every box of every track in the file, then, after each visible stretch
that does not reach the last frame, an ``outside="1"`` keyframe (CVAT would otherwise
extend the track to the end of the video). CVAT's importer keeps only ``keyframe="1"``
shapes and re-interpolates the rest linearly, so by default (``derived_keyframes=True``)
tracked boxes are keyframes too; with ``False`` only human boxes (manual or verified) and
the first and last box of each visible stretch are, which is tidier in CVAT but replaces
the tracker's boxes in between by straight lines there.

Nothing is lost on our own round trip: each box carries ``ta_source``, ``ta_confidence``,
``ta_flagged``, ``ta_flag_reason`` and ``ta_verified`` attributes (declared in the labels'
``<attributes>``; CVAT drops attributes a task does not declare), synthesized end markers
have ``ta_source`` ``end`` and are not read back as boxes, tracks carry ``ta_name``,
``ta_hidden`` and ``ta_proposed`` XML attributes when set, and coordinates are written as
the shortest text that reads back to the same float. Tracks without boxes are not written
(CVAT cannot import an empty track). ``<original_size>`` (which Datumaro needs) is written
only when the project has media.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO
from xml.parsers import expat
from xml.sax.saxutils import escape, quoteattr

from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.core.project import MediaRef, Project, TrackInfo
from tracker_annotate.io.formats._build import (
    PathLike,
    ProjectBuilder,
    box_from_xyxy,
    fmt_float,
    last_frame,
    open_atomic,
    parse_float,
    parse_int,
    read_text,
)

log = logging.getLogger(__name__)

END_MARKER = "end"
_BOX_ATTRIBUTES = (
    # name, CVAT input_type, default, values
    ("ta_source", "select", BoxSource.MANUAL.value, [*(s.value for s in BoxSource), END_MARKER]),
    ("ta_confidence", "number", "1", ["0", "1", "0.0001"]),
    ("ta_flagged", "checkbox", "false", ["false"]),
    ("ta_flag_reason", "text", "", [""]),
    ("ta_verified", "checkbox", "false", ["false"]),
)
_TOP_LEVEL = {"version", "meta", "track"}
# CVAT's shape elements: their <attribute> children are values, not structure.
_SHAPES = {"box", "polygon", "polyline", "points", "ellipse", "cuboid", "mask", "skeleton"}


@dataclass
class _Node:
    tag: str
    attrib: dict[str, str]
    line: int
    children: list[_Node] = field(default_factory=list)
    text: str = ""
    #: ``<attribute name="n">v</attribute>`` children of a shape, kept as ``{n: v}``
    #: instead of nodes (a box has several; fewer objects keep big files fast to read).
    values: dict[str, str] = field(default_factory=dict)

    def child(self, tag: str) -> _Node | None:
        return next((c for c in self.children if c.tag == tag), None)

    def child_text(self, tag: str) -> str | None:
        c = self.child(tag)
        return c.text.strip() if c is not None else None


def _parse_xml(text: str, builder: ProjectBuilder, on_child: Callable[[_Node], None]) -> None:
    """Parse ``text``, handing each complete child of the root element to ``on_child``.

    Nodes know their line, so errors can point at it. Only one child of the root is held
    at a time, so memory follows the largest track, not the file.
    """
    parser = expat.ParserCreate()
    parser.buffer_text = True  # one call per text run instead of one per line
    parser.buffer_size = 1 << 16
    stack: list[_Node] = []
    value: list[str] | None = None  # text of the shape <attribute> being read
    value_name = ""

    def start(tag: str, attrib: dict[str, str]) -> None:
        nonlocal value, value_name
        if tag == "attribute" and len(stack) > 2 and stack[-1].tag in _SHAPES and "name" in attrib:
            value, value_name = [], attrib["name"]
            return
        node = _Node(tag, attrib, parser.CurrentLineNumber)
        if not stack and tag != "annotations":
            raise builder.error(f"root element is <{tag}>, expected <annotations>", node.line)
        if len(stack) > 1:
            stack[-1].children.append(node)
        stack.append(node)

    def end(tag: str) -> None:
        nonlocal value
        if value is not None:
            stack[-1].values[value_name] = "".join(value)
            value = None
            return
        node = stack.pop()
        if len(stack) == 1:
            on_child(node)

    def chars(data: str) -> None:
        if value is not None:
            value.append(data)
        elif len(stack) > 1:
            stack[-1].text += data

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    try:
        parser.Parse(text, True)
    except expat.ExpatError as exc:
        reason = expat.errors.messages[exc.code]
        raise builder.error(f"not well-formed XML: {reason}", exc.lineno) from exc


def _flag(node: _Node, name: str, builder: ProjectBuilder, default: str = "0") -> bool:
    value = node.attrib.get(name, default)
    if value not in ("0", "1"):
        raise builder.error(f"expected 0 or 1, got {value!r}", node.line, name)
    return value == "1"


def _bool_attr(value: str, builder: ProjectBuilder, line: int, name: str) -> bool:
    v = value.strip().lower()
    if v not in ("true", "false"):
        raise builder.error(f"expected true or false, got {value!r}", line, name)
    return v == "true"


@dataclass
class _Shape:
    frame: int
    xyxy: BoxXYXY
    keyframe: bool
    outside: bool
    occluded: bool
    attrs: dict[str, str]
    line: int


def _read_meta(meta: _Node, builder: ProjectBuilder) -> int | None:
    """Declare the labels; return the task's frame count when given."""
    task = meta.child("task") or meta.child("job") or meta.child("project")
    if task is None:
        return None
    labels = task.child("labels")
    for lab in labels.children if labels is not None else []:
        if lab.tag != "label":
            continue
        name = lab.child_text("name")
        if not name:
            raise builder.error("a label needs a <name>", lab.line, "name")
        color = lab.child_text("color")
        rgb = None
        if color and len(color) == 7 and color.startswith("#"):
            try:
                rgb = (int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16))
            except ValueError:
                raise builder.error(f"bad colour {color!r}", lab.line, "color") from None
        builder.add_label(name, rgb)
    size = task.child("size")
    if size is None or not size.text.strip():
        return None
    n = parse_int(size.text.strip(), builder, size.line, "size")
    # a track's last shape is copied to the task's end: a huge size would be a hang
    limit = builder.media.n_frames if builder.media is not None else MAX_TASK_FRAMES
    if not 0 <= n <= limit:
        what = f"the media's {limit} frames" if builder.media is not None else f"{limit} frames"
        raise builder.error(
            f"task size {n} is not a frame count (expected 0 to {what})", size.line, "size"
        )
    return n


#: Largest task length (frames) believed without media: 9 hours at 30 fps.
MAX_TASK_FRAMES = 1_000_000


def _read_shape(node: _Node, builder: ProjectBuilder) -> _Shape:
    if node.tag != "box":
        raise builder.error(
            f"unexpected <{node.tag}> in a track; only <box> shapes are supported", node.line
        )
    for key in ("frame", "xtl", "ytl", "xbr", "ybr"):
        if key not in node.attrib:
            raise builder.error(f"<box> is missing {key!r}", node.line, key)
    frame = parse_int(node.attrib["frame"], builder, node.line, "frame")
    if frame < 0:
        raise builder.error(
            f"frame {frame} is negative (CVAT frames are 0-based)", node.line, "frame"
        )
    coords = [
        parse_float(node.attrib[k], builder, node.line, k) for k in ("xtl", "ytl", "xbr", "ybr")
    ]
    if node.children:  # <attribute name=...> children are in values, not children
        bad = node.children[0]
        raise builder.error(
            f"unexpected <{bad.tag}> in <box>; expected <attribute name=...>", bad.line
        )
    attrs = node.values
    return _Shape(
        frame,
        box_from_xyxy(coords, builder, node.line, "xtl", names=("xtl", "ytl", "xbr", "ybr")),
        _flag(node, "keyframe", builder, "1"),
        _flag(node, "outside", builder),
        _flag(node, "occluded", builder),
        attrs,
        node.line,
    )


def _frame_box(s: _Shape, builder: ProjectBuilder) -> FrameBox:
    a = s.attrs
    source_text = a.get("ta_source")
    if source_text is None:
        source = BoxSource.MANUAL if s.keyframe or s.outside else BoxSource.INTERPOLATED
    else:
        try:
            source = BoxSource(source_text.strip())
        except ValueError:
            raise builder.error(
                f"unknown source {source_text!r}; expected one of {[v.value for v in BoxSource]}",
                s.line,
                "ta_source",
            ) from None
    confidence = 1.0
    if "ta_confidence" in a:
        confidence = parse_float(a["ta_confidence"], builder, s.line, "ta_confidence")
        if not 0 <= confidence <= 1:
            raise builder.error(
                f"confidence {confidence} is not in [0, 1]", s.line, "ta_confidence"
            )
    flagged = _bool_attr(a.get("ta_flagged", "false"), builder, s.line, "ta_flagged")
    verified = _bool_attr(a.get("ta_verified", "false"), builder, s.line, "ta_verified")
    return FrameBox(
        s.frame,
        s.xyxy,
        source,
        confidence,
        flagged=flagged,
        flag_reason=a.get("ta_flag_reason", "") if flagged else "",
        verified=verified,
        occluded=s.occluded,
        outside=s.outside,
    )


def _lerp(a: BoxXYXY, b: BoxXYXY, t: float) -> BoxXYXY:
    return BoxXYXY(*(x + (y - x) * t for x, y in zip(a.as_tuple(), b.as_tuple(), strict=True)))


def _read_track(node: _Node, builder: ProjectBuilder, size: int | None) -> None:
    for key in ("id", "label"):
        if key not in node.attrib:
            raise builder.error(f"<track> is missing {key!r}", node.line, key)
    tid = parse_int(node.attrib["id"], builder, node.line, "id")
    if tid < 0:
        raise builder.error(f"track id {tid} is negative", node.line, "id")
    label = node.attrib["label"]
    if builder.labels and label not in builder.labels:
        raise builder.error(
            f"label {label!r} is not declared in <meta>; known: {sorted(builder.labels)}",
            node.line,
            "label",
        )
    info = TrackInfo(
        tid,
        builder.add_label(label),
        node.attrib.get("ta_name", ""),
        _flag(node, "ta_hidden", builder),
        _flag(node, "ta_proposed", builder),
    )
    builder.add_track(info, node.line)
    shapes = sorted((_read_shape(c, builder) for c in node.children), key=lambda s: s.frame)
    for prev, cur in itertools.pairwise(shapes):
        if prev.frame == cur.frame:
            raise builder.error(
                f"track {tid} has two shapes on frame {cur.frame} (first at line {prev.line})",
                cur.line,
                "frame",
            )
    for i, s in enumerate(shapes):
        marker = s.attrs.get("ta_source", "").strip() == END_MARKER
        if not marker and (not s.outside or s.keyframe):
            builder.add_box(tid, _frame_box(s, builder), s.line, box_field="xtl,ytl,xbr,ybr")
        if s.outside:
            continue
        nxt = shapes[i + 1] if i + 1 < len(shapes) else None
        stop = nxt.frame if nxt is not None else (size if size is not None else s.frame + 1)
        for f in range(s.frame + 1, stop):
            if size is not None and f >= size:
                break
            t = (f - s.frame) / (nxt.frame - s.frame) if nxt is not None else 0.0
            xyxy = _lerp(s.xyxy, nxt.xyxy, t) if nxt is not None else s.xyxy
            box = FrameBox(f, xyxy, BoxSource.INTERPOLATED, 1.0, occluded=s.occluded)
            builder.add_box(tid, box, s.line, box_field="xtl,ytl,xbr,ybr")


def read_cvat(path: PathLike, *, media: MediaRef | None = None) -> Project:
    """Read a CVAT for video 1.1 file into a new project (see the module doc)."""
    builder = ProjectBuilder(path, media)
    # The task's own size says where a track without an outside shape ends; the media's
    # length stands in when the file has no <meta>.
    size = media.n_frames if media is not None else None
    task_ids: set[str] = set()

    def on_child(node: _Node) -> None:
        nonlocal size
        if node.tag == "image":
            raise builder.error(
                "<image> belongs to 'CVAT for images'; export the task as 'CVAT for video 1.1'",
                node.line,
            )
        if node.tag not in _TOP_LEVEL:
            raise builder.error(
                f"unexpected element <{node.tag}>; expected one of {sorted(_TOP_LEVEL)}", node.line
            )
        if node.tag == "version" and node.text.strip() != "1.1":
            log.warning("%s: CVAT XML version %r, expected 1.1", path, node.text.strip())
        elif node.tag == "meta":
            task_size = _read_meta(node, builder)
            size = task_size if task_size is not None else size
        elif node.tag == "track":
            if "task_id" in node.attrib:
                task_ids.add(node.attrib["task_id"])
                if len(task_ids) > 1:
                    raise builder.error(
                        f"tracks of tasks {sorted(task_ids)}: a CVAT project export mixes "
                        "several videos; export one task or job",
                        node.line,
                        "task_id",
                    )
            _read_track(node, builder, size)

    _parse_xml(read_text(path), builder, on_child)
    return builder.build(f"Import {Path(path).name}")


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrib)
    if text is not None:
        el.text = text
    return el


def _meta(project: Project, root: ET.Element, size: int, name: str) -> None:
    meta = _sub(root, "meta")
    task = _sub(meta, "task")
    _sub(task, "name", name)
    _sub(task, "size", str(size))
    _sub(task, "mode", "interpolation")
    _sub(task, "overlap", "0")
    _sub(task, "start_frame", "0")
    _sub(task, "stop_frame", str(max(size - 1, 0)))
    labels = _sub(task, "labels")
    for lab in project.labels.values():
        el = _sub(labels, "label")
        _sub(el, "name", _xml_safe(lab.name))
        _sub(el, "color", lab.hex)
        _sub(el, "type", "rectangle")
        attrs = _sub(el, "attributes")
        for attr_name, input_type, default, values in _BOX_ATTRIBUTES:
            a = _sub(attrs, "attribute")
            _sub(a, "name", attr_name)
            _sub(a, "mutable", "True")
            _sub(a, "input_type", input_type)
            _sub(a, "default_value", default)
            _sub(a, "values", "\n".join(values))
    if project.media is not None:
        orig = _sub(task, "original_size")
        _sub(orig, "width", str(project.media.width))
        _sub(orig, "height", str(project.media.height))
        _sub(task, "source", Path(project.media.path).name)
    _quality_meta(project, meta)


def _quality_meta(project: Project, meta: ET.Element) -> None:
    """``<tracker_annotate_quality>``: the quality figures (CVAT ignores unknown meta)."""
    from tracker_annotate.core.quality_report import quality_report

    rep = quality_report(project)
    q = _sub(meta, "tracker_annotate_quality")
    for key in ("target_residual", "predicted_residual", "unreviewed_flags", "visible_boxes"):
        _sub(q, key, str(rep[key]))
    a = rep["audit"]
    if a is not None:
        el = _sub(q, "audit", seed=str(a["seed"]), drawn=str(a["drawn"]))
        _sub(el, "checked", str(a["checked"]))
        _sub(el, "wrong", str(a["wrong"]))
        _sub(el, "summary", _xml_safe(a["summary"]))
        est = a["estimate"]
        if est is not None:
            lo, hi = est["residual_interval"]
            _sub(el, "residual", str(est["residual"]), low=str(lo), high=str(hi), level="0.95")
            _sub(el, "interval_method", est["interval_method"])
    d = rep["dataset_audit"]
    if d is not None:  # the figures of the dataset audit this project is part of
        iv = d["residual_interval"] or [None, None]
        attrs = {"projects": d["projects"], "samples": d["samples"], "level": d["level"]}
        el = _sub(q, "dataset_audit", **{k: str(v) for k, v in attrs.items()})
        _sub(el, "residual", str(d["residual"]), low=str(iv[0]), high=str(iv[1]))
        _sub(el, "decision", d["decision"], target=str(d["target"]), date=d["date"])
    _sub(q, "json", _xml_safe(json.dumps(rep, sort_keys=True)))


# Characters XML 1.0 cannot hold at all (even escaped); they are dropped on export.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_safe(text: str) -> str:
    return _NOT_XML.sub("", text)


def _text(text: str) -> str:
    """Element text that reads back unchanged (a bare CR would be read as LF)."""
    return escape(_xml_safe(text), {"\r": "&#13;"})


def _box_xml(box: FrameBox, *, keyframe: bool, source: str, decimals: int | None) -> str:
    coords = " ".join(
        f'{k}="{fmt_float(v, decimals)}"'
        for k, v in zip(("xtl", "ytl", "xbr", "ybr"), box.xyxy.as_tuple(), strict=True)
    )
    values = (
        ("ta_source", source),
        ("ta_confidence", fmt_float(box.confidence, None)),
        ("ta_flagged", "true" if box.flagged else "false"),
        ("ta_flag_reason", _text(box.flag_reason)),
        ("ta_verified", "true" if box.verified else "false"),
    )
    attrs = "".join(f'\n      <attribute name="{n}">{v}</attribute>' for n, v in values)
    return (
        f'    <box frame="{box.frame}" keyframe="{int(keyframe)}" outside="{int(box.outside)}" '
        f'occluded="{int(box.occluded)}" {coords} z_order="0">{attrs}\n    </box>\n'
    )


def write_cvat(
    project: Project,
    path: PathLike,
    *,
    derived_keyframes: bool = True,
    decimals: int | None = None,
) -> None:
    """Write a CVAT for video 1.1 file (see the module doc for ``derived_keyframes``).

    ``decimals=None`` writes coordinates exactly; CVAT itself writes 2 places. The boxes
    are streamed to the file, so memory does not grow with the number of boxes.
    """
    size = project.media.n_frames if project.media is not None else last_frame(project) + 1
    if project.media is None:
        log.warning("no media: <original_size> omitted (Datumaro's cvat importer needs it)")
    root = ET.Element("annotations")
    _sub(root, "version", "1.1")
    name = Path(project.media.path).stem if project.media is not None else Path(path).stem
    _meta(project, root, size, name)
    ET.indent(root, space="  ")
    head = ET.tostring(root, encoding="unicode")
    with open_atomic(path) as fh:
        fh.write('<?xml version="1.0" encoding="utf-8"?>\n')
        fh.write(head.removesuffix("</annotations>") + "\n")
        for tid in sorted(project.tracks):
            _write_track(
                fh, project, tid, size=size, derived_keyframes=derived_keyframes, decimals=decimals
            )
        fh.write("</annotations>\n")


def _write_track(
    fh: TextIO,
    project: Project,
    tid: int,
    *,
    size: int,
    derived_keyframes: bool,
    decimals: int | None,
) -> None:
    info = project.track(tid)
    boxes = project.boxes(tid)
    if not boxes:
        log.info("track %d has no boxes; CVAT cannot hold an empty track, skipped", tid)
        return
    derived = any(b.is_derived for b in boxes.values())
    attrib = {
        "id": str(tid),
        "label": info.label,
        "source": "auto" if info.proposed else ("semi-auto" if derived else "manual"),
    }
    if info.name:
        attrib["ta_name"] = info.name
    if info.hidden:
        attrib["ta_hidden"] = "1"
    if info.proposed:
        attrib["ta_proposed"] = "1"
    fh.write("  <track " + " ".join(f"{k}={quoteattr(_xml_safe(v))}" for k, v in attrib.items()))
    fh.write(">\n")
    for frame in sorted(boxes):
        box = boxes[frame]
        # CVAT keeps only keyframes and interpolates between them, so the first and last
        # box of every visible stretch must be one even when derived: else the stretch
        # would shrink, or a track of tracked boxes would have no keyframe (CVAT fails).
        prev, nxt = boxes.get(frame - 1), boxes.get(frame + 1)
        edge = prev is None or prev.outside or nxt is None or nxt.outside
        keyframe = box.outside or box.is_keyframe or derived_keyframes or edge
        fh.write(_box_xml(box, keyframe=keyframe, source=box.source.value, decimals=decimals))
        if not box.outside and frame + 1 not in boxes and frame + 1 < size:
            end = box.with_(
                frame=frame + 1,
                outside=True,
                source=BoxSource.MANUAL,
                confidence=1.0,
                flagged=False,
                verified=False,
            )
            fh.write(_box_xml(end, keyframe=True, source=END_MARKER, decimals=decimals))
    fh.write("  </track>\n")
