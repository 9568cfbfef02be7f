"""Running trainers from the GUI: a controller that keeps training off the GUI thread."""

from gui.training.controller import TrainingController, document_errors

__all__ = ["TrainingController", "document_errors"]
