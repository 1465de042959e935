"""tracker_annotate: label a box on a keyframe, let the tracker carry it, review only the flags."""

__version__ = "0.1.0"
