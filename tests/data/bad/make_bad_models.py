#!/usr/bin/env python3
"""Writes the small malformed / hostile ONNX files of tests/cli_errors.rs into this directory.

Requires: onnx, numpy. Deterministic.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))


def save(model, name):
    onnx.save(model, os.path.join(HERE, name))


def graph(nodes, inputs, outputs, inits=()):
    return helper.make_model(helper.make_graph(nodes, "g", inputs, outputs, list(inits)), opset_imports=[helper.make_opsetid("", 13)])


x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
w = helper.make_tensor("w", TensorProto.FLOAT, [4, 3, 3, 3], np.ones(108, np.float32))

# A valid tiny conv model (also the source of the truncated file).
save(graph([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], [x], [y], [w]), "tiny_conv.onnx")
data = open(os.path.join(HERE, "tiny_conv.onnx"), "rb").read()
open(os.path.join(HERE, "truncated.onnx"), "wb").write(data[: len(data) // 2])
open(os.path.join(HERE, "corrupt.onnx"), "wb").write(bytes(np.random.RandomState(0).randint(0, 256, 4096, dtype=np.uint8)))

# An op qpose does not implement.
save(graph([helper.make_node("Einsum", ["x", "x"], ["y"], name="einsum_node", equation="bchw,bchw->bchw")], [x], [y]), "unsupported_op.onnx")

# A declared input dimension too big to allocate.
huge = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 200000, 200000])
save(graph([helper.make_node("Relu", ["x"], ["y"], name="relu")], [huge], [y]), "huge_input.onnx")

# An initializer whose declared dims are far larger than its data.
liar = helper.make_tensor("w", TensorProto.FLOAT, [4, 3, 3, 3], np.ones(108, np.float32))
liar.dims[:] = [1 << 20, 1 << 20, 3, 3]
save(graph([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], [x], [y], [liar]), "lying_initializer.onnx")

# A node input nobody defines (a missing initializer).
save(graph([helper.make_node("Conv", ["x", "w_missing"], ["y"], name="conv")], [x], [y]), "missing_initializer.onnx")

# A cycle: a -> b -> a.
save(graph([helper.make_node("Relu", ["b"], ["a"], name="r1"), helper.make_node("Relu", ["a"], ["b"], name="r2"),
            helper.make_node("Add", ["x", "a"], ["y"], name="add")], [x], [y]), "cycle.onnx")

# A convolution whose weight does not match its input channels.
w2 = helper.make_tensor("w", TensorProto.FLOAT, [4, 5, 3, 3], np.ones(180, np.float32))
save(graph([helper.make_node("Conv", ["x", "w"], ["y"], name="conv_bad_channels")], [x], [y], [w2]), "bad_conv_channels.onnx")

# A zero quantization scale.
s = helper.make_tensor("s", TensorProto.FLOAT, [], [0.0])
z = helper.make_tensor("z", TensorProto.UINT8, [], [0])
save(graph([helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], name="q_zero_scale"),
            helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], name="dq")], [x], [y], [s, z]), "zero_scale.onnx")
print("written to", HERE)
