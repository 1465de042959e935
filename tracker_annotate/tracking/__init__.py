"""The engine: keyframes plus frames in, scored boxes out (:class:`.api.TrackingRun`).

Measurement back-ends (:mod:`.backends`: NanoTrack, CSRT, the v1 cascade, ...), the Kalman
filter, forward/backward passes and their fusion, IoU matching to a model's detections, the
detector and its proposals, and the calibrated confidence. Imports only ``core`` and the
shipped ``models``: it reads frames through the :class:`~tracker_annotate.core.frames.FrameSource`
protocol and never opens a file itself (that is ``io``'s, and the use cases' in ``app``)."""
