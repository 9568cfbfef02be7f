"""The GUI's side of the run store: the Runs panel, curve overlays, sweeps and the trade-off plot.

Everything here reads and writes through `engine.runs`; the recording itself
happens in the training worker's thread (`recording.py`), never the GUI's.
"""
