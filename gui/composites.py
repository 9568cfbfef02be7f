"""Composite blocks in the window: Group, Ungroup, definition tabs and the block library.

Composed into the MainWindow like the file and export commands: this object
owns its actions (Edit ▸ Group into Block…, Ungroup, Open Block Definition,
Save Block to Library…), the tabs that show definitions, and the palette's
"My blocks" list. Every change to the document goes through the session
(`EditorSession.group`, `ungroup`, `make_editable`), so each is one undo
step and refused while a run is in progress; the engine decides what a group is.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

from engine.composites import is_composite
from engine.document import Node
from engine.errors import NetCanvasError
from gui.editor.graphs import block_key, block_of, has_graph
from gui.editor.my_blocks import composite_entries
from gui.editor.session import EditorSession
from gui.editor.text import plural

if TYPE_CHECKING:
    from gui.main_window import MainWindow

STATUS_MS = 6000


class CompositeCommands(QObject):
    """Grouping, definition tabs and the library, for the window's current document."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.session: EditorSession | None = None
        self.actions = self._build_actions()
        window.tabs.tabCloseRequested.connect(self._close_tab_at)
        window.inspector.definitionRequested.connect(self.open_definition)
        window.inspector.saveRequested.connect(self.save_to_library)
        window.inspector.describeRequested.connect(self.describe)
        self.refresh_palette()

    def _build_actions(self) -> SimpleNamespace:
        def action(text: str, slot, shortcut: str | None, tip: str) -> QAction:
            made = QAction(text, self.window)
            if shortcut:
                made.setShortcut(QKeySequence(shortcut))
            made.setStatusTip(tip)
            made.setToolTip(tip)
            made.triggered.connect(lambda checked=False: slot())
            return made

        return SimpleNamespace(
            group=action("&Group into Block…", self.group_selection, "Ctrl+G",
                         "Make the selected blocks one composite block, wired in their place"),
            ungroup=action("U&ngroup", self.ungroup_selection, "Ctrl+Shift+G",
                           "Put the selected composite's blocks back in its place"),
            open=action("&Open Block Definition", self.open_selected, None,
                        "Edit the selected composite in its own tab: edits apply to every use"),
            save=action("Save Block to &Library…", self.save_to_library, None,
                        "Keep the composite in your block library (My blocks, every document)"))

    def fill_menu(self, menu: QMenu) -> None:
        """Edit ▸ Group, Ungroup, Open Block Definition, Save Block to Library."""
        a = self.actions
        menu.addSeparator()
        menu.addActions([a.group, a.ungroup, a.open, a.save])

    # ---- following the document ---------------------------------------------------

    def document_opened(self, session: EditorSession) -> None:
        self.session = session
        session.graphsChanged.connect(self._graphs_changed)
        self.refresh_palette()
        self.selection_changed()

    def refresh_palette(self) -> None:
        """My blocks: this document's composites, the built-in ones and the library."""
        doc = self.session.document if self.session is not None else None
        self.window.palette.set_composites(composite_entries(doc))

    def _graphs_changed(self) -> None:
        """A definition came, went or was replaced (Group, Ungroup, undo): its tab follows."""
        w = self.window
        for key in [k for k in w.views if block_of(k) is not None]:
            alive = has_graph(self.session.document, key)
            if alive and w.scenes[key].bridge is self.session.network_signals.get(key):
                continue
            index = w.tabs.indexOf(w.views[key])
            current = w.tabs.currentIndex() == index
            self.close_definition(key)
            if alive:
                self.session.watch(key)
                view = w.add_canvas(key, index)
                if current:
                    w.tabs.setCurrentWidget(view)
        self.refresh_palette()
        self.selection_changed()

    def selection_changed(self) -> None:
        """Enable what applies to the current tab and selection."""
        a, node = self.actions, self.selected_composite()
        scene = self.window.current_scene()
        ids = scene.selected_node_ids() if scene is not None else []
        in_network = block_of(self.window.current_network()) is None
        a.group.setEnabled(bool(ids) and in_network)
        a.ungroup.setEnabled(node is not None and in_network)
        a.open.setEnabled(node is not None)
        a.save.setEnabled(self.current_block() is not None)

    # ---- what is selected --------------------------------------------------------------

    def selected_composite(self) -> Node | None:
        """The one selected node, when it is a composite's."""
        scene = self.window.current_scene()
        ids = scene.selected_node_ids() if scene is not None else []
        if len(ids) != 1:
            return None
        node = scene.net.nodes[ids[0]]
        return node if is_composite(node.spec) else None

    def current_block(self) -> str | None:
        """The composite the library action means: the selected one, else the open tab's."""
        node = self.selected_composite()
        if node is not None:
            return node.block
        return block_of(self.window.current_network())

    def _unlocked(self) -> bool:
        """Refuse before asking anything while a run holds the document."""
        if self.session.locked:
            self.session.refused.emit("editing is locked while training runs")
        return not self.session.locked

    def _in_network(self) -> bool:
        """Group and Ungroup edit a network (the engine's `group` works on networks)."""
        if block_of(self.window.current_network()) is None:
            return True
        self._say("Group and Ungroup work in a network's tab, not inside a block's definition")
        return False

    def _say(self, text: str) -> None:
        self.window.statusBar().showMessage(text, STATUS_MS)

    # ---- group and ungroup -----------------------------------------------------------

    def group_selection(self) -> bool:
        """Ctrl+G: ask a name (one is offered), group, select the new node."""
        from engine.composites import suggest_block_name

        w, scene = self.window, self.window.current_scene()
        ids = scene.selected_node_ids() if scene is not None else []
        if not self._in_network() or not self._unlocked():
            return False
        if not ids:
            self._say("Select the blocks to group first")
            return False
        name = w.dialogs.ask_text("Group into Block",
                                  "Name of the new block (CamelCase, as a Python class):",
                                  suggest_block_name(self.session.document))
        if name is None:
            return False
        before = set(scene.net.nodes)
        if not self.session.group(scene.network_name, ids, name):
            return False
        scene.select_nodes([n for n in scene.net.nodes if n not in before])
        self._say(f"Grouped {plural(len(ids), 'block')} into {name}: double-click it to "
                  "edit its definition")
        return True

    def ungroup_selection(self) -> bool:
        """Ctrl+Shift+G: the selected composite's blocks take its place, selected."""
        scene, node = self.window.current_scene(), self.selected_composite()
        if not self._in_network():
            return False
        if node is None:
            self._say("Select one composite block to ungroup")
            return False
        before = set(scene.net.nodes)
        if not self.session.ungroup(scene.network_name, node.id):
            return False
        new = [n for n in scene.net.nodes if n not in before]
        scene.select_nodes(new)
        self._say(f"Ungrouped {node.id} into {plural(len(new), 'block')}")
        return True

    # ---- definition tabs ------------------------------------------------------------------

    def open_selected(self) -> bool:
        node = self.selected_composite()
        return node is not None and self.open_definition(node.block)

    def open_definition(self, block: str, node_id: str | None = None) -> bool:
        """Show `block`'s definition in its tab (opened beside the networks if needed),
        with `node_id` selected; a built-in one is first copied into the document."""
        w, key = self.window, block_key(block)
        if self.session is None:
            return False
        opened = key not in w.views
        if opened:
            if not self.session.make_editable(block):
                return False
            self.session.watch(key)
            self.session.check_now()  # the tab opens with its shapes drawn
            w.add_canvas(key)
            self._say(f"Editing {block}: changes apply to {plural(self.uses(block), 'use')} "
                      "of it in this document")
        view, scene = w.views[key], w.scenes[key]
        w.tabs.setCurrentWidget(view)
        found = node_id is not None and node_id in scene.nodes
        if found:
            scene.select_nodes([node_id])
        # Once the tab has its size: frame a new tab, then bring the node into view.
        QTimer.singleShot(0, lambda: self._reveal(key, node_id if found else None, opened))
        return True

    def _reveal(self, key: str, node_id: str | None, frame: bool) -> None:
        view, scene = self.window.views.get(key), self.window.scenes.get(key)
        if view is None:
            return
        if frame:
            view.frame_readable()
        if node_id is not None and node_id in scene.nodes:
            view.centerOn(scene.nodes[node_id])

    def uses(self, block: str) -> int:
        """Nodes of `block` in the document's networks and definitions."""
        doc = self.session.document
        graphs = [*doc.networks.values(), *doc.blocks.values()]
        return sum(n.block == block for g in graphs for n in g.nodes.values())

    def close_definition(self, key: str) -> None:
        """Close a definition's tab (the definition stays in the document)."""
        w = self.window
        view, scene = w.views.pop(key), w.scenes.pop(key)
        self.session.watch(key, False)
        w.tabs.removeTab(w.tabs.indexOf(view))
        scene.selectionChanged.disconnect(w._on_selection_changed)
        scene.close()
        view.deleteLater()
        scene.deleteLater()

    def _close_tab_at(self, index: int) -> None:
        key = getattr(self.window.tabs.widget(index), "editor_scene", None)
        if key is not None and block_of(key.network_name) is not None:
            self.close_definition(key.network_name)

    def describe(self, block: str) -> bool:
        """Ask for the composite's description (its tooltip and inspector text)."""
        if self.session is None or block not in self.session.document.blocks:
            return False
        text = self.window.dialogs.ask_text("Describe Block", f"What {block} does:",
                                            self.session.document.blocks[block].doc)
        return text is not None and self.session.describe_block(block, text)

    # ---- the library ---------------------------------------------------------------------------

    def save_to_library(self, block: str | None = None) -> bool:
        """Save the composite (and those it uses) to the user's library; My blocks lists it."""
        from engine.composites import library_blocks, save_to_library

        w, block = self.window, block or self.current_block()
        if self.session is None or block is None:
            self._say("Select a composite block, or open its definition, to save it")
            return False
        if block in library_blocks() and not w.dialogs.confirm(
                "Save Block to Library", f"Your library already has a block {block}. "
                "Replace it with this document's definition?"):
            return False
        try:
            path = save_to_library(self.session.document, block)
        except (NetCanvasError, OSError) as exc:
            w.dialogs.error("Cannot save the block", str(exc))
            return False
        self.refresh_palette()
        self._say(f"Saved {block} to your library: {path}")
        return True
