"""The node editor: scene, items, view, palette, inspector and undo commands."""
