"""Where the application keeps its settings and recovery files.

Tests and a second copy of the program can point both elsewhere through
environment variables, so they never touch the user's real settings.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs
from PySide6.QtCore import QSettings

ORGANIZATION = "NetCanvas"
APPLICATION = "NetCanvas"
SETTINGS_ENV = "NETCANVAS_SETTINGS"  # path of an .ini file to use instead of the system store
DATA_DIR_ENV = "NETCANVAS_DATA_DIR"  # folder for recovery files instead of the user state dir
NO_RECOVERY_ENV = "NETCANVAS_NO_RECOVERY_PROMPT"  # "1": never ask to recover on start
MAX_RECENT = 10


def settings() -> QSettings:
    path = os.environ.get(SETTINGS_ENV)
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings(ORGANIZATION, APPLICATION)


def data_dir() -> Path:
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override)
    return Path(platformdirs.user_state_dir(APPLICATION, ORGANIZATION))


def recovery_dir() -> Path:
    return data_dir() / "recovery"


def recent_files() -> list[str]:
    value = settings().value("recentFiles", [])
    if isinstance(value, str):  # QSettings gives a bare string for a one-item list
        value = [value]
    return [str(v) for v in (value or [])]


def add_recent_file(path: str) -> list[str]:
    path = str(Path(path).resolve())
    files = [path] + [f for f in recent_files() if f != path]
    files = files[:MAX_RECENT]
    settings().setValue("recentFiles", files)
    return files


def remove_recent_file(path: str) -> None:
    settings().setValue("recentFiles", [f for f in recent_files() if f != path])
