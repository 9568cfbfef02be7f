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
