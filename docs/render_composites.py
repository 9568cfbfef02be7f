"""Render docs/composite_editor.png: a small ResNet built from composite blocks.

    PYTHONPATH=. QT_QPA_PLATFORM=offscreen python docs/render_composites.py [DEFINITION_PNG]

The network uses the built-in ConvBNReLU and a ResidualBlock repeated twice,
their definitions copied into the document as a drop from My blocks copies them.
The ResidualBlock's definition is opened in its tab, then the network's tab is
shown with the repeated node selected: the card reads ×2 and the inspector
shows its exposed parameters and `repeat`. With an argument, the definition tab
(inner node selected) is also written there.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QEventLoop, Qt, QTimer
from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "composite_editor.png"
CHAIN = [("x", "Input", {"source": "x"}), ("stem", "ConvBNReLU", {"out_channels": 16}),
         ("stage1", "ResidualBlock", {"channels": 16, "repeat": 2}),
         ("pool", "AvgPool2d", {"kernel_size": 2}), ("flatten", "Flatten", {}),
         ("fc", "Linear", {"out_features": 10}), ("out", "Output", {})]


def _wait(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def build(window) -> None:
    """The ResNet, with the built-in definitions copied in as a drop from My blocks does."""
    from engine.composites import import_block
    from engine.document import Document

    doc = Document("Small ResNet on digits")
    doc.training = {"task": "classification", "dataset": {"name": "digits", "image_size": 8},
                    "loss": "cross_entropy", "optimizer": {"name": "adam", "lr": 0.001},
                    "epochs": 10, "batch_size": 64, "seed": 0, "device": "auto"}
    net = doc.add_network("main")
    for i, (node_id, block, params) in enumerate(CHAIN):
        if block in doc.block_names():
            import_block(doc, block)
        net.add_node(block, params, (i * 220.0, 0.0), node_id)
        if i:
            net.connect(f"{CHAIN[i - 1][0]}.out", f"{node_id}.in")
    window.set_document(doc, None)
    window.session.check_now()


def main() -> int:
    import os

    from gui.main_window import MainWindow
    from gui.testing import FakeDialogs
    from gui.theme import apply_theme

    os.environ.setdefault("NETCANVAS_LIBRARY_DIR", tempfile.mkdtemp(prefix="netcanvas-lib-"))
    app = QApplication.instance() or QApplication(sys.argv)
    apply_theme(app, "dark")
    window = MainWindow(FakeDialogs(), persist=False)
    window.resize(1400, 860)
    window.show()
    for name in ("plotsDock", "logDock", "runsDock"):  # the canvas gets the room
        window.docks[name].hide()
    _wait(100)
    window.resizeDocks([window.docks["problemsDock"]], [110], Qt.Orientation.Vertical)
    build(window)
    window.composites.open_definition("ResidualBlock", "add")
    _wait(200)
    if len(sys.argv) > 1:
        window.grab().save(sys.argv[1])
    window.tabs.setCurrentIndex(0)
    window.current_scene().select_nodes(["stage1"])
    window.current_view().frame_readable()  # legible cards, from the input on
    _wait(200)
    ok = window.grab().save(str(OUT))
    window.dialogs.save_answer = "discard"
    window.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
