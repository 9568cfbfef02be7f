"""Which block a failure came from: an exception in a forward pass, told against its node.

Checking catches what it can before Run; anything that still escapes a training
step is a PyTorch message naming a file in torch, which tells a person nothing
about their canvas. `locate_failure` re-runs the compiled network node by node
with torch.fx's Interpreter, stops at the node that raises, and says which
block it was and what shapes went in.

`Trainer.run`'s crash handler (engine/training/base.py) calls `describe_crash`
with the forward pass that raised, which `Trainer.forward` remembers.
"""

from __future__ import annotations

import traceback
from typing import Any

import torch
from torch import fx, nn

from engine.document import Document, Network


class _Tracer(fx.Interpreter):
    """An Interpreter that remembers the node it is running and the shapes it was given."""

    def __init__(self, module: fx.GraphModule) -> None:
        super().__init__(module)
        self.current: fx.Node | None = None
        self.shapes: list[str] = []

    def run_node(self, n: fx.Node) -> Any:
        self.current = n
        args, kwargs = self.fetch_args_kwargs_from_env(n)
        self.shapes = [_shape_text(a) for a in (*args, *kwargs.values())]
        return super().run_node(n)


def _shape_text(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return "×".join(map(str, value.shape)) or "scalar"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_shape_text(v) for v in value) + "]"
    return type(value).__name__


def _message(exc: BaseException) -> str:
    """The first line of PyTorch's message, without the file and line it points into."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text.split(" (in ")[0]


def locate_failure(module: fx.GraphModule, exc: BaseException, inputs: tuple[Any, ...],
                   network: Network | None = None) -> str | None:
    """"node X (Block) got shapes …: message" for the node that raised, or None.

    `inputs` are the forward() arguments that failed. The module is re-run (in its
    current train/eval mode, without gradients); None means the failure did not
    come from the network (the loss, say) or did not happen again.
    """
    tracer = _Tracer(module)
    try:
        with torch.no_grad():
            tracer.run(*inputs)
    except Exception as again:  # noqa: BLE001  any failure inside the network is what we look for
        node = tracer.current
        if node is None or node.op in ("placeholder", "output"):
            return None
        node_id = _node_id(module, node)
        block = network.nodes[node_id].block if network and node_id in network.nodes \
            else _block_name(module, node)
        shapes = ", ".join(tracer.shapes) or "nothing"
        return f"node {node_id} ({block}) got shapes {shapes}: {_message(again or exc)}"
    return None


def _node_id(module: fx.GraphModule, node: fx.Node) -> str:
    """The document's node id of an fx node (compiled names differ for reserved words)."""
    target = node.target if node.op == "call_module" else node.name
    by_attribute = {attr: node_id for node_id, attr in module.meta.get("submodules", {}).items()}
    return by_attribute.get(str(target), str(target))


def _block_name(module: fx.GraphModule, node: fx.Node) -> str:
    if node.op == "call_module":
        return type(module.get_submodule(str(node.target))).__name__
    return getattr(node.target, "__name__", str(node.target))


def describe_crash(exc: Exception, failed: tuple[nn.Module, tuple[Any, ...], Exception] | None,
                   models: dict[str, nn.Module], doc: Document) -> str:
    """One line for a crash: the block a forward pass failed in, else where in NetCanvas.

    `failed` is (model, inputs, exception) of the last forward pass that raised; it is
    used only when that exception is `exc`.
    """
    if failed is not None and failed[2] is exc and isinstance(failed[0], fx.GraphModule):
        model, inputs, _ = failed
        names = [n for n, m in models.items() if m is model]
        network = doc.networks.get(names[0]) if names else None
        where = locate_failure(model, exc, inputs, network)
        if where:
            prefix = f"{names[0]}: " if names and len(doc.networks) > 1 else ""
            return f"training failed at {prefix}{where}"
    return crash_line(exc)


def crash_line(exc: Exception) -> str:
    """The exception with the last frame of NetCanvas's own code (frames in torch skipped:
    a file name inside torch tells a person nothing)."""
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    ours = [f for f in frames if "/torch/" not in f.filename.replace("\\", "/")]
    frame = ours[-1] if ours else None
    where = f" (in {frame.name}, {frame.filename.rsplit('/', 1)[-1]}:{frame.lineno})" if frame else ""
    return f"training failed: {type(exc).__name__}: {exc}{where}"


__all__ = ["crash_line", "describe_crash", "locate_failure"]
