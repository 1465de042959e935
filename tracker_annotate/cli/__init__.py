"""``tracker-annotate``: the command line, one module per command (:mod:`.main` dispatches).

A thin front end over ``app``: it parses options (declared once, in :mod:`.options`), turns
errors into one clear line and an exit code, and owns process state (the SIGINT handler,
matplotlib's backend). Runs without Qt: only the ``gui`` command imports the app, lazily."""
