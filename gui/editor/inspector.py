"""The inspector: the selected node's parameters, doc, inferred shapes and problems.

Editors are generated from the block declaration and apply every valid edit
at once as a `SetParamCommand` (merged while a spin box is dragged or typed
into). The inspector keeps no values: it re-reads the node when the model
says a parameter changed (an undo, another view) and the report when a check
finishes.
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from engine.blocks.base import fmt_shape
from engine.composites import is_composite
from engine.document import Node
from gui import theme
from gui.editor.exposing import mark_row
from gui.editor.graphs import block_of, graph_of, has_graph
from gui.editor.param_editors import ParamEditor
from gui.editor.session import EditorSession
from gui.editor.text import fmt_count


def _label(text: str = "", rich: bool = True) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText if rich else Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class Inspector(QScrollArea):
    """Shows one node of one network of a session (or a hint when none is selected)."""

    definitionRequested = Signal(str)  # a composite's name: open its definition
    saveRequested = Signal(str)  # a composite's name: save it to the library
    describeRequested = Signal(str)  # a composite's name: edit its description

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.session: EditorSession | None = None
        self.network: str | None = None
        self.node_id: str | None = None
        self.editors: dict[str, ParamEditor] = {}
        self._connected: list = []
        self._bridged: list = []  # connections to the session's per-graph bridges
        self._selected = 0
        self._shown_graph: str | None = None  # the tab shown while nothing is selected
        self._show_summary()

    # ---- target --------------------------------------------------------------------

    def set_session(self, session: EditorSession | None) -> None:
        for signal, slot in self._connected:
            signal.disconnect(slot)
        self._connected = []
        self.session = session
        self.network = self.node_id = None
        if session is not None:
            self._listen(session.checked, self._refresh_report)
            self._listen(session.graphsChanged, self._listen_to_graphs)
        self._listen_to_graphs()
        self._show_summary()

    def _listen(self, signal, slot, into: list | None = None) -> None:
        signal.connect(slot)
        (self._connected if into is None else into).append((signal, slot))

    def _listen_to_graphs(self) -> None:
        """Every network and definition: one came or went (Group, Ungroup, an undo)."""
        for signal, slot in self._bridged:
            signal.disconnect(slot)
        self._bridged = []
        for bridge in (self.session.network_signals.values() if self.session else ()):
            self._listen(bridge.paramChanged, self._on_param_changed, self._bridged)
            self._listen(bridge.nodeRemoved, self._on_node_removed, self._bridged)
        if self.node_id is not None and self.node is None:
            self.show_node(None, None, 0)
        elif self.node is not None:  # its composite may have new exposed params
            self._build()
        else:
            self._show_summary()

    def show_node(self, network: str | None, node_id: str | None, count: int = 1) -> None:
        """Inspect `node_id` (None: nothing, or `count` nodes selected)."""
        if self.session is None or network is None or node_id is None:
            self.network = self.node_id = None
            self._selected, self._shown_graph = count, network
            self._show_summary()
            return
        if (network, node_id) == (self.network, self.node_id):
            return
        self.network, self.node_id = network, node_id
        self._build()

    @property
    def node(self) -> Node | None:
        if self.session is None or self.node_id is None:
            return None
        if not has_graph(self.session.document, self.network):
            return None
        return graph_of(self.session.document, self.network).nodes.get(self.node_id)

    # ---- building ------------------------------------------------------------------

    def _show_summary(self) -> None:
        """With no single block selected: the document, its networks and their totals
        (in a definition's tab: the composite, its uses and the library button)."""
        self.editors = {}
        block = block_of(self._shown_graph)
        if self.session is not None and block in self.session.document.blocks:
            self._show_definition(block)
            return
        dim = theme.TEXT_DIM.name()
        parts = []
        if self.session is not None:
            doc = self.session.document
            parts.append(f"<p style='font-size:12pt; font-weight:600'>{escape(doc.name)}</p>")
            if doc.description:
                parts.append(f"<p style='color:{dim}'>{escape(doc.description)}</p>")
            for name, net in doc.networks.items():
                report = self.session.reports.get(name)
                size = (f"{report.parameters:,} parameters · {fmt_count(report.macs)} "
                        "multiply-adds" if report else "")
                parts.append(f"<p><b>{escape(name)}</b>: {len(net.nodes)} blocks, "
                             f"{len(net.edges)} wires<br><span style='color:{dim}'>{size}"
                             "</span></p>")
        hint = (f"{self._selected} blocks selected." if self._selected > 1
                else "Select a block to edit its parameters and see its shapes.")
        parts.append(f"<p style='color:{dim}'><i>{hint}</i></p>")
        summary = _label("".join(parts))
        summary.setObjectName("documentSummary")
        summary.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        summary.setMargin(8)
        self.setWidget(summary)

    def _show_definition(self, block: str) -> None:
        doc, dim = self.session.document, theme.TEXT_DIM.name()
        definition = doc.blocks[block]
        users = doc.block_users(block)
        exposed = ", ".join(p.name for p in definition.exposed) or "none"
        text = (f"<p style='font-size:12pt; font-weight:600'>{escape(block)} "
                f"<span style='color:{dim}'>· composite block</span></p>"
                f"<p style='color:{dim}'>{escape(definition.doc)}</p>"
                f"<p>{len(definition.nodes)} blocks, {len(definition.edges)} wires<br>"
                f"exposed parameters: {escape(exposed)}<br>"
                f"used by: {escape(', '.join(users) or 'nothing yet')}</p>"
                f"<p style='color:{dim}'><i>Edits here apply to every use; shapes are those "
                "of its first use. Right-click a parameter's name in a block's inspector "
                "to expose it on every use.</i></p>")
        page = QWidget()
        page.setObjectName("definitionSummary")
        layout = QVBoxLayout(page)
        layout.addWidget(_label(text))
        buttons = self._composite_buttons(block)
        buttons.itemAt(0).widget().hide()  # this is the definition already
        describe = QPushButton("Edit Description…")
        describe.setObjectName("describeBlock")
        describe.setToolTip(f"What {block} does: its tooltip in the palette and inspector")
        describe.clicked.connect(lambda: self.describeRequested.emit(block))
        buttons.insertWidget(1, describe)
        layout.addLayout(buttons)
        layout.addStretch(1)
        self.setWidget(page)

    def _build(self) -> None:
        node = self.node
        spec = node.spec
        page = QWidget()
        page.setObjectName("inspectorPage")
        layout = QVBoxLayout(page)
        colour = theme.category_color(spec.category).name()
        self.title = _label(
            f"<span style='font-size:12pt; font-weight:600'>{escape(node.id)}</span>"
            f"&nbsp;&nbsp;<span style='color:{colour}'>■</span> {escape(spec.name)}"
            f"<span style='color:{theme.TEXT_DIM.name()}'> · {escape(spec.category)}</span>")
        layout.addWidget(self.title)
        doc = _label(escape(spec.doc))
        doc.setStyleSheet(f"color: {theme.TEXT_DIM.name()};")
        layout.addWidget(doc)
        if is_composite(spec):
            layout.addLayout(self._composite_buttons(node.block))
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.editors = {}
        resolved = node.resolved_params()
        for param in spec.params:
            editor = ParamEditor(param, resolved[param.name],
                                 lambda value, name=param.name: self._apply(name, value))
            self.editors[param.name] = editor
            label = QLabel(param.name)
            label.setObjectName(f"label_{param.name}")
            label.setToolTip(editor.widget.toolTip())
            if block_of(self.network) is not None:  # inside a definition: exposable
                mark_row(self.session, block_of(self.network), node.id, param.name, label,
                         editor.widget)
            form.addRow(label, editor.widget)
        if not spec.params:
            form.addRow(_label(f"<i style='color:{theme.TEXT_DIM.name()}'>no parameters</i>"))
        layout.addLayout(form)
        self.shapes = _label()
        layout.addWidget(self.shapes)
        self.expects = _label(rich=False)
        self.expects.setObjectName("lossExpects")
        self.expects.setStyleSheet(f"color: {theme.SHAPE_TEXT.name()};")
        layout.addWidget(self.expects)
        self.problems = _label()
        layout.addWidget(self.problems)
        layout.addStretch(1)
        self.setWidget(page)
        self._refresh_report()

    def _composite_buttons(self, block: str) -> QHBoxLayout:
        """A composite's card leads to its definition and to the library."""
        row = QHBoxLayout()
        opener = QPushButton("Open Definition")
        opener.setObjectName("openDefinition")
        opener.setToolTip(f"Edit {block} in its own tab: the edits apply to every use")
        opener.clicked.connect(lambda: self.definitionRequested.emit(block))
        saver = QPushButton("Save to Library…")
        saver.setObjectName("saveToLibrary")
        saver.setToolTip(f"Keep {block} in your block library: it appears under "
                         "“My blocks” in every document")
        saver.clicked.connect(lambda: self.saveRequested.emit(block))
        row.addWidget(opener)
        row.addWidget(saver)
        row.addStretch(1)
        return row

    # ---- edits and updates -----------------------------------------------------------

    def _apply(self, name: str, value) -> None:
        if self.session is not None and self.node is not None:
            self.session.set_param(self.network, self.node_id, name, value)

    def _on_param_changed(self, node: Node, name: str) -> None:
        if self.node is node and name in self.editors:
            self.editors[name].set_value(node.resolved_params()[name])

    def _on_node_removed(self, node: Node) -> None:
        if self.node_id == node.id and self.node is None:
            self.show_node(None, None, 0)

    def _refresh_report(self) -> None:
        """Inferred shapes, size and problems from the latest check."""
        if self.node is None:
            if self.node_id is None:
                self._show_summary()
            return
        report = self.session.report_for(self.network)
        nr = report.nodes.get(self.node_id) if report else None
        if nr is None:
            return
        dim, shape_colour = theme.TEXT_DIM.name(), theme.SHAPE_TEXT.name()

        def row(side: str, port: str, shape, colour: str = "") -> str:
            name = side if port == side else f"{side}&nbsp;{escape(port)}"
            style = f" style='color:{colour}'" if colour else ""
            return (f"<tr><td style='color:{dim}'>{name}</td>"
                    f"<td><code{style}>{fmt_shape(shape)}</code></td></tr>")

        rows = [row("in", p, s) for p, s in nr.inputs.items() if p != "dataset"]
        rows += [row("out", p, s, shape_colour) for p, s in nr.outputs.items()]
        size = (f"{nr.parameters:,} parameters · {fmt_count(nr.macs)} multiply-adds"
                if nr.parameters or nr.macs else "")
        self.shapes.setText(f"<b>Shapes</b><table cellspacing=4>{''.join(rows)}</table>{size}")
        lines = [f"<p style='color:{theme.ERROR.name()}'>✖ {escape(e)}</p>" for e in nr.errors]
        lines += [f"<p style='color:{theme.WARNING.name()}'>▲ {escape(w)}</p>"
                  for w in nr.warnings]
        self.problems.setText("".join(lines))
        self.problems.setVisible(bool(lines))
        self._show_expectation()

    def _show_expectation(self) -> None:
        """On the Output training reads: what the loss expects there (task, loss, dataset)."""
        from engine.task_check import expectation, first_output

        if block_of(self.network) is not None:  # inside a definition: no loss reads it
            self.expects.setVisible(False)
            return
        net = self.session.document.networks[self.network]
        text = expectation(self.session.document, self.network) \
            if first_output(net) == self.node_id else None
        self.expects.setText(text or "")
        self.expects.setVisible(bool(text))
