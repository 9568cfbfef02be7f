"""`netcanvas --version [-v]`: versions read from package metadata, never by importing torch."""

from __future__ import annotations

import platform


def _installed(*names: str) -> str:
    """The first of `names` that pip installed, as `version`, or 'not installed'."""
    from importlib import metadata  # only for -v: plain --version stays a few milliseconds

    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return "not installed"


def versions(verbose: bool = False) -> dict[str, str]:
    """NetCanvas's version, and with `verbose` Python's, torch's, PySide6's and Qt's.

    NetCanvas's own comes from `engine.__version__`, which pyproject.toml reads
    too, so a checkout on PYTHONPATH and an installed wheel answer alike.
    """
    from engine import __version__

    found = {"netcanvas": __version__}
    if verbose:
        found["python"] = f"{platform.python_version()} ({platform.python_implementation()})"
        found["torch"] = _installed("torch")
        found["PySide6"] = _installed("PySide6-Essentials", "PySide6")
        # PySide6 wheels bundle the Qt of their own version: no Qt import (engine never imports Qt).
        found["Qt"] = found["PySide6"]
        found["platform"] = platform.platform()
    return found

