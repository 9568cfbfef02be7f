"""The few layers `torch.nn` lacks, written so that they script, trace and export.

This file imports only torch: the PyTorch-source exporter copies these classes
verbatim into the `model.py` it writes, so exported code runs without NetCanvas.
"""

import math

import torch
from torch import Tensor, nn


class Step(nn.Module):
    """Heaviside step, the perceptron's activation: 1 where x >= 0, else 0."""

    def forward(self, x: Tensor) -> Tensor:
        return (x >= 0).to(x.dtype)


class TakeLast(nn.Module):
    """The last time step of a batch-first sequence: (N, T, F) -> (N, F)."""

    def forward(self, x: Tensor) -> Tensor:
        return x[:, -1]


class Reshape(nn.Module):
    """Reshape every sample, keeping the batch axis: (N, *) -> (N, *shape)."""

    def __init__(self, shape: list[int]):
        super().__init__()
        self.shape = list(shape)

    def forward(self, x: Tensor) -> Tensor:
        return x.reshape([x.shape[0]] + self.shape)


class PositionalEncoding(nn.Module):
    """Adds the sinusoidal position signal of "Attention Is All You Need"."""

    def __init__(self, d_model: int, max_len: int = 512, dropout: float = 0.0):
        super().__init__()
        position = torch.arange(max_len).unsqueeze(1)  # (T, 1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, d_model)  # (T, E)
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term[: d_model // 2])
        self.register_buffer("pe", pe, persistent=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        # x: (N, T, E). narrow, not a slice, so that fx can retrace it symbolically.
        return self.dropout(x + torch.narrow(self.pe, 0, 0, x.shape[1]))


class ScaledDotProductAttention(nn.Module):
    """softmax(Q Kᵀ / √d) V, returning the output and the attention weights."""

    def __init__(self, causal: bool = False):
        super().__init__()
        self.causal = causal

    def forward(self, query: Tensor, key: Tensor, value: Tensor):
        # query (N, L, E), key (N, S, E), value (N, S, Ev)
        scores = query @ key.transpose(-2, -1) / math.sqrt(query.shape[-1])  # (N, L, S)
        if self.causal:
            # Built from `scores` itself (not from its sizes) so fx can retrace it.
            mask = torch.ones_like(scores, dtype=torch.bool).triu(1)
            scores = scores.masked_fill(mask, float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        return weights @ value, weights  # (N, L, Ev), (N, L, S)


class GraphConv(nn.Module):
    """Kipf & Welling's graph convolution: Â (X W), linear first, then neighbours.

    With `normalize`, Â = D^-1/2 (A + I) D^-1/2 is computed from the raw adjacency.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 normalize: bool = True):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features, bias=bias)
        self.normalize = normalize

    def forward(self, adjacency: Tensor, features: Tensor) -> Tensor:
        # adjacency (V, V) or (N, V, V); features (V, F) or (N, V, F)
        if self.normalize:
            eye = torch.eye(adjacency.shape[-1], dtype=adjacency.dtype, device=adjacency.device)
            a_hat = adjacency + eye
            d_inv_sqrt = a_hat.sum(-1).clamp(min=1e-12).pow(-0.5)
            adjacency = d_inv_sqrt.unsqueeze(-1) * a_hat * d_inv_sqrt.unsqueeze(-2)
        return adjacency @ self.linear(features)


class GATConv(nn.Module):
    """Veličković et al.'s graph attention: each node attends over its neighbours.

    Every node's features go through a shared linear map per head; the score of
    neighbour j for node i is LeakyReLU(a_dst·Wh_i + a_src·Wh_j), non-edges are
    -inf before the softmax over j, and the output is the attention-weighted sum
    of Wh_j, concatenated or averaged over the heads. The adjacency is the dense
    one GraphConv reads; only where it is non-zero matters.

    Two computations of the same function: `dense` (V×V scores per head, what
    TorchScript, ONNX and torch.export record) and `sparse` (scores per edge, what
    eager training runs: Cora's 8 heads × 2708² dense scores cost seconds a step,
    its 13k edges milliseconds). Eager runs keep the last attention weights per
    edge in `last_attention` for the feature-map view.
    """

    def __init__(self, in_features: int, out_features: int, heads: int = 1, concat: bool = True,
                 negative_slope: float = 0.2, dropout: float = 0.0, add_self_loops: bool = True,
                 bias: bool = True):
        super().__init__()
        self.in_features, self.out_features, self.heads = in_features, out_features, heads
        self.concat, self.negative_slope, self.dropout = concat, negative_slope, dropout
        self.add_self_loops = add_self_loops
        self.linear = nn.Linear(in_features, heads * out_features, bias=False)
        self.att_src = nn.Parameter(torch.empty(heads, out_features))
        self.att_dst = nn.Parameter(torch.empty(heads, out_features))
        width = heads * out_features if concat else out_features
        self.bias = nn.Parameter(torch.zeros(width)) if bias else None
        for weight in (self.linear.weight, self.att_src, self.att_dst):
            nn.init.xavier_uniform_(weight)
        self.last_attention: tuple[Tensor, Tensor] | None = None

    def forward(self, adjacency: Tensor, features: Tensor) -> Tensor:
        # adjacency (V, V) or (N, V, V); features (V, F) or (N, V, F)
        h = self.linear(features).unflatten(-1, (self.heads, self.out_features))  # (..., V, H, F')
        # The diagonal is set (or kept) through a constant of this layer's own, so that an
        # exporter cannot merge this mask with another layer's: each GATConv of an ONNX file
        # then stays a self-contained group, which imports back as one block.
        nodes = adjacency.shape[-1]
        if self.add_self_loops:
            diagonal = torch.eye(nodes, dtype=torch.bool, device=adjacency.device)
        else:
            diagonal = torch.zeros(nodes, nodes, dtype=torch.bool, device=adjacency.device)
        edges = adjacency.masked_fill(diagonal, 1.0) != 0
        if torch.jit.is_scripting() or self._recorded():
            mixed = self.dense(edges, h)
        else:
            mixed = self.sparse(edges, h)
        out = mixed.flatten(-2) if self.concat else mixed.mean(-2)  # (..., V, H·F') or (..., V, F')
        if self.bias is not None:
            out = out + self.bias
        return out

    @torch.jit.unused
    def _recorded(self) -> bool:
        """Whether an exporter or compiler is recording: they get the dense form."""
        return (torch.jit.is_tracing() or torch.compiler.is_compiling()
                or torch.onnx.is_in_onnx_export())

    def dense(self, edges: Tensor, h: Tensor) -> Tensor:
        """The attention as V×V matrices per head: (..., V, V) edges, (..., V, H, F') -> same."""
        # The parameters enter unchanged (no unsqueeze an exporter would fold into a new
        # constant), so an ONNX file still names them and imports back as this block.
        source = (h * self.att_src).sum(-1).transpose(-1, -2)  # (..., H, V): a_src·Wh_j
        target = (h * self.att_dst).sum(-1).transpose(-1, -2)  # (..., H, V): a_dst·Wh_i
        h = h.transpose(-3, -2)  # (..., H, V, F')
        scores = nn.functional.leaky_relu(target.unsqueeze(-1) + source.unsqueeze(-2),
                                          self.negative_slope)  # (..., H, V, V)
        blocked = ~edges.unsqueeze(-3)  # (..., 1, V, V), broadcast over the heads
        # A node without any neighbour has a row of -inf, whose softmax is NaN: zeroed.
        weights = torch.softmax(scores.masked_fill(blocked, float("-inf")), dim=-1)
        weights = weights.masked_fill(blocked, 0.0)
        mixed = nn.functional.dropout(weights, self.dropout, self.training) @ h
        return mixed.transpose(-3, -2)  # (..., V, H, F')

    @torch.jit.unused
    def sparse(self, edges: Tensor, h: Tensor) -> Tensor:
        """The same attention over the edge list: a softmax per target node by scatter."""
        index = edges.nonzero()  # (E, 2), or (E, 3) with the graph first when batched
        nodes = h.shape[-3]
        flat = h.reshape(-1, self.heads, self.out_features)  # (G·V, H, F'), G graphs
        graph = index[:, 0] * nodes if index.shape[1] == 3 else 0
        rows, cols = graph + index[:, -2], graph + index[:, -1]  # node i attends to node j
        source = (flat * self.att_src).sum(-1)  # (G·V, H)
        target = (flat * self.att_dst).sum(-1)
        scores = nn.functional.leaky_relu(target[rows] + source[cols], self.negative_slope)
        with torch.no_grad():  # the row maximum only keeps exp() finite; it cancels out
            top = torch.full_like(source, float("-inf")).scatter_reduce_(
                0, rows.unsqueeze(-1).expand_as(scores), scores, "amax")
        exp = (scores - top[rows]).exp()  # (E, H)
        weights = exp / torch.zeros_like(source).index_add_(0, rows, exp)[rows]
        self.last_attention = (index, weights.detach())
        weights = nn.functional.dropout(weights, self.dropout, self.training)
        mixed = torch.zeros_like(flat).index_add_(0, rows, weights.unsqueeze(-1) * flat[cols])
        return mixed.reshape(h.shape)


class Add(nn.Module):
    """Element-wise sum of all inputs (a residual connection)."""

    def forward(self, xs: list[Tensor]) -> Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Multiply(nn.Module):
    """Element-wise product of all inputs (a gate)."""

    def forward(self, xs: list[Tensor]) -> Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out


class Concat(nn.Module):
    """Concatenation of all inputs along `dim`."""

    def __init__(self, dim: int = 1):
        super().__init__()
        self.dim = dim

    def forward(self, xs: list[Tensor]) -> Tensor:
        return torch.cat(xs, dim=self.dim)
