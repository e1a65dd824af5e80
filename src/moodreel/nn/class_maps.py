"""Give an exported ONNX graph what class activation maps need (``moodreel.vision.cam``):
the last feature map and the head's weights per feature cell, as extra outputs after
``logits``.

With a head that is linear in the features and ends in global average pooling, the logit
of class k is the mean over the cells of ``sum_c features[c] * weights[k, c] + bias[k]``.
For pooling then a linear layer (``ReduceMean`` -> ``Gemm``) the weights are the linear
layer's at every cell: the classic CAM (Zhou et al. 2016). For a conv head (``Conv`` ->
``ReduceMean``, mini-Xception's 3x3 conv on a 3x3 grid) the weights of a cell sum the kernel
taps that read it, so each feature cell is credited with what it adds to the logit; the
conv's own output map would instead credit each output cell with its neighbours' evidence
(on 300 FER-2013 val faces its median correlation with Grad-CAM is -0.14, against 0.93 for
the per-cell maps).

The maps are computed at explain time, not in the graph: ONNX Runtime runs every node on
every call, asked for it or not, and the extra maps would cost each plain prediction about
8%. A constant output costs nothing unless fetched; exposing the features costs one layout
conversion of the 3x3 grid, about 1 us.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from moodreel.vision.cam import CAM_BIAS, CAM_WEIGHTS, FEATURES


def add_class_map_outputs(proto: onnx.ModelProto) -> bool:
    """Add the ``features``, ``class_map_weights`` and ``class_map_bias`` outputs in place;
    False, leaving the graph as it is, for a head they do not apply to (e.g. a hidden layer
    after pooling)."""
    graph = proto.graph
    if any(output.name == FEATURES for output in graph.output):
        return True
    producers = {name: node for node in graph.node for name in node.output}
    weights = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    head = producers.get(graph.output[0].name)
    if head is not None and head.op_type == "Gemm":
        found = _linear_head(head, producers, weights)
    elif is_spatial_mean(head, weights, keepdims=False):
        found = _conv_head(proto, producers.get(head.input[0]), weights)
    else:
        found = None
    if found is None:
        return False
    features, per_cell, bias = found
    _rename(graph, features, FEATURES)
    graph.initializer.extend([numpy_helper.from_array(per_cell, CAM_WEIGHTS),
                              numpy_helper.from_array(bias.reshape(-1, 1, 1), CAM_BIAS)])
    graph.output.extend([
        helper.make_tensor_value_info(FEATURES, onnx.TensorProto.FLOAT,
                                      ["batch", per_cell.shape[1], None, None]),
        helper.make_tensor_value_info(CAM_WEIGHTS, onnx.TensorProto.FLOAT, per_cell.shape),
        helper.make_tensor_value_info(CAM_BIAS, onnx.TensorProto.FLOAT, [len(bias), 1, 1]),
    ])
    return True


def _linear_head(head: onnx.NodeProto, producers: dict[str, onnx.NodeProto],
                 weights: dict[str, np.ndarray]) -> tuple[str, np.ndarray, np.ndarray] | None:
    """``Gemm(mean(F), W, b)``: the features, ``W`` as ``(K, C, 1, 1)``, ``b``."""
    pool = producers.get(head.input[0])
    if not (is_spatial_mean(pool, weights, keepdims=False) and _attributes(head) == {"transB": 1}
            and len(head.input) == 3 and all(name in weights for name in head.input[1:])):
        return None
    kernel = weights[head.input[1]]                                  # (K, C)
    return pool.input[0], kernel.reshape(*kernel.shape, 1, 1), weights[head.input[2]]


def _conv_head(proto: onnx.ModelProto, conv: onnx.NodeProto | None,
               weights: dict[str, np.ndarray]) -> tuple[str, np.ndarray, np.ndarray] | None:
    """``mean(Conv(F, W, b))``: the features, the kernel summed per cell, ``b``."""
    if conv is None or conv.op_type != "Conv" or len(conv.input) != 3 \
            or not all(name in weights for name in conv.input[1:]):
        return None
    attributes = {a.name: helper.get_attribute_value(a) for a in conv.attribute}
    if (attributes.get("group", 1) != 1 or attributes.get("auto_pad", b"NOTSET") != b"NOTSET"
            or any(v != 1 for v in [*attributes.get("strides", []),
                                    *attributes.get("dilations", [])])):
        return None
    grid = _spatial_shape(proto, conv.input[0])
    if grid is None:
        return None
    per_cell = _kernel_per_cell(weights[conv.input[1]], attributes.get("pads", [0, 0, 0, 0]),
                                grid)
    return conv.input[0], per_cell, weights[conv.input[2]]


def _kernel_per_cell(kernel: np.ndarray, pads: list[int], grid: tuple[int, int]) -> np.ndarray:
    """``P[k, c, y, x]``: the sum of the kernel taps that read feature cell ``(y, x)`` over all
    output cells, scaled so that the mean over cells of ``sum_c F[c] * P[k, c] + b[k]`` equals
    the mean over the conv's output cells, the logit."""
    classes, chans, kh, kw = kernel.shape
    height, width = grid
    out_h, out_w = height + pads[0] + pads[2] - kh + 1, width + pads[1] + pads[3] - kw + 1
    per_cell = np.zeros((classes, chans, height, width), dtype=np.float64)
    for py in range(out_h):
        for px in range(out_w):
            for ky in range(kh):
                for kx in range(kw):
                    y, x = py + ky - pads[0], px + kx - pads[1]
                    if 0 <= y < height and 0 <= x < width:
                        per_cell[:, :, y, x] += kernel[:, :, ky, kx]
    return (per_cell * (height * width) / (out_h * out_w)).astype(np.float32)


def _spatial_shape(proto: onnx.ModelProto, name: str) -> tuple[int, int] | None:
    inferred = onnx.shape_inference.infer_shapes(proto)
    for info in inferred.graph.value_info:
        if info.name == name:
            dims = [d.dim_value for d in info.type.tensor_type.shape.dim]
            return (dims[2], dims[3]) if len(dims) == 4 and all(dims[2:]) else None
    return None


def is_spatial_mean(node: onnx.NodeProto | None, weights: dict[str, np.ndarray], *,
                    keepdims: bool) -> bool:
    """A ``ReduceMean`` over the two spatial axes of a ``(B, C, h, w)`` tensor (axes 2, 3, or
    -2, -1 as the exporter writes a gate's pooling) that keeps them as ``1 x 1`` or drops
    them, as ``keepdims`` says. Shared with ``moodreel.nn.onnx_layout``."""
    if node is None or node.op_type != "ReduceMean" or len(node.input) != 2:
        return False
    axes = weights.get(node.input[1])
    return (axes is not None and sorted(int(axis) % 4 for axis in axes) == [2, 3]
            and (_attributes(node).get("keepdims", 1) == 1) == keepdims)


def _attributes(node: onnx.NodeProto) -> dict[str, object]:
    """Attributes of a ``Gemm`` or ``ReduceMean`` that differ from the ONNX defaults."""
    defaults = {"alpha": 1.0, "beta": 1.0, "transA": 0, "transB": 0, "keepdims": 1,
                "noop_with_empty_axes": 0}
    values = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    return {k: v for k, v in values.items() if defaults.get(k, object()) != v}


def _rename(graph: onnx.GraphProto, old: str, new: str) -> None:
    for node in graph.node:
        node.input[:] = [new if name == old else name for name in node.input]
        node.output[:] = [new if name == old else name for name in node.output]
    for info in graph.value_info:
        if info.name == old:
            info.name = new
