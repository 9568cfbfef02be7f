"""Render docs/own_data.png: Help ▸ Documentation beside the window training on a CSV.

    PYTHONPATH=. QT_QPA_PLATFORM=offscreen python docs/render_own_data.py

The CSV (iris's measurements with the species as the target column) is written to
a temporary folder; the Training tab shows what it found, with Browse… and the
target column list; the Help browser shows the README's own-data section.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QEventLoop, QPoint, Qt, QTimer
from PySide6.QtGui import QImage, QPainter, QTextDocument
from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "own_data.png"


def _write_csv(folder: Path) -> Path:
    from sklearn.datasets import load_iris

    iris = load_iris()
    names = ["sepal_length", "sepal_width", "petal_length", "petal_width", "species"]
    rows = [",".join([*(f"{v:.1f}" for v in x), iris.target_names[y]])
            for x, y in zip(iris.data, iris.target, strict=True)]
    path = folder / "flowers.csv"
    path.write_text(",".join(names) + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _wait(app: QApplication, ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def main() -> int:
    from engine import save_document
    from gui.main_window import MainWindow
    from gui.testing import FakeDialogs
    from gui.theme import apply_theme
    from tests.helpers import chain_document

    app = QApplication.instance() or QApplication(sys.argv)
    apply_theme(app, "dark")
    folder = Path(tempfile.mkdtemp(prefix="netcanvas-docs-"))
    csv = _write_csv(folder)
    doc = chain_document([("Linear", {"out_features": 16}), ("ReLU", {}),
                          ("Linear", {"out_features": 3})],
                         {"task": "classification", "dataset": {"name": "csv", "path": csv.name}})
    doc.name = "Flowers from a CSV"
    save_document(doc, folder / "flowers.json")
    window = MainWindow(FakeDialogs(), persist=False)
    window.resize(1240, 860)
    window.show()
    window.open_path(str(folder / "flowers.json"))
    window.docks["trainingDock"].raise_()
    window.resizeDocks([window.docks["trainingDock"]], [420], Qt.Orientation.Horizontal)
    window.resizeDocks([window.docks["problemsDock"]], [150], Qt.Orientation.Vertical)
    _wait(app, 3000)  # the dataset summary arrives from its background job
    browser = window.help.show_page(ROOT / "README.md")
    browser.resize(700, 860)
    browser.show()
    _wait(app, 200)
    text = browser.browser
    text.moveCursor(text.textCursor().MoveOperation.End)  # so the heading lands at the top
    text.find("Your own data", QTextDocument.FindFlag.FindBackward)
    _wait(app, 500)
    left, right = window.grab().toImage(), browser.grab().toImage()
    image = QImage(left.width() + right.width() + 12, max(left.height(), right.height()),
                   QImage.Format.Format_ARGB32)
    image.fill(0xFF101114)
    painter = QPainter(image)
    painter.drawImage(QPoint(0, 0), left)
    painter.drawImage(QPoint(left.width() + 12, 0), right)
    painter.end()
    return 0 if image.save(str(OUT)) else 1


if __name__ == "__main__":
    sys.exit(main())
