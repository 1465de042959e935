"""The use cases: what a user's request does, end to end, for both front ends.

``cli`` and ``gui`` call this layer; it calls the engine (:mod:`tracker_annotate.tracking`)
and the files (:mod:`tracker_annotate.io`), which are peers and never import it. No Qt.

* :mod:`.pipeline`: track one file (keyframes + media -> annotations or a project);
* :mod:`.batch_plan` and :mod:`.batch`: plan and run many (process pool or Dask, resume,
  summary JSON);
* :mod:`.prelabel`: detect to a file, and tracks started by detections;
* :mod:`.document`: open a project or media headless (create, reopen, relink, the
  read-only fallback); front ends hand in their length scan and view-save timer;
* :mod:`.jobs`: tracking runs on an open project (a snapshot, a worker handle with its own
  small frame cache, the result applied as one undo step) and the re-track-after-edit queue;
* :mod:`.detector_pass`: after "Track all", the detector's new objects and re-found tracks,
  returned with the job and installed in its undo step.
"""
