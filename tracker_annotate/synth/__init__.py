"""Deterministic synthetic sequences with exact ground truth (numpy + OpenCV, no Qt).

``generate(SynthConfig(...))`` scripts textured objects over a textured, panning background
with crossings, occlusion, look-alikes, scale change, lighting changes and an exit and
re-entry; the GT comes from the rendered id map, so it is exact. The writers put it on disk
in MOTChallenge layout, as a video file, and as a keyframe file for the demo.
"""

from tracker_annotate.synth.config import SynthConfig
from tracker_annotate.synth.sequence import (
    SynthFrame,
    SynthGroundTruth,
    SynthSequence,
    SynthTrack,
    generate,
    shape_mask,
)
from tracker_annotate.synth.writers import (
    SAMPLE_CONFIG,
    SAMPLE_JPEG_QUALITY,
    SAMPLE_NAME,
    SamplePaths,
    config_from_json,
    config_to_json,
    count_decodable_frames,
    keyframe_rows,
    write_keyframes,
    write_mot_sequence,
    write_sample,
    write_video,
)

__all__ = [
    "SAMPLE_CONFIG",
    "SAMPLE_JPEG_QUALITY",
    "SAMPLE_NAME",
    "SamplePaths",
    "SynthConfig",
    "SynthFrame",
    "SynthGroundTruth",
    "SynthSequence",
    "SynthTrack",
    "config_from_json",
    "config_to_json",
    "count_decodable_frames",
    "generate",
    "keyframe_rows",
    "shape_mask",
    "write_keyframes",
    "write_mot_sequence",
    "write_sample",
    "write_video",
]
