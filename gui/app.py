"""QApplication start-up: `netcanvas` and `netcanvas open FILE` land here."""

from __future__ import annotations

import sys


def main(path: str | None = None, screenshot: str | None = None) -> int:
    print("The NetCanvas editor is not built yet; use `netcanvas check` or `netcanvas --help`.",
          file=sys.stderr)
    return 2
