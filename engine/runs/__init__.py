"""The run store: every training run recorded in its own folder, compared, and swept.

Importing this package imports nothing heavy; `store`, `compare` and `cli`
stay free of torch so `netcanvas runs` and the GUI's Runs panel start fast.
`recorder` (the one consumer of trainer events that writes a run) and
`sweep` (Optuna) load torch when a run starts.
"""
