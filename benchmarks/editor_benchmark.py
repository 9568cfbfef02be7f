"""How fast the editor opens, checks and paints a 500-node document; prints a table.

    QT_QPA_PLATFORM=offscreen python benchmarks/editor_benchmark.py [--chains 20 --length 24]

A frame is one full repaint of the canvas viewport (`viewport().grab()`), so
the numbers are an upper bound of what panning and zooming cost: a real pan
repaints only what scrolled in. Offscreen rendering is software rasterising,
like most laptops without GPU compositing of QGraphicsView.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtCore import QPoint  # noqa: E402

from engine.readwrite import document_to_json, parse_document  # noqa: E402


def timed(fn, repeat: int = 1) -> tuple[float, object]:
    """Median wall time of `fn()` in milliseconds, and its last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def frames(app, view, moves: int = 12) -> float:
    """Median time of a full viewport repaint while panning by a tenth of the view."""
    step = QPoint(view.viewport().width() // 10, view.viewport().height() // 20)
    times = []
    for i in range(moves):
        view.pan_by(step if i % 4 < 2 else -step)
        app.processEvents()
        start = time.perf_counter()
        view.viewport().grab()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=20)
    parser.add_argument("--length", type=int, default=24)
    args = parser.parse_args()

    from gui import settings
    from gui.app import make_app
    from gui.main_window import MainWindow
    from gui.testing import FakeDialogs, large_document

    scratch = tempfile.mkdtemp(prefix="netcanvas-bench-")
    os.environ[settings.SETTINGS_ENV] = str(Path(scratch) / "settings.ini")
    os.environ[settings.DATA_DIR_ENV] = scratch
    app = make_app()
    text = document_to_json(large_document(args.chains, args.length))
    rows: list[tuple[str, float]] = []

    parse_ms, doc = timed(lambda: parse_document(text, "bench.json"), 3)
    net = doc.network("main")
    rows.append(("parse JSON into a Document", parse_ms))
    window = MainWindow(FakeDialogs())
    window.resize(1600, 960)
    window.show()
    app.processEvents()
    doc = parse_document(text, "bench.json")
    open_ms, _ = timed(lambda: (window.set_document(doc, None), app.processEvents()))
    rows.append(("open in the window (scene, first check, layout)", open_ms))
    view, session = window.current_view(), window.session

    view.frame_all()
    app.processEvents()
    rows.append((f"frame, all visible (zoom {view.zoom():.2f}, low detail)", frames(app, view)))
    for zoom in (0.5, 1.0):
        view.zoom_by(zoom / view.zoom())
        app.processEvents()
        rows.append((f"frame while panning at zoom {zoom:.1f}", frames(app, view)))
    zoom_ms, _ = timed(lambda: (view.zoom_by(1.1), view.viewport().grab()), 10)
    rows.append(("zoom step + repaint", zoom_ms))

    values = itertools.count(33)

    def edit() -> None:  # a new value each time, so every call really edits and re-checks
        assert session.set_param("main", "c0_0", "out_features", next(values))
        session.check_now()
        app.processEvents()

    edit_ms, _ = timed(edit, 10)
    rows.append(("edit one parameter + incremental check + redraw", edit_ms))
    full_ms, _ = timed(lambda: (session.checkers["main"].invalidate(), session.check_now()), 3)
    rows.append(("full re-check of every node", full_ms))

    print(f"NetCanvas editor benchmark: {len(net.nodes)} nodes, {len(net.edges)} edges, "
          f"Qt platform {app.platformName()}")
    print(f"{'measure':<52}{'ms':>10}")
    print("-" * 62)
    for name, ms in rows:
        print(f"{name:<52}{ms:>10.1f}")
    window.session.undo_stack.setClean()
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
