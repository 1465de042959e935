"""The labeling benchmark: a simulated annotator with measured per-action costs runs each
strategy (per-frame drawing, CVAT-style interpolation, the tracker with flags, the oracle,
the audited review) on sequences with ground truth, and the report tells the time saved
and the wrong boxes that slip past the flags. Ground truth reaches the tracker only through
the simulated annotator's actions. Built on ``app``; figures need the ``[bench]`` extra."""
