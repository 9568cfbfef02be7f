"""`netcanvas train FILE --nproc-per-node N`: start the run through torchrun.

torchrun (`torch.distributed.run`) starts N processes per machine, each running
`engine.training.distributed` with the same arguments, and sets RANK,
WORLD_SIZE, LOCAL_RANK and the rendezvous address. One machine uses
`--standalone` (torchrun picks a free port); several machines meet at
`--rdzv-endpoint HOST:PORT`, with the c10d rendezvous, or with a static one
when `--node-rank` numbers the machines by hand.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

# The `train` arguments a rank needs, passed through unchanged (flag -> attribute).
PASSED = {"--epochs": "epochs", "--device": "device", "--seed": "seed", "--out": "out",
          "--checkpoint-every": "checkpoint_every", "--precision": "precision",
          "--threads": "threads"}
SWITCHES = {"--quiet": "quiet", "--json": "json"}
# --compile / --no-compile: passed as given; absent, each rank reads training.compile.


def wants_processes(args: argparse.Namespace) -> bool:
    """True when the person asked for more than one process or machine."""
    return (getattr(args, "nproc_per_node", None) or 1) > 1 or (getattr(args, "nnodes", None) or 1) > 1


def torchrun_argv(args: argparse.Namespace) -> list[str]:
    """The torchrun command line for these `train` arguments (a test reads it)."""
    argv = [sys.executable, "-m", "torch.distributed.run",
            f"--nproc-per-node={args.nproc_per_node or 1}"]
    nnodes = args.nnodes or 1
    if nnodes == 1 and not args.rdzv_endpoint:
        argv.append("--standalone")
    else:
        argv += _multi_node(args, nnodes)
    argv += ["-m", "engine.training.distributed", args.file]
    for flag, name in PASSED.items():
        value = getattr(args, name, None)
        if value is not None:
            argv += [flag, str(value)]
    argv += [flag for flag, name in SWITCHES.items() if getattr(args, name, False)]
    compile_ = getattr(args, "compile", None)
    if compile_ is not None:
        argv.append("--compile" if compile_ else "--no-compile")
    return argv


def _multi_node(args: argparse.Namespace, nnodes: int) -> list[str]:
    from engine.errors import NetCanvasError

    if not args.rdzv_endpoint:
        raise NetCanvasError("--nnodes above 1 needs --rdzv-endpoint HOST:PORT "
                             "(the machine every process meets at)")
    if args.node_rank is None:
        return [f"--nnodes={nnodes}", "--rdzv-backend=c10d", f"--rdzv-endpoint={args.rdzv_endpoint}"]
    host, _, port = args.rdzv_endpoint.rpartition(":")
    if not host or not port.isdigit():
        raise NetCanvasError(f"--rdzv-endpoint: expected HOST:PORT, got '{args.rdzv_endpoint}'")
    return [f"--nnodes={nnodes}", f"--node-rank={args.node_rank}",
            f"--master-addr={host}", f"--master-port={port}"]


def launch_train(args: argparse.Namespace) -> int:
    """Run torchrun as a child; its exit code is the run's (rank 0 prints and saves)."""
    from engine import load_document
    from engine.training.distributed import check_task
    from engine.training.settings import value

    check_task(value(load_document(args.file).training, "task"))
    return subprocess.run(torchrun_argv(args), check=False).returncode
