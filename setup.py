"""Only the package list lives here; everything else is in pyproject.toml.

The presets stay in the checkout's top-level `presets/` folder (the tests and
docs name them there) and ship inside the wheel as the data-only package
`engine.preset_files`, where `engine.presets.presets_dir()` finds them.
pyproject's `packages.find` cannot map a package onto another folder, so the
list is built here.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["engine", "engine.*", "gui", "gui.*"]), "engine.preset_files"],
    package_dir={"engine.preset_files": "presets"},
)
