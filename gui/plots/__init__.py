"""Live pyqtgraph panels for training runs; each takes engine events through `handle(event)`.

`TrainingPanel` (gui.plots.panel) composes them for the training dock; its
module docstring says how a window wires it to a `TrainingController`.
"""
