"""How fast NetCanvas starts: the CLI's quick commands, `check`, the window, idle memory.

Each row is a fresh process, timed from spawn to exit (or, for the window, to the
`first-paint` line that `NETCANVAS_STARTUP_TRACE` prints once the window has
painted the default preset, and to `engine-ready` once PyTorch, the trainers and
torch._dynamo have loaded in the background). Warm runs reuse Python's bytecode
cache; cold runs point PYTHONPYCACHEPREFIX at an empty folder, so every module
is compiled again, as on a first start without compiled bytecode (the operating
system's file cache cannot be dropped without root, so a cold boot is slower
still). The rows alternate, so a busy machine slows them alike; `import torch`
in a plain interpreter is the baseline a hand-written PyTorch script pays.

    python benchmarks/startup_benchmark.py [--warm 5] [--cold 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "engine.cli"]
COMMANDS: dict[str, list[str]] = {
    "import torch (baseline)": [sys.executable, "-c", "import torch"],
    "netcanvas --help": [*CLI, "--help"],
    "netcanvas --version": [*CLI, "--version"],
    "netcanvas presets": [*CLI, "presets"],
    "netcanvas check lenet_digits": [*CLI, "check", "lenet_digits"],
    "netcanvas check transformer_reverse": [*CLI, "check", "transformer_reverse"],
}
WINDOW = "netcanvas: window painted"
ENGINE = "netcanvas: PyTorch loaded behind it"


def _env(cold: bool) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NETCANVAS_NO_RECOVERY_PROMPT": "1"}
    if not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
    if cold:
        env["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="netcanvas-cold-")
    return env


def time_command(argv: list[str], cold: bool) -> float:
    began = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, env=_env(cold), cwd=ROOT, timeout=600)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stderr.decode()[-2000:]}")
    return seconds


def time_window(cold: bool) -> dict[str, float]:
    """Seconds to the first paint and to PyTorch loaded; resident memory at each (MiB)."""
    env = {**_env(cold), "NETCANVAS_STARTUP_TRACE": "exit"}
    began = time.perf_counter()
    proc = subprocess.Popen(CLI, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env,
                            cwd=ROOT, text=True)
    found: dict[str, float] = {}
    for line in proc.stderr:
        if line.startswith("netcanvas-trace"):
            now = time.perf_counter() - began
            fields = dict(f.split("=", 1) for f in line.split()[2:])
            key = WINDOW if "first-paint" in line else ENGINE
            found[key] = now
            found[f"{key} (MiB)"] = float(fields["rss_mib"])
    if proc.wait(timeout=600) != 0 or len(found) != 4:
        raise SystemExit(f"the window did not report both stages: {found}")
    return found


def summarise(samples: list[float]) -> str:
    return f"{statistics.median(samples):.2f} | {min(samples):.2f} | {max(samples):.2f}"


def measure(runs: int, cold: bool) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {}
    jobs: list[tuple[str, Callable[[], object]]] = [
        (name, lambda argv=argv: time_command(argv, cold)) for name, argv in COMMANDS.items()]
    for _ in range(runs):  # one of each per round: the rows alternate
        for name, job in jobs:
            results.setdefault(name, []).append(job())
        for key, value in time_window(cold).items():
            results.setdefault(key, []).append(value)
    return results


def table(warm: dict[str, list[float]], cold: dict[str, list[float]]) -> str:
    lines = ["| measure | warm median | min | max | cold median | min | max |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name in warm:
        unit = "MiB" if name.endswith("(MiB)") else "s"
        cold_cells = summarise(cold[name]) if name in cold else "- | - | -"
        lines.append(f"| {name} [{unit}] | {summarise(warm[name])} | {cold_cells} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm", type=int, default=5, help="warm runs per row")
    parser.add_argument("--cold", type=int, default=3, help="cold runs per row")
    args = parser.parse_args()
    time_command(COMMANDS["netcanvas --help"], cold=False)  # fill the bytecode cache first
    time_window(cold=False)
    warm = measure(args.warm, cold=False)
    cold = measure(args.cold, cold=True) if args.cold else {}
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{os.cpu_count()} CPUs, load average {load} at the end; Python {sys.version.split()[0]}; "
          f"{args.warm} warm and {args.cold} cold runs per row\n")
    print(table(warm, cold))


if __name__ == "__main__":
    main()
