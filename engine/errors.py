"""Exceptions whose messages are meant to be read by a person, not a developer."""

from __future__ import annotations


class NetCanvasError(Exception):
    """Base of every error the engine raises on purpose."""


class DocumentError(NetCanvasError):
    """A file that cannot be loaded: names the file, the JSON path and what was expected."""

    def __init__(self, file: str, path: str, reason: str) -> None:
        self.file = file
        self.path = path
        self.reason = reason
        where = f"{file}: " if file else ""
        at = f"at {path}: " if path else ""
        super().__init__(f"{where}{at}{reason}")


class EditError(NetCanvasError):
    """An edit the document refuses (duplicate id, unknown port, ...)."""


class ShapeError(NetCanvasError):
    """Raised by a block's shape rule; shapes.py wraps it with the node id."""


class GraphError(NetCanvasError):
    """A network that cannot be compiled; the message lists each node's errors."""


class DatasetError(NetCanvasError):
    """A dataset that cannot be found, downloaded or parsed."""
