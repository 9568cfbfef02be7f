"""`netcanvas ...`: the editor with no arguments, headless commands otherwise.

Each command is a thin shell over the same engine calls the GUI makes; the
heavier commands live beside the code they drive and are imported on use.
`--help`, `--version`, `presets` and argument errors never import torch (a
test holds them to it): only the commands that build or train a model pay for it.

Exit codes: 0 success; 1 the command failed (one line on stderr says why);
2 wrong arguments; 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from engine.errors import NetCanvasError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
PRECISIONS = ("fp32", "bf16", "fp16")  # training.precision's choices (a test keeps them equal)
FILE_HELP = "a document (.json), a bundle (.ncz) or a preset's name (see `netcanvas presets`)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="netcanvas",
        description="Build neural networks visually and train them with PyTorch. "
        "With no command, opens the editor on the default preset.",
        epilog="Exit codes: 0 success, 1 the command failed, 2 wrong arguments, 130 interrupted.",
    )
    parser.add_argument("--screenshot", metavar="PNG", help="render the window to PNG and exit "
                        "(needs no display: renders offscreen when there is none)")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="with --version: also Python, torch and Qt")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("open", help="open a document or bundle in the editor")
    p.add_argument("file", help=FILE_HELP)
    p.add_argument("--screenshot", metavar="PNG", help="render the window to PNG and exit")

    p = sub.add_parser("presets", help="list the presets: name, one line, path")
    p.add_argument("--json", action="store_true", help="print a JSON list instead")

    p = sub.add_parser("check", help="validate a document; print shapes; exit 1 with the errors")
    p.add_argument("file", help=FILE_HELP)
    p.add_argument("--json", action="store_true", help="print the report as JSON")

    p = sub.add_parser("train", help="train a document headless and write a bundle")
    p.add_argument("file", help=FILE_HELP)
    p.add_argument("--epochs", type=int, help="override training.epochs (or episodes for RL)")
    p.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--seed", type=int, help="override training.seed")
    p.add_argument("--precision", choices=PRECISIONS, help="override training.precision: fp32; "
                   "bf16 (CPU, CUDA) or fp16 (CUDA, with a GradScaler) under torch.autocast")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                   help="override training.compile: run the networks through torch.compile "
                   "(falls back to eager, saying so, where no backend is available)")
    p.add_argument("--threads", type=_positive, metavar="N",
                   help="CPU threads to train on (default: torch's, or one where a step is too "
                   "small for more to help)")
    p.add_argument("--out", default=".", help="folder for the bundle (default: here)")
    p.add_argument("--quiet", action="store_true", help="print only the final line")
    p.add_argument("--checkpoint-every", type=int, metavar="N",
                   help="also write the bundle every N epochs, so a crash loses little")
    p.add_argument("--json", action="store_true", help="print the final line as JSON")
    _add_process_flags(p)

    p = sub.add_parser("export", help="export a trained bundle for other programs")
    p.add_argument("file", help="a .ncz bundle (or a .json document or preset: untrained weights)")
    p.add_argument("--format", required=True, choices=("onnx", "torchscript", "pt2", "python", "bundle"))
    p.add_argument("--out", required=True, help="output file (or folder for python)")

    p = sub.add_parser("import", help="bring an ONNX model or a PyTorch nn.Module in as a document")
    p.add_argument("target", help="model.onnx, module.py:ClassName or module.py:factory_function")
    p.add_argument("--args", metavar="JSON", help='constructor arguments as JSON, e.g. \'{"hidden": 64}\'')
    p.add_argument("--input-shape", help="per-sample input shape, e.g. 1,28,28")
    p.add_argument("--out", help="document to write (default: NAME.json; .ncz keeps the weights)")

    from engine.runs.cli import add_run_commands  # runs, sweep and train --runs (no torch)

    add_run_commands(sub)
    return parser


def _positive(text: str) -> int:
    """An argparse type: a whole number of at least 1 (a thread count)."""
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def _add_process_flags(p: argparse.ArgumentParser) -> None:
    """torchrun's flags: the run starts once per process and trains with DDP (docs/scale.md)."""
    g = p.add_argument_group("several processes or machines (torchrun + DistributedDataParallel)")
    g.add_argument("--nproc-per-node", type=int, metavar="N",
                   help="processes on this machine (one per GPU); batch_size stays the global batch")
    g.add_argument("--nnodes", type=int, metavar="M", help="machines in the run (default 1)")
    g.add_argument("--node-rank", type=int, metavar="R", help="this machine's number, 0..M-1")
    g.add_argument("--rdzv-endpoint", metavar="HOST:PORT",
                   help="where the machines meet (the first machine's address)")
    p.add_argument("--events", action="store_true", help=argparse.SUPPRESS)  # JSON events: the GUI


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.version:
            return _version(args)
        _resolve_file(args)
        if args.command is None or args.command == "open":
            return _gui(args)
        handler = {
            "presets": _presets,
            "check": _check,
            "train": _train,
            "export": _export,
            "import": _import,
            "runs": _run_store,
            "sweep": _run_store,
        }[args.command]
        return handler(args)
    except NetCanvasError as exc:
        where = f"netcanvas {args.command}" if args.command else "netcanvas"
        print(f"{where}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `netcanvas presets | head`: the reader left, nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _resolve_file(args: argparse.Namespace) -> None:
    """Let every FILE argument be a preset's name too; say which file was used."""
    if getattr(args, "file", None) is None:
        return
    from engine.presets import resolve

    path, note = resolve(args.file)
    args.file = str(path)
    if note:
        print(f"netcanvas: {note}", file=sys.stderr)


def _version(args: argparse.Namespace) -> int:
    from engine.versions import versions

    found = versions(verbose=args.verbose)
    print(f"netcanvas {found.pop('netcanvas')}")
    for name, version in found.items():
        print(f"  {name} {version}")
    return EXIT_OK


def _gui(args: argparse.Namespace) -> int:
    missing = no_display_reason(os.environ, sys.platform)
    if missing and args.screenshot:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # a screenshot needs no screen
    elif missing:
        print(f"netcanvas: {missing}\n{HEADLESS_HELP}", file=sys.stderr)
        return EXIT_FAILED
    _preload_before_qt()
    from gui.app import main as gui_main

    return gui_main(getattr(args, "file", None), args.screenshot)


def _preload_before_qt() -> None:
    """Import what the window needs first that is not Qt, before PySide6 loads.

    Once PySide6 is imported, its `__feature__` hook reads the source of every
    module imported after it; loading numpy and the engine's document, data and
    shape modules first saves the window's first paint about 0.2 s of CPU.
    """
    import numpy  # noqa: F401

    import engine.data  # noqa: F401
    import engine.readwrite  # noqa: F401
    import engine.shapes  # noqa: F401


HEADLESS_HELP = """Without a screen, NetCanvas still works from the command line:
  netcanvas check lenet_digits            validate a document or preset and print its shapes
  netcanvas train lenet_digits            train it and write lenet_digits.ncz
  netcanvas --screenshot window.png       render the editor offscreen to a PNG
To open the editor anyway, run it under a virtual display (xvfb-run netcanvas),
or set QT_QPA_PLATFORM=offscreen (nothing is shown on screen)."""


def no_display_reason(environ: os._Environ | dict, platform: str) -> str | None:
    """Why Qt would abort for lack of a display (Linux/BSD without X11 or Wayland), or None.

    Windows and macOS always have a display session; QT_QPA_PLATFORM names a
    platform plugin explicitly (offscreen, vnc, ...), which the person chose.
    """
    if platform.startswith(("win", "darwin", "cygwin")):
        return None
    if any(environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")):
        return None
    return "no display found (DISPLAY and WAYLAND_DISPLAY are unset)"


def _presets(args: argparse.Namespace) -> int:
    from engine.presets import PRESETS_DIR, PresetInfo, preset_paths

    infos = [PresetInfo.read(path) for path in preset_paths()]
    if not infos:
        print(f"netcanvas presets: no presets found in {PRESETS_DIR} "
              "(a broken install: reinstall netcanvas)", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        print(json.dumps([info.as_json() for info in infos], indent=2))
        return EXIT_OK
    width = max(len(info.line()) for info in infos)
    for info in infos:
        print(f"{info.name:<24} {info.line():<{width}}  {info.path}")
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    from engine import load_document
    from engine.shapes import check

    doc = load_document(args.file)
    report = check(doc)
    if args.json:
        from engine.report_table import check_json

        print(json.dumps(check_json(args.file, report), indent=2))
    else:
        from engine.report_table import format_check

        print(format_check(doc, report))
    return EXIT_OK if report.ok else EXIT_FAILED


def _train(args: argparse.Namespace) -> int:
    from engine.training.launch import launch_train, wants_processes

    if wants_processes(args):
        return launch_train(args)
    from engine.training.cli import run_train

    return run_train(args)


def _export(args: argparse.Namespace) -> int:
    from engine.export import run_export

    return run_export(args)


def _run_store(args: argparse.Namespace) -> int:
    from engine.runs.cli import run_command

    return run_command(args)


def _import(args: argparse.Namespace) -> int:
    from engine.importer import run_import

    return run_import(args)


if __name__ == "__main__":
    sys.exit(main())
