"""Recurrent layers over sequences (N×T×F with batch_first) and TakeLast."""

from __future__ import annotations

from engine.blocks.base import IN, OUT, BlockSpec, Param, Params, Port, Shape, Shapes, need_rank
from engine.blocks.lazy import modules, nn

GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}


def _recurrent_shape(name: str):
    def infer(p: Params, s: Shapes) -> dict[str, Shape]:
        x = s["in"]
        layout = "N×T×F" if p["batch_first"] else "T×N×F"
        need_rank(name, x, (3,), layout)
        directions = 2 if p["bidirectional"] else 1
        batch = x[0] if p["batch_first"] else x[1]
        state = (directions * p["num_layers"], batch, p["hidden_size"])
        shapes = {"out": x[:-1] + (directions * p["hidden_size"],), "h": state}
        if name == "LSTM":
            shapes["c"] = state
        return shapes

    return infer


def _recurrent_macs(name: str):
    def macs(p: Params, s: Shapes, o: Shapes) -> int:
        x = s["in"]
        steps = (x[1] if p["batch_first"] else x[0]) or 1
        directions = 2 if p["bidirectional"] else 1
        hidden = p["hidden_size"]
        first = GATES[name] * hidden * (x[-1] + hidden)
        rest = GATES[name] * hidden * (directions * hidden + hidden)
        return steps * directions * (first + (p["num_layers"] - 1) * rest)

    return macs


def _recurrent(name: str, cls: type[nn.Module], doc: str) -> BlockSpec:
    params = [
        Param("hidden_size", "int", 64, "Size of the hidden state.", min=1, max=100_000),
        Param("num_layers", "int", 1, "Stacked recurrent layers.", min=1, max=64),
        Param("bidirectional", "bool", False, "Also read the sequence backwards."),
        Param("dropout", "float", 0.0, "Dropout between stacked layers.", min=0.0, max=1.0),
        Param("batch_first", "bool", True, "Inputs are N×T×F (on) or T×N×F (off)."),
    ]
    if name == "RNN":
        params.insert(2, Param("nonlinearity", "choice", "tanh", "Activation of the state.",
                               choices=("tanh", "relu")))
    outputs = [Port("out", "every step's hidden state"), Port("h", "final hidden state")]
    paths = {"out": (0,), "h": (1,)}
    if name == "LSTM":
        outputs.append(Port("c", "final cell state"))
        paths = {"out": (0,), "h": (1, 0), "c": (1, 1)}

    def build(p: Params, s: Shapes) -> nn.Module:
        extra = {"nonlinearity": p["nonlinearity"]} if name == "RNN" else {}
        return cls(
            s["in"][-1], p["hidden_size"], num_layers=p["num_layers"],
            bidirectional=p["bidirectional"], dropout=p["dropout"],
            batch_first=p["batch_first"], **extra,
        )

    return BlockSpec(
        name=name, category="Recurrent", doc=doc, inputs=IN, outputs=tuple(outputs),
        params=tuple(params), infer=_recurrent_shape(name), build=build,
        output_paths=paths, key_params=("hidden_size", "num_layers"),
        macs=_recurrent_macs(name),
    )


def _take_last_shape(p: Params, s: Shapes) -> dict[str, Shape]:
    need_rank("TakeLast", s["in"], (3,), "N×T×F")
    return {"out": s["in"][:1] + s["in"][2:]}


BLOCKS = (
    _recurrent("RNN", nn.RNN, "Elman recurrent layer; input_size is inferred."),
    _recurrent("LSTM", nn.LSTM, "Long short-term memory: gated memory over long sequences."),
    _recurrent("GRU", nn.GRU, "Gated recurrent unit: an LSTM with fewer gates."),
    BlockSpec(
        name="TakeLast", category="Recurrent",
        doc="The last time step of a sequence: N×T×F -> N×F (e.g. after an LSTM).",
        inputs=IN, outputs=OUT, params=(), infer=_take_last_shape,
        build=lambda p, s: modules.TakeLast(),
    ),
)
