"""`make bench`: run every benchmarks/bench_*.py in its own process; the last line printed is
one JSON object merging every figure (name -> number)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def main() -> int:
    figures: dict[str, float] = {}
    failed: list[str] = []
    only = set(sys.argv[1:])
    for path in sorted(Path(__file__).parent.glob("bench_*.py")):
        if only and path.stem not in only:
            continue
        print(f"== {path.stem}", file=sys.stderr, flush=True)
        done = subprocess.run(
            [sys.executable, "-m", f"benchmarks.{path.stem}"],
            capture_output=True,
            text=True,
            check=False,
        )
        sys.stderr.write(done.stderr[-4000:])
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode != 0 or not lines:
            failed.append(path.stem)
            continue
        result = json.loads(lines[-1])
        print(json.dumps(result), file=sys.stderr)
        figures.update(result)
    if failed:
        figures["benchmarks_failed"] = len(failed)
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    print(json.dumps(figures, sort_keys=True))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
