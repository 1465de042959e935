"""Files in and out: media (videos, image folders, MOT sequences, with a frame cache), the
project store (SQLite ``.taproj``: autosave, backups, audit trail) and the interchange
formats (:mod:`.formats`). Imports only ``core``; never the engine, never Qt."""
