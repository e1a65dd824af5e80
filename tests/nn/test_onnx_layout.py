"""Gates rewritten for ONNX Runtime's blocked layout: same function, fewer layout changes."""

from __future__ import annotations

import platform
from collections import Counter

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import helper, numpy_helper

from moodreel.assets import default_model_path
from moodreel.data.preprocess import Preprocessing
from moodreel.nn import create_model
from moodreel.nn.onnx_export import write_onnx
from moodreel.nn.onnx_layout import rewrite_gates
from moodreel.vision.model_info import ModelInfo

CHANS, SIDE = 16, 12


def gated_graph(activation: str = "HardSigmoid", second_reader: bool = False
                ) -> onnx.ModelProto:
    """conv -> squeeze-excitation gate -> MaxPool -> conv -> mean, as the exporter writes
    them (axes -1, -2 as an input, a symbolic batch); optionally the gated map read twice."""
    rng = np.random.default_rng(0)

    def weight(name: str, *shape: int) -> onnx.TensorProto:
        return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)

    nodes = [
        helper.make_node("Conv", ["input", "w0"], ["x"], pads=[1, 1, 1, 1]),
        helper.make_node("ReduceMean", ["x", "spatial"], ["mean"], keepdims=1),
        helper.make_node("Conv", ["mean", "w1", "b1"], ["squeezed"]),
        helper.make_node("Relu", ["squeezed"], ["hidden"]),
        helper.make_node("Conv", ["hidden", "w2", "b2"], ["excited"]),
        helper.make_node(activation, ["excited"], ["gate"]),
        helper.make_node("Mul", ["x", "gate"], ["gated"]),
        helper.make_node("MaxPool", ["gated"], ["pooled"], kernel_shape=[3, 3],
                         strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["pooled", "w3"], ["head"]),
        helper.make_node("ReduceMean", ["head", "head_axes"], ["logits"], keepdims=0),
    ]
    outputs = [helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, ["batch", 7])]
    if second_reader:
        nodes.append(helper.make_node("Relu", ["gated"], ["gated_relu"]))
        outputs.append(helper.make_tensor_value_info(
            "gated_relu", onnx.TensorProto.FLOAT, ["batch", CHANS, SIDE, SIDE]))
    graph = helper.make_graph(
        nodes, "gated",
        [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT,
                                       ["batch", 1, SIDE, SIDE])],
        outputs,
        [weight("w0", CHANS, 1, 3, 3), weight("w1", 8, CHANS, 1, 1), weight("b1", 8),
         weight("w2", CHANS, 8, 1, 1), weight("b2", CHANS), weight("w3", 7, CHANS, 1, 1),
         numpy_helper.from_array(np.array([-1, -2], np.int64), "spatial"),
         numpy_helper.from_array(np.array([2, 3], np.int64), "head_axes")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def run(proto: onnx.ModelProto, x: np.ndarray, optimized: str | None = None
        ) -> list[np.ndarray]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    if optimized:
        options.optimized_model_filepath = optimized
    session = ort.InferenceSession(proto.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})


def producer_of(proto: onnx.ModelProto, name: str) -> onnx.NodeProto:
    return next(node for node in proto.graph.node if name in node.output)


FACES = np.random.default_rng(1).standard_normal((3, 1, SIDE, SIDE)).astype(np.float32)


def unread_initializers(proto: onnx.ModelProto) -> set[str]:
    """Initializers that no node and no graph output (a constant class-map output) reads."""
    read = {name for node in proto.graph.node for name in node.input}
    read |= {output.name for output in proto.graph.output}
    return {init.name for init in proto.graph.initializer} - read


def test_a_gate_before_a_max_pool_multiplies_after_it_on_its_upsampled_gate():
    original = gated_graph()
    rewritten = gated_graph()
    assert rewrite_gates(rewritten) == 1
    onnx.checker.check_model(rewritten, full_check=True)
    ops = Counter(node.op_type for node in rewritten.graph.node)
    assert ops["GlobalAveragePool"] == 1 and ops["ReduceMean"] == 1  # the head's stays
    assert not unread_initializers(rewritten)
    mul = next(node for node in rewritten.graph.node if node.op_type == "Mul")
    assert mul.output == ["pooled"]
    assert {producer_of(rewritten, name).op_type for name in mul.input} == {"MaxPool",
                                                                             "Resize"}
    declared = {value.name: value for value in rewritten.graph.value_info}
    upsampled = next(name for name in mul.input if name in declared)
    dims = declared[upsampled].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", CHANS, SIDE // 2, SIDE // 2]
    np.testing.assert_allclose(run(rewritten, FACES)[0], run(original, FACES)[0],
                               rtol=0, atol=1e-5)


def test_rewriting_again_changes_nothing():
    rewritten = gated_graph()
    rewrite_gates(rewritten)
    again = onnx.ModelProto()
    again.CopyFrom(rewritten)
    assert rewrite_gates(again) == 0
    assert again == rewritten


@pytest.mark.parametrize("activation, second_reader", [("Tanh", False),
                                                       ("HardSigmoid", True)])
def test_a_gate_that_may_be_negative_or_a_map_read_twice_keeps_the_pool_after_it(
        activation, second_reader):
    original = gated_graph(activation, second_reader)
    rewritten = gated_graph(activation, second_reader)
    assert rewrite_gates(rewritten) == 1
    pool = next(node for node in rewritten.graph.node if node.op_type == "MaxPool")
    assert producer_of(rewritten, pool.input[0]).op_type == "Mul"
    for got, expected in zip(run(rewritten, FACES), run(original, FACES), strict=True):
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


@pytest.mark.skipif(platform.machine().lower() not in {"x86_64", "amd64"},
                    reason="ONNX Runtime's blocked layout (NCHWc) is x86 only")
def test_the_blocked_layout_takes_the_rewritten_gate(tmp_path):
    """In ONNX Runtime's optimised graph the gate's ``Mul`` reads two blocked tensors made by
    blocked kernels, where before the whole map left the layout and came back."""
    def optimized(proto: onnx.ModelProto, name: str) -> onnx.GraphProto:
        run(proto, FACES, str(tmp_path / name))
        return onnx.load(tmp_path / name).graph

    before = optimized(gated_graph(), "before.onnx")
    rewritten = gated_graph()
    rewrite_gates(rewritten)
    after = optimized(rewritten, "after.onnx")
    producers = {name: node for node in after.node for name in node.output}
    mul = next(node for node in after.node if node.op_type == "Mul")
    assert all(producers[name].domain == "com.microsoft.nchwc"
               and "Reorder" not in producers[name].op_type for name in mul.input)
    assert (sum("Reorder" in node.op_type for node in after.node)
            < sum("Reorder" in node.op_type for node in before.node))


def test_an_exported_network_with_gates_is_rewritten_and_matches_pytorch(tmp_path):
    torch.manual_seed(0)
    model = create_model("mini_xception", se=8).eval()
    info = ModelInfo(labels=tuple("abcdefg"), preprocessing=Preprocessing(48, 0.5, 0.25),
                     name="mini_xception", params=1)
    write_onnx(model, info, tmp_path / "gated.onnx")
    proto = onnx.load(tmp_path / "gated.onnx")
    assert Counter(node.op_type for node in proto.graph.node)["Resize"] == 4
    x = torch.randn(2, 1, 48, 48)
    with torch.no_grad():
        expected = model(x).numpy()
    np.testing.assert_allclose(run(proto, x.numpy())[0], expected, rtol=0, atol=1e-4)


def test_the_shipped_model_has_its_gates_rewritten_and_no_unused_weights():
    shipped = onnx.load(default_model_path())
    assert not unread_initializers(shipped)
    assert rewrite_gates(shipped) == 0
