"""Help: the README and docs rendered in the app, each block's page, shortcuts, About.

Everything is read from files next to the program and from the block
declarations, so help works offline and never goes stale: a block's page is
its declaration (doc, ports, parameters with defaults and ranges), and the
shortcut list is read from the window's own actions.
"""

from __future__ import annotations

import json
import platform
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QObject, Qt, QUrl, qVersion
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QListWidget, QMenu, QTextBrowser, QWidget

from engine.blocks import CATALOGUE, get_block
from engine.blocks.base import BlockSpec

if TYPE_CHECKING:
    from gui.main_window import MainWindow

ROOT = Path(__file__).resolve().parent.parent
SHORTCUTS = "shortcuts"  # the page key of the generated shortcut list
BLOCKS = "blocks"  # the page key of the generated block index


def doc_pages(root: Path = ROOT) -> dict[str, Path]:
    """Title -> file: the README first, then docs/*.md by name."""
    pages = {"README": root / "README.md"} if (root / "README.md").exists() else {}
    for path in sorted((root / "docs").glob("*.md")):
        pages[path.stem.replace("_", " ").capitalize()] = path
    return pages


def block_markdown(spec: BlockSpec) -> str:
    """A block's page, written from its declaration."""
    lines = [f"# {spec.name}", f"*{spec.category}*", "", spec.doc, ""]
    for title, ports in (("Inputs", spec.inputs), ("Outputs", spec.outputs)):
        if ports:
            lines += [f"## {title}", ""]
            lines += [f"- `{p.name}`{' (optional)' if p.optional else ''}: {p.doc}".rstrip(": ")
                      for p in ports]
            lines.append("")
    if spec.params:
        lines += ["## Parameters", "", "| name | type | default | range | what |",
                  "|---|---|---|---|---|"]
        for p in spec.params:
            default = json.dumps(p.default)  # as a document's file writes it
            lines.append(f"| `{p.name}` | {p.kind} | `{default}` | {_range(p)} | {p.doc} |")
    return "\n".join(lines) + "\n"


def _range(param) -> str:
    if param.choices:
        return ", ".join(map(str, param.choices))
    if param.min is None and param.max is None:
        return ""
    low = "" if param.min is None else f"{param.min:g}"
    high = "" if param.max is None else f"{param.max:g}"
    return f"{low} … {high}"


def blocks_markdown() -> str:
    """Every block by category, each linking to its page."""
    lines = ["# Blocks", ""]
    by_category: dict[str, list[str]] = {}
    for name, spec in CATALOGUE.items():
        by_category.setdefault(spec.category, []).append(name)
    for category, names in by_category.items():
        lines += [f"## {category}", ""]
        lines += [f"- [{n}](block:{n}): {get_block(n).doc}" for n in names]
        lines.append("")
    return "\n".join(lines)


def shortcuts_markdown(actions: list[QAction]) -> str:
    """A table of every action that has a key, in menu order."""
    lines = ["# Keyboard shortcuts", "", "| command | keys |", "|---|---|"]
    seen: set[str] = set()
    for action in actions:
        keys = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText)
                         for k in action.shortcuts())
        name = action.text().replace("&", "").rstrip("…")
        if keys and name not in seen:
            seen.add(name)
            lines.append(f"| {name} | {keys} |")
    lines += ["| Add a block at the cursor | Tab, or double-click the canvas |",
              "| Pan the canvas | hold Space and drag |",
              "| Cancel a wire being drawn | Esc |", ""]
    return "\n".join(lines)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def about_text() -> str:
    """Versions of NetCanvas, PyTorch, Qt and Python, and the device training would use."""
    import torch  # loaded by now for training; About may wait for it

    from engine.training.setup import resolve_device

    device = resolve_device("auto")
    if device.type == "cuda":
        device_text = f"{device} ({torch.cuda.get_device_name(device)})"
    else:
        device_text = str(device)
    return (f"NetCanvas {_version('netcanvas')}\n\n"
            f"PyTorch {torch.__version__}\n"
            f"Qt {qVersion()} (PySide6 {pyside_version})\n"
            f"Python {platform.python_version()}\n"
            f"Training device (auto): {device_text}")


class DocsBrowser(QWidget):
    """A page list and a markdown browser; links between pages and to blocks stay inside."""

    def __init__(self, shortcuts: str, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("docsBrowser")
        self.setWindowTitle("NetCanvas Documentation")
        self.pages = {**doc_pages(), "Blocks": BLOCKS, "Keyboard shortcuts": SHORTCUTS}
        self.shortcuts = shortcuts
        self.index = QListWidget()
        self.index.addItems(list(self.pages))
        self.index.setMaximumWidth(200)
        self.index.currentTextChanged.connect(lambda title: self.show_page(self.pages.get(title)))
        self.browser = QTextBrowser()
        self.browser.setOpenLinks(False)
        self.browser.anchorClicked.connect(self._follow)
        row = QHBoxLayout(self)
        row.addWidget(self.index)
        row.addWidget(self.browser, 1)
        self.resize(1000, 720)
        self.current = ""

    def show_page(self, page) -> None:
        """A doc file, the block index, the shortcut list, or `block:<Name>`."""
        if page is None:
            return
        if isinstance(page, Path):
            self.browser.document().setBaseUrl(QUrl.fromLocalFile(str(page.parent) + "/"))
            self.browser.setMarkdown(page.read_text(encoding="utf-8"))
            self.current = page.name
        elif page == BLOCKS:
            self.browser.setMarkdown(blocks_markdown())
            self.current = BLOCKS
        elif page == SHORTCUTS:
            self.browser.setMarkdown(self.shortcuts)
            self.current = SHORTCUTS
        else:
            self.browser.setMarkdown(block_markdown(get_block(page.removeprefix("block:"))))
            self.current = page
        self.browser.verticalScrollBar().setValue(0)
        self._mark_in_index(page)

    def _mark_in_index(self, page) -> None:
        """Highlight the page's entry (a block's page under Blocks) without reopening it;
        with no current entry, the list would open its first page when it takes focus."""
        key = BLOCKS if isinstance(page, str) and page.startswith("block:") else page
        titles = [t for t, p in self.pages.items() if p == key]
        if titles:
            self.index.blockSignals(True)
            self.index.setCurrentRow(list(self.pages).index(titles[0]))
            self.index.blockSignals(False)

    def _follow(self, url: QUrl) -> None:
        """Block links and links to other doc pages open here; web links in the browser."""
        target = url.toString()
        if target.startswith("block:"):
            self.show_page(target)
            return
        local = Path(url.toLocalFile()) if url.isLocalFile() else None
        if local is None and not url.scheme():
            local = Path(self.browser.document().baseUrl().toLocalFile()) / url.path()
        if local is not None and local.suffix == ".md" and local.exists():
            self.show_page(local)
        else:
            QDesktopServices.openUrl(url)


class HelpCommands(QObject):
    """Help ▸ Documentation (F1: the selected block's page), Keyboard Shortcuts, About."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.browser: DocsBrowser | None = None
        self.docs_action = QAction("&Documentation", window)
        self.docs_action.setShortcut(QKeySequence(QKeySequence.StandardKey.HelpContents))
        self.docs_action.setStatusTip("The manual; with a block selected, that block's page")
        self.docs_action.triggered.connect(self.show_help)
        self.shortcuts_action = QAction("&Keyboard Shortcuts", window)
        self.shortcuts_action.triggered.connect(lambda: self.show_page(SHORTCUTS))
        self.about_action = QAction("&About NetCanvas", window)
        self.about_action.triggered.connect(
            lambda: window.dialogs.info("About NetCanvas", about_text()))

    def fill_menu(self, menu: QMenu) -> None:
        menu.addActions([self.docs_action, self.shortcuts_action])
        menu.addSeparator()
        menu.addAction(self.about_action)

    def show_help(self) -> None:
        """F1: the page of the one selected block, else the README."""
        scene = self.window.current_scene()
        ids = scene.selected_node_ids() if scene is not None else []
        if len(ids) == 1:
            self.show_page(f"block:{scene.net.nodes[ids[0]].block}")
        else:
            self.show_page(next(iter(doc_pages().values()), BLOCKS))

    def show_page(self, page) -> DocsBrowser:
        if self.browser is None:
            self.browser = DocsBrowser(shortcuts_markdown(self._actions()), self.window)
        self.browser.show_page(page)
        self.browser.show()
        self.browser.raise_()
        return self.browser

    def _actions(self) -> list[QAction]:
        """The window's actions in menu order, submenus included."""
        found: list[QAction] = []

        def walk(menu: QMenu) -> None:
            for action in menu.actions():
                if action.menu() is not None:
                    walk(action.menu())
                else:
                    found.append(action)

        for top in self.window.menuBar().actions():
            if top.menu() is not None:
                walk(top.menu())
        return found
