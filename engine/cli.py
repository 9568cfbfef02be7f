"""`netcanvas ...`: the editor with no arguments, headless commands otherwise.

Each command is a thin shell over the same engine calls the GUI makes; the
heavier commands live beside the code they drive and are imported on use.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from engine.errors import NetCanvasError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="netcanvas",
        description="Build neural networks visually and train them with PyTorch. "
        "With no command, opens the editor on the default preset.",
    )
    parser.add_argument("--screenshot", metavar="PNG", help="render the window to PNG and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("open", help="open a document or bundle in the editor")
    p.add_argument("file")
    p.add_argument("--screenshot", metavar="PNG", help="render the window to PNG and exit")

    sub.add_parser("presets", help="list the presets with one line each")

    p = sub.add_parser("check", help="validate a document; print shapes; exit 1 with the errors")
    p.add_argument("file")

    p = sub.add_parser("train", help="train a document headless and write a bundle")
    p.add_argument("file")
    p.add_argument("--epochs", type=int, help="override training.epochs (or episodes for RL)")
    p.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--seed", type=int, help="override training.seed")
    p.add_argument("--out", default=".", help="folder for the bundle (default: here)")
    p.add_argument("--quiet", action="store_true", help="print only the final line")
    p.add_argument("--checkpoint-every", type=int, metavar="N",
                   help="also write the bundle every N epochs, so a crash loses little")

    p = sub.add_parser("export", help="export a trained bundle for other programs")
    p.add_argument("file", help="a .ncz bundle (or a .json document: untrained weights)")
    p.add_argument("--format", required=True, choices=("onnx", "torchscript", "python", "bundle"))
    p.add_argument("--out", required=True, help="output file (or folder for python)")

    p = sub.add_parser("import", help="bring an ONNX model or a PyTorch nn.Module in as a document")
    p.add_argument("target", help="model.onnx, module.py:ClassName or module.py:factory_function")
    p.add_argument("--args", metavar="JSON", help='constructor arguments as JSON, e.g. \'{"hidden": 64}\'')
    p.add_argument("--input-shape", help="per-sample input shape, e.g. 1,28,28")
    p.add_argument("--out", help="document to write (default: NAME.json; .ncz keeps the weights)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command is None or args.command == "open":
            from gui.app import main as gui_main

            return gui_main(getattr(args, "file", None), args.screenshot)
        handler = {
            "presets": _presets,
            "check": _check,
            "train": _train,
            "export": _export,
            "import": _import,
        }[args.command]
        return handler(args)
    except NetCanvasError as exc:
        print(f"netcanvas {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `netcanvas presets | head`: the reader left, nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _presets(args: argparse.Namespace) -> int:
    from engine.presets import preset_paths
    from engine.readwrite import load_json_document

    for path in preset_paths():
        doc = load_json_document(path)
        dataset = doc.training.get("dataset", {})
        dataset = dataset.get("name", "?") if isinstance(dataset, dict) else dataset
        print(f"{path.stem:<24} {doc.name} ({doc.training.get('task', '?')} on {dataset})")
    return 0


def _check(args: argparse.Namespace) -> int:
    from engine import load_document
    from engine.report_table import format_check

    doc = load_document(args.file)
    from engine.shapes import check

    report = check(doc)
    print(format_check(doc, report))
    return 0 if report.ok else 1


def _train(args: argparse.Namespace) -> int:
    from engine.training.cli import run_train

    return run_train(args)


def _export(args: argparse.Namespace) -> int:
    from engine.export import run_export

    return run_export(args)


def _import(args: argparse.Namespace) -> int:
    from engine.importer import run_import

    return run_import(args)


if __name__ == "__main__":
    sys.exit(main())
