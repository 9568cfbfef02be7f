"""File ▸ Export ▸ Diagram as PNG / SVG writes a picture of the canvas (issue 12, edge 12)."""

from __future__ import annotations

from PySide6.QtGui import QImage


def test_diagram_exports_as_png_and_svg(window, lenet, tmp_path):
    assert window.open_path(str(lenet))
    scene = window.current_scene()
    first = next(iter(scene.nodes.values()))
    first.setSelected(True)
    window.dialogs.next_save = str(tmp_path / "net.png")
    window.exports.actions["diagram_png"].trigger()
    image = QImage(str(tmp_path / "net.png"))
    area = scene.itemsBoundingRect()
    assert image.width() >= 2 * area.width() and image.height() >= 2 * area.height()
    window.dialogs.next_save = str(tmp_path / "net")  # the suffix is added
    window.exports.actions["diagram_svg"].trigger()
    svg = (tmp_path / "net.svg").read_text(encoding="utf-8")
    assert svg.startswith("<?xml") and "<svg" in svg
    assert "conv1" in svg  # text stays text: node ids are in the file
    assert first.isSelected()  # the selection is left as it was
    assert not list(tmp_path.glob("tmp*"))  # the temporary file was moved into place
