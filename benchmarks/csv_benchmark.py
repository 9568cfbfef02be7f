"""Loading a large CSV: the row-by-row csv reader (old) against numpy's parser (new).

Generates a numeric table of about `--mb` megabytes (ten features and an integer
class) in a temporary folder, then times each reader in a fresh process,
alternating old and new, and reports the median time and the peak memory the
load added (peak RSS after minus RSS before, with every library already
imported), as a multiple of the file size.
Targets (issue 11): new at least 5× faster than old, at most 3× the file in memory.

    PYTHONPATH=$PWD python benchmarks/csv_benchmark.py --mb 200 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FEATURES = 10

CHILD = """
import json, resource, sys, time
from pathlib import Path
import numpy as np
import pyarrow.compute, pyarrow.csv  # libraries loaded before measuring: only the data counts
from engine.data.csv_table import open_csv, read_rows, read_table, target_column

def rss_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

path, which = Path(sys.argv[1]), sys.argv[2]
before = rss_kib()
start = time.perf_counter()
if which == "old":
    header, _, handle, _ = open_csv(path)
    handle.close()
    x, targets = read_rows(path, header, target_column(path, header, {}))
    rows = len(x)
else:
    rows = len(read_table(path, {}).x)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "added_kib": peak - before, "rows": rows}))
"""


def write_table(path: Path, megabytes: float) -> int:
    """About `megabytes` of CSV: FEATURES float columns and a class column."""
    rng = np.random.default_rng(0)
    per_row = 97  # bytes per row of ten "%.6f" normals (9 or 10 characters) and a class
    rows = int(megabytes * 1e6 / per_row)
    with open(path, "w") as handle:
        handle.write(",".join([f"f{i}" for i in range(FEATURES)] + ["label"]) + "\n")
        for start in range(0, rows, 200_000):
            count = min(200_000, rows - start)
            block = np.column_stack([rng.normal(size=(count, FEATURES)),
                                     rng.integers(0, 5, count)])
            np.savetxt(handle, block, delimiter=",", fmt=["%.6f"] * FEATURES + ["%d"])
    return rows


def measure(path: Path, which: str) -> dict:
    result = subprocess.run([sys.executable, "-c", CHILD, str(path), which], cwd=ROOT,
                            capture_output=True, text=True, check=True,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    return json.loads(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=200.0, help="size of the generated CSV")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "table.csv"
        rows = write_table(path, args.mb)
        size_mib = path.stat().st_size / 2**20
        runs: dict[str, list[dict]] = {"old": [], "new": []}
        for _ in range(args.repeats):
            for which in ("old", "new"):  # alternating, so drift hits both alike
                runs[which].append(measure(path, which))
    print(f"CSV of {size_mib:.0f} MiB, {rows:,} rows × {FEATURES + 1} columns; "
          f"median of {args.repeats}")
    print(f"{'reader':<8}{'seconds':>10}{'memory ×file':>14}")
    medians = {}
    for which, results in runs.items():
        seconds = statistics.median(r["seconds"] for r in results)
        memory = statistics.median(r["added_kib"] for r in results) / 1024 / size_mib
        medians[which] = seconds
        print(f"{which:<8}{seconds:>10.2f}{memory:>14.2f}")
    print(f"speed-up new vs old: {medians['old'] / medians['new']:.1f}× (target ≥ 5×); "
          "memory target ≤ 3× the file")


if __name__ == "__main__":
    main()
