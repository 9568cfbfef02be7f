"""Attention and the Transformer: positional encoding, attention layers, encoder layer."""

from __future__ import annotations

from engine.blocks.base import (
    IN,
    OUT,
    BlockSpec,
    Param,
    Params,
    Port,
    Shape,
    Shapes,
    fmt_shape,
    need_rank,
    need_spatial,
)
from engine.blocks.lazy import modules, nn
from engine.errors import ShapeError

QKV = (
    Port("query", "N×L×E: what each position looks for"),
    Port("key", "N×S×E: what each position offers (defaults to query)", optional=True, fallback="query"),
    Port("value", "N×S×Ev: what is passed on (defaults to key)", optional=True, fallback="key"),
)
ATTENTION_OUTPUTS = (Port("out", "attended values"), Port("weights", "attention map N×L×S"))


def _check_qkv(block: str, s: Shapes) -> tuple[Shape, Shape, Shape]:
    q, k, v = s["query"], s["key"], s["value"]
    for port, shape in (("query", q), ("key", k), ("value", v)):
        need_rank(block, shape, (3,), "N×L×E", port)
    if k[1] != v[1]:
        raise ShapeError(f"key and value differ in length: {fmt_shape(k)} vs {fmt_shape(v)}")
    if not (q[0] == k[0] == v[0]):
        raise ShapeError(f"query, key and value differ in batch: {fmt_shape(q)}, {fmt_shape(k)}")
    return q, k, v


def _mha_shape(p: Params, s: Shapes) -> dict[str, Shape]:
    q, k, v = _check_qkv("MultiheadAttention", s)
    if q[2] % p["num_heads"]:
        raise ShapeError(f"embed_dim {q[2]} is not divisible by num_heads {p['num_heads']}")
    return {"out": q, "weights": (q[0], q[1], k[1])}


def _mha_macs(p: Params, s: Shapes, o: Shapes) -> int:
    q, k, v = (s[n] for n in ("query", "key", "value"))
    length, source, embed = q[1] or 1, k[1] or 1, q[2]
    projections = length * embed * embed * 2 + source * embed * (k[2] + v[2])
    return projections + 2 * length * source * embed


MULTIHEAD_ATTENTION = BlockSpec(
    name="MultiheadAttention",
    category="Attention",
    doc="Multi-head attention (batch first); embed_dim is the query width. Wire only query for self-attention.",
    inputs=QKV,
    outputs=ATTENTION_OUTPUTS,
    params=(
        Param("num_heads", "int", 4, "Parallel attention heads; must divide embed_dim.", min=1, max=1024),
        Param("dropout", "float", 0.0, "Dropout on the attention weights.", min=0.0, max=1.0),
        Param("bias", "bool", True, "Learn biases in the projections."),
    ),
    infer=_mha_shape,
    build=lambda p, s: nn.MultiheadAttention(
        s["query"][2], p["num_heads"], dropout=p["dropout"], bias=p["bias"],
        kdim=s["key"][2], vdim=s["value"][2], batch_first=True,
    ),
    output_paths={"out": (0,), "weights": (1,)},
    key_params=("num_heads",),
    macs=_mha_macs,
)


def _sdpa_shape(p: Params, s: Shapes) -> dict[str, Shape]:
    q, k, v = _check_qkv("ScaledDotProductAttention", s)
    if q[2] != k[2]:
        raise ShapeError(f"query and key widths differ: {fmt_shape(q)} vs {fmt_shape(k)}")
    return {"out": (q[0], q[1], v[2]), "weights": (q[0], q[1], k[1])}


SCALED_DOT_PRODUCT_ATTENTION = BlockSpec(
    name="ScaledDotProductAttention",
    category="Attention",
    doc="softmax(QKᵀ/√d)·V with no weights of its own; optionally causal.",
    inputs=QKV,
    outputs=ATTENTION_OUTPUTS,
    params=(Param("causal", "bool", False, "Each position sees only itself and earlier ones."),),
    infer=_sdpa_shape,
    build=lambda p, s: modules.ScaledDotProductAttention(p["causal"]),
    output_paths={"out": (0,), "weights": (1,)},
    macs=lambda p, s, o: 2 * (s["query"][1] or 1) * (s["key"][1] or 1) * s["query"][2],
)


def _positional_shape(p: Params, s: Shapes) -> dict[str, Shape]:
    x = s["in"]
    need_rank("PositionalEncoding", x, (3,), "N×T×E")
    need_spatial("PositionalEncoding", x, "N×T×E")
    if x[1] > p["max_len"]:
        raise ShapeError(f"sequence length {x[1]} exceeds max_len {p['max_len']}")
    return {"out": x}


POSITIONAL_ENCODING = BlockSpec(
    name="PositionalEncoding",
    category="Attention",
    doc="Adds sinusoidal position signals so attention can tell positions apart.",
    inputs=IN,
    outputs=OUT,
    params=(
        Param("max_len", "int", 512, "Longest sequence supported.", min=1, max=1_000_000),
        Param("dropout", "float", 0.0, "Dropout after adding the signal.", min=0.0, max=1.0),
    ),
    infer=_positional_shape,
    build=lambda p, s: modules.PositionalEncoding(s["in"][2], p["max_len"], p["dropout"]),
    count=lambda p, s: 0,  # a fixed buffer; building it on "meta" would load torch._dynamo
)


def _encoder_shape(p: Params, s: Shapes) -> dict[str, Shape]:
    x = s["in"]
    need_rank("TransformerEncoderLayer", x, (3,), "N×T×E")
    if x[2] % p["nhead"]:
        raise ShapeError(f"d_model {x[2]} is not divisible by nhead {p['nhead']}")
    return {"out": x}


def _encoder_macs(p: Params, s: Shapes, o: Shapes) -> int:
    length, embed = s["in"][1] or 1, s["in"][2]
    return length * (4 * embed * embed + 2 * embed * p["dim_feedforward"]) + 2 * length**2 * embed


TRANSFORMER_ENCODER_LAYER = BlockSpec(
    name="TransformerEncoderLayer",
    category="Attention",
    doc="Self-attention, add & norm, feed-forward, add & norm (batch first); d_model is inferred.",
    inputs=IN,
    outputs=OUT,
    params=(
        Param("nhead", "int", 4, "Attention heads; must divide d_model.", min=1, max=1024),
        Param("dim_feedforward", "int", 256, "Width of the feed-forward block.", min=1, max=1_000_000),
        Param("dropout", "float", 0.1, "Dropout inside the layer.", min=0.0, max=1.0),
        Param("activation", "choice", "relu", "Feed-forward activation.", choices=("relu", "gelu")),
        Param("norm_first", "bool", False, "Pre-norm (on) or post-norm (off, the original)."),
    ),
    infer=_encoder_shape,
    build=lambda p, s: nn.TransformerEncoderLayer(
        s["in"][2], p["nhead"], dim_feedforward=p["dim_feedforward"], dropout=p["dropout"],
        activation=p["activation"], norm_first=p["norm_first"], batch_first=True,
    ),
    key_params=("nhead", "dim_feedforward"),
    macs=_encoder_macs,
)

BLOCKS = (POSITIONAL_ENCODING, MULTIHEAD_ATTENTION, SCALED_DOT_PRODUCT_ATTENTION,
          TRANSFORMER_ENCODER_LAYER)
