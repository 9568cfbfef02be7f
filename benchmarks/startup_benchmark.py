"""How fast NetCanvas starts: the CLI's quick commands, `check`, the window, idle memory.

Each row is a fresh process, timed from spawn to exit (or, for the window, to the
`first-paint` line that `NETCANVAS_STARTUP_TRACE` prints once the window has
painted the default preset, and to `engine-ready` once PyTorch, the trainers and
torch._dynamo have loaded in the background). Each is reported as wall-clock
seconds and as the CPU seconds the process used (user + system), which a busy
machine inflates far less than wall time. Warm runs reuse Python's bytecode
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
import resource
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


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_command(argv: list[str], cold: bool) -> dict[str, float]:
    """Wall and CPU seconds of one run of `argv`."""
    cpu, began = _children_cpu(), time.perf_counter()
    done = subprocess.run(argv, capture_output=True, env=_env(cold), cwd=ROOT, timeout=600)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stderr.decode()[-2000:]}")
    return {"wall": seconds, "cpu": _children_cpu() - cpu}


def time_window(cold: bool) -> dict[str, dict[str, float]]:
    """Seconds (wall, CPU) to the first paint and to PyTorch loaded; resident MiB at each."""
    env = {**_env(cold), "NETCANVAS_STARTUP_TRACE": "exit"}
    began = time.perf_counter()
    proc = subprocess.Popen(CLI, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env,
                            cwd=ROOT, text=True)
    found: dict[str, dict[str, float]] = {}
    for line in proc.stderr:
        if line.startswith("netcanvas-trace"):
            now = time.perf_counter() - began
            fields = dict(f.split("=", 1) for f in line.split()[2:])
            key = WINDOW if "first-paint" in line else ENGINE
            found[key] = {"wall": now, "cpu": float(fields["cpu_s"])}
            found[f"{key} (MiB)"] = {"wall": float(fields["rss_mib"])}
    if proc.wait(timeout=600) != 0 or len(found) != 4:
        raise SystemExit(f"the window did not report both stages: {found}")
    return found


def summarise(samples: list[float]) -> str:
    return f"{statistics.median(samples):.2f} | {min(samples):.2f} | {max(samples):.2f}"


Samples = dict[str, dict[str, list[float]]]  # row -> "wall"/"cpu" -> runs


def measure(runs: int, cold: bool) -> Samples:
    results: Samples = {}
    jobs: list[tuple[str, Callable[[], dict]]] = [
        (name, lambda name=name, argv=argv: {name: time_command(argv, cold)})
        for name, argv in COMMANDS.items()]
    jobs.append(("window", lambda: time_window(cold)))
    for _ in range(runs):  # one of each per round: the rows alternate
        for _name, job in jobs:
            for row, values in job().items():
                for kind, value in values.items():
                    results.setdefault(row, {}).setdefault(kind, []).append(value)
    return results


def table(results: Samples, title: str) -> str:
    lines = [f"| {title} | wall median | min | max | CPU median | min | max |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, kinds in results.items():
        if name.endswith("(MiB)"):
            lines.append(f"| {name[:-6]}: resident MiB | {summarise(kinds['wall'])} | | | |")
            continue
        lines.append(f"| {name} [s] | {summarise(kinds['wall'])} | {summarise(kinds['cpu'])} |")
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
    print(table(warm, "warm"))
    if cold:
        print("\n" + table(cold, "cold (fresh bytecode cache)"))


if __name__ == "__main__":
    main()
