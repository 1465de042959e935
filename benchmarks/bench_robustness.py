"""The long versions of the robustness proofs: importer/opener fuzzing and the kill -9 soak.

The normal test suite runs both bounded (150 fuzz examples per target, 12 kills; about two
minutes together). This runs them long and prints the counts for a resolve note::

    python benchmarks/bench_robustness.py [--examples 3000] [--kills 100]

Fuzzed cases: per target ``--examples`` structured mutations and random inputs (six
readers and the project opener), plus ``--examples // 5`` per format through the CLI
import. Every one must end in our error family or a valid result; every kill must leave
the file with every committed change, stale marks on edits awaiting their re-track, and a
clean ``PRAGMA quick_check``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FUZZ_TARGETS = 6 + 1  # readers + the project opener
IMPORT_FORMATS = 3


def _pytest(args: list[str], env: dict[str, str]) -> tuple[int, str, float]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    # stdout only: pytest's report; stderr holds the refusals the fuzzed CLI prints
    return proc.returncode, proc.stdout, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", type=int, default=3000, help="fuzz examples per target")
    ap.add_argument("--kills", type=int, default=100, help="kill -9 soak runs")
    ap.add_argument("--skip-fuzz", action="store_true")
    ap.add_argument("--skip-soak", action="store_true")
    args = ap.parse_args()
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    failed = False
    if not args.skip_fuzz:
        env["TA_FUZZ_EXAMPLES"] = str(args.examples)
        code, out, secs = _pytest(["tests/io/test_fuzz_importers.py", "-m", "fuzz"], env)
        cases = FUZZ_TARGETS * args.examples + IMPORT_FORMATS * max(10, args.examples // 5)
        print(f"fuzz: {cases} cases in {secs:.0f} s: {'ok' if code == 0 else 'FAILED'}")
        if code:
            print(out[-4000:])
            failed = True
    if not args.skip_soak:
        env["TA_SOAK_KILLS"] = str(args.kills)
        code, out, secs = _pytest(["tests/gui/test_kill_soak.py", "-m", "soak"], env)
        line = next((ln for ln in out.splitlines() if ln.startswith("kill -9 soak")), "")
        print(f"soak: {line or 'no summary'} in {secs:.0f} s: {'ok' if code == 0 else 'FAILED'}")
        if code:
            print(out[-4000:])
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
