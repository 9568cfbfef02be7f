"""Every export format is offered everywhere: the CLI's choices and the GUI's File ▸ Export."""

from __future__ import annotations

import pytest

from engine.cli import build_parser
from engine.export import FORMATS


def _export_choices() -> list[str]:
    commands = next(a for a in build_parser()._actions if a.dest == "command")
    export = commands.choices["export"]
    return list(next(a for a in export._actions if a.dest == "format").choices)


def test_the_cli_offers_every_format() -> None:
    assert sorted(_export_choices()) == sorted(FORMATS)
    assert "pt2" in FORMATS


def test_the_file_menu_offers_every_format() -> None:
    pytest.importorskip("PySide6")
    from gui.exporting import EXPORT_FORMATS

    assert sorted(EXPORT_FORMATS) == sorted(FORMATS)
    text, file_filter, suffix, folder = EXPORT_FORMATS["pt2"]
    assert suffix == ".pt2" and "*.pt2" in file_filter and not folder
