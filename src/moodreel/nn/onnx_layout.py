"""Rewrite an exported graph's squeeze-excitation gates so that ONNX Runtime's blocked
layout covers them.

On x86, ONNX Runtime moves convolutions into a blocked channel layout (NCHWc), worth 2.4x
to this project's networks. A gate ends in ``x * g`` with ``x (B, C, H, W)`` and
``g (B, C, 1, 1)``; that layout takes no broadcast ``Mul``, nor the ``ReduceMean`` the
exporter writes for the gate's pooling, so every gated module converted its feature map out
of the layout and back: about a fifth of the shipped network's time (session 24's profile).
Three rewrites, each giving the same logits up to float rounding, keep the gates inside it:

- the gate's ``ReduceMean`` over H, W becomes ``GlobalAveragePool``, which the layout has;
- a gate followed only by a ``MaxPool`` multiplies after the pool instead, on a map a
  quarter the size: for a gate ``g >= 0`` (a hard or plain sigmoid) ``maxpool(x) * g``
  equals ``maxpool(x * g)`` exactly, since rounding is monotonic;
- the gate is upsampled to the map's size by a nearest ``Resize``, and the result's shape,
  symbolic batch included, is declared, so that the ``Mul`` has two equal shapes, which the
  layout takes.

Where the blocked layout does not run (another CPU, a lower optimisation level) the graph
computes the same function: the ``Mul`` then reads a map a quarter the size, plus a
``Resize`` of that map.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference

from moodreel.nn.class_maps import is_spatial_mean

#: Activations whose output is never negative: a gate made by one commutes with max-pooling.
NON_NEGATIVE = frozenset({"HardSigmoid", "Sigmoid", "Relu"})


def rewrite_gates(proto: onnx.ModelProto) -> int:
    """Rewrite ``proto``'s channel gates in place (see the module docstring); the number of
    gates found, 0 for a graph without any or with them rewritten already."""
    graph = proto.graph
    shapes = _inferred_shapes(proto)  # pooling keeps every shape: one inference serves both
    _pool_spatial_means(graph, shapes)
    _drop_unread_initializers(graph)
    nodes = list(graph.node)
    gates = [node for node in nodes if _gate_operands(node, shapes)]
    for mul in gates:
        _multiply_after_max_pool(graph, nodes, mul)
    _replace_nodes(graph, nodes)

    shapes = _inferred_shapes(proto)
    nodes = []
    for node in graph.node:
        operands = _gate_operands(node, shapes)
        if operands:
            nodes.append(_upsample_gate(graph, node, *operands, shapes[operands[0]]))
        nodes.append(node)
    _replace_nodes(graph, nodes)
    return len(gates)


def _pool_spatial_means(graph: onnx.GraphProto, shapes: dict[str, list]) -> None:
    """Each ``ReduceMean`` of a 4-d tensor over its spatial axes that keeps them as
    ``GlobalAveragePool``; the head's pooling, which drops them, stays
    (``moodreel.nn.class_maps`` reads it)."""
    constants = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    for index, node in enumerate(graph.node):
        if (is_spatial_mean(node, constants, keepdims=True)
                and len(shapes.get(node.input[0]) or []) == 4):
            graph.node[index].CopyFrom(helper.make_node(
                "GlobalAveragePool", [node.input[0]], list(node.output), name=node.name))


def _drop_unread_initializers(graph: onnx.GraphProto) -> None:
    """Remove the initializers no node or output reads (the gates' pooling axes), which ONNX
    Runtime would otherwise warn about at every load."""
    read = {name for node in graph.node for name in node.input} | {
        output.name for output in graph.output}  # a constant output reads its initializer
    kept = [init for init in graph.initializer if init.name in read]
    del graph.initializer[:]
    graph.initializer.extend(kept)


def _gate_operands(node: onnx.NodeProto, shapes: dict[str, list]) -> tuple[str, str] | None:
    """``(map, gate)`` when ``node`` multiplies a ``(B, C, H, W)`` map by a ``(B, C, 1, 1)``
    gate with H, W known and not both 1; None otherwise."""
    if node.op_type != "Mul" or len(node.input) != 2:
        return None
    for x, g in (node.input, node.input[::-1]):
        x_shape, g_shape = shapes.get(x), shapes.get(g)
        if (x_shape and g_shape and len(x_shape) == len(g_shape) == 4
                and g_shape[2:] == [1, 1] and x_shape[1] == g_shape[1]
                and all(isinstance(d, int) for d in x_shape[2:]) and x_shape[2:] != [1, 1]):
            return x, g
    return None


def _multiply_after_max_pool(graph: onnx.GraphProto, nodes: list[onnx.NodeProto],
                             mul: onnx.NodeProto) -> None:
    """``MaxPool(x * g)`` as ``MaxPool(x) * g`` when the pool is the product's only reader
    and ``g`` cannot be negative. The full-size product is gone (its declared shape with it);
    the new product takes the pool's output name, whose shape it has."""
    producers = {name: node for node in nodes for name in node.output}
    gates = [name for name in mul.input
             if name in producers and producers[name].op_type in NON_NEGATIVE]
    readers = [node for node in nodes if mul.output[0] in node.input]
    if not gates or len(readers) != 1 or mul.output[0] in {out.name for out in graph.output}:
        return
    pool = readers[0]
    if pool.op_type != "MaxPool" or len(pool.output) != 1:
        return
    gate = gates[-1]
    x = mul.input[1] if mul.input[0] == gate else mul.input[0]
    gone, product, pooled = mul.output[0], pool.output[0], f"{x}_max_pooled"
    pool.input[0], pool.output[0] = x, pooled
    mul.input[:] = [pooled, gate]
    mul.output[0] = product
    nodes.remove(mul)
    nodes.insert(nodes.index(pool) + 1, mul)
    declared = [value for value in graph.value_info if value.name != gone]
    del graph.value_info[:]
    graph.value_info.extend(declared)


def _upsample_gate(graph: onnx.GraphProto, mul: onnx.NodeProto, x: str, gate: str,
                   x_shape: list) -> onnx.NodeProto:
    """The ``Resize`` that repeats ``gate`` over ``x``'s cells, to run before ``mul``, which
    is made to read it; its output's shape is declared."""
    scales = numpy_helper.from_array(np.array([1, 1, *x_shape[2:]], np.float32),
                                     f"{gate}_upsample_scales")
    upsampled = f"{gate}_upsampled"
    graph.initializer.append(scales)
    graph.value_info.append(helper.make_tensor_value_info(
        upsampled, onnx.TensorProto.FLOAT, x_shape))
    mul.input[list(mul.input).index(gate)] = upsampled
    return helper.make_node("Resize", [gate, "", scales.name], [upsampled], mode="nearest",
                            coordinate_transformation_mode="asymmetric", nearest_mode="floor")


def _replace_nodes(graph: onnx.GraphProto, nodes: list[onnx.NodeProto]) -> None:
    """Make ``nodes`` (elements of ``graph.node``, possibly edited and reordered) the graph."""
    copies = [onnx.NodeProto.FromString(node.SerializeToString()) for node in nodes]
    del graph.node[:]
    graph.node.extend(copies)


def _inferred_shapes(proto: onnx.ModelProto) -> dict[str, list]:
    """Every tensor's shape as ONNX infers it: ints, symbolic names or None per axis."""
    inferred = shape_inference.infer_shapes(proto)
    graph = inferred.graph
    shapes = {}
    for value in [*graph.input, *graph.value_info, *graph.output]:
        tensor = value.type.tensor_type
        if tensor.HasField("shape"):
            shapes[value.name] = [d.dim_value if d.HasField("dim_value") else
                                  d.dim_param or None for d in tensor.shape.dim]
    return shapes
