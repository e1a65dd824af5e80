"""What ONNX Runtime's blocked (NCHWc) layout and the squeeze-excitation gates cost a model.

    .venv/bin/python benchmarks/layout_cost.py [MODEL.onnx] [--rounds 7]

Why: the shipped model runs in 0.24 ms per face on some machines and 0.43 ms on others,
against issue 4's 0.3 ms budget. ONNX Runtime's x86 graph optimiser moves convolutions into
a blocked channel layout, but it cannot take a gate's broadcast ``Mul``, so every gated
module of a graph as the exporter writes it converts its feature map out of that layout and
back. Since session 27 ``moodreel export`` rewrites the gates so that the layout takes them
(``moodreel.nn.onnx_layout``); this tells, measured in one process pinned to one core with
one thread, what that and the layout are worth to a file. Four sessions of it, timed in turns:

- ``as given``: the file at the default optimisation level (ORT_ENABLE_ALL, blocked layout);
- ``no blocked layout``: ORT_ENABLE_EXTENDED, the layout transformer off;
- ``gates rewritten``: ``rewrite_gates`` applied (the same as given for a file exported
  since session 27, the shipped one included);
- ``no gates (bound)``: each gate's ``Mul`` an identity, its dead branch pruned. Its outputs
  are wrong: it only bounds what a network without gates could gain.

Prints ms per face at batch 1 and 8, the ratio against ``as given`` (above 1: faster), the
largest output difference from it, and the share of kernel time per operator type in a
profile of the given graph.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from google.protobuf.message import DecodeError
from inference import pin_one_core
from onnx import helper
from quantization import best_ms_in_turns

from moodreel.assets import default_model_path
from moodreel.nn.onnx_layout import rewrite_gates

PROFILED_RUNS = 2000


def with_nodes(model: onnx.ModelProto, nodes: list[onnx.NodeProto]) -> onnx.ModelProto:
    """A copy of ``model`` whose graph runs ``nodes`` (same inputs, outputs and weights)."""
    rewritten = onnx.ModelProto()
    rewritten.CopyFrom(model)
    del rewritten.graph.node[:]
    rewritten.graph.node.extend(nodes)
    return rewritten


def gates_rewritten(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` with its gates rewritten for the blocked layout."""
    rewritten = onnx.ModelProto()
    rewritten.CopyFrom(model)
    rewrite_gates(rewritten)
    return rewritten


def without_gates(model: onnx.ModelProto) -> onnx.ModelProto:
    """``model`` with each broadcast ``Mul`` an identity and the nodes no output needs pruned."""
    nodes = [helper.make_node("Identity", [node.input[0]], list(node.output))
             if node.op_type == "Mul" else node for node in model.graph.node]
    needed = {output.name for output in model.graph.output}
    kept = []
    for node in reversed(nodes):
        if any(name in needed for name in node.output):
            kept.append(node)
            needed.update(node.input)
    return with_nodes(model, kept[::-1])


def session(model: onnx.ModelProto, level: ort.GraphOptimizationLevel,
            profile_prefix: str | None = None) -> ort.InferenceSession:
    """A one-thread CPU session on ``model`` at optimisation ``level`` (as the app opens one
    at the default level), profiled to files named ``profile_prefix`` if given."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.graph_optimization_level = level
    options.log_severity_level = 3  # the pruned graph leaves unused initializers: not news
    if profile_prefix:
        options.enable_profiling = True
        options.profile_file_prefix = profile_prefix
    return ort.InferenceSession(model.SerializeToString(), options,
                                providers=["CPUExecutionProvider"])


def kernel_shares(model: onnx.ModelProto, inputs: np.ndarray, workdir: str) -> Counter[str]:
    """Share of kernel time per operator type over ``PROFILED_RUNS`` batch-1 calls."""
    profiled = session(model, ort.GraphOptimizationLevel.ORT_ENABLE_ALL, f"{workdir}/profile")
    name = profiled.get_inputs()[0].name
    for _ in range(PROFILED_RUNS):
        profiled.run(None, {name: inputs[:1]})
    with open(profiled.end_profiling()) as file:
        events = json.load(file)
    micros: Counter[str] = Counter()
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            micros[event["args"]["op_name"]] += event["dur"]
    total = sum(micros.values()) or 1
    return Counter({op: spent / total for op, spent in micros.items()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", nargs="?", type=Path, default=None,
                        help="ONNX emotion model (default: the shipped one)")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    path = args.model or default_model_path()
    try:
        model = onnx.load(str(path))
    except (OSError, DecodeError) as error:
        parser.error(f"{path}: not a readable ONNX model ({error})")
    pinned = pin_one_core()

    full, extended = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
                      ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED)
    sessions = {"as given": session(model, full),
                "no blocked layout": session(model, extended),
                "gates rewritten": session(gates_rewritten(model), full),
                "no gates (bound)": session(without_gates(model), full)}
    shape = sessions["as given"].get_inputs()[0].shape
    inputs = np.random.default_rng(0).standard_normal((8, *shape[1:]), dtype=np.float32)

    def call(runner: ort.InferenceSession, batch: int) -> Callable[[], None]:
        name = runner.get_inputs()[0].name
        return partial(runner.run, None, {name: np.ascontiguousarray(inputs[:batch])})

    outputs = {label: call(runner, 8)()[0] for label, runner in sessions.items()}
    speed = {batch: best_ms_in_turns({label: call(runner, batch)
                                      for label, runner in sessions.items()}, batch, args.rounds)
             for batch in (1, 8)}

    print(f"{path.name}: one ONNX Runtime thread, {pinned}, best of {args.rounds} rounds in turns")
    print(f"\n{'variant':20s} {'ms b1':>7s} {'x':>5s} {'ms b8':>7s} {'x':>5s} {'max |diff|':>11s}")
    for label in sessions:
        diff = float(np.abs(outputs[label] - outputs["as given"]).max())
        b1, b8 = speed[1][label], speed[8][label]
        print(f"{label:20s} {b1:7.3f} {speed[1]['as given'] / b1:5.2f} "
              f"{b8:7.3f} {speed[8]['as given'] / b8:5.2f} {diff:11.1e}")

    with tempfile.TemporaryDirectory() as workdir:
        shares = kernel_shares(model, inputs, workdir)
    print(f"\nkernel time by operator, given graph, {PROFILED_RUNS} batch-1 runs:")
    for op, share in shares.most_common():
        print(f"  {op:16s} {share:6.1%}")


if __name__ == "__main__":
    main()
