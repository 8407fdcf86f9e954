#!/usr/bin/env python3
"""Writes the hand-made regression inputs of this directory (the numeric and resource faults
fixed alongside the fuzzing; fuzzer-found crashes are copied here as they were found).
Requires: onnx, numpy. Deterministic."""
import os
import struct

import numpy as np
import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))


def save(model, name):
    onnx.save(model, os.path.join(HERE, "load_plan_run", name))


def qdq_conv(name, x_scale, w_scale, bias, zp=128):
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"]),
        helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["wd"]),
        helper.make_node("Conv", ["xd", "wd", "b"], ["c"]),
        helper.make_node("QuantizeLinear", ["c", "ys", "yz"], ["yq"]),
        helper.make_node("DequantizeLinear", ["yq", "ys", "yz"], ["y"]),
    ]
    zp_t = helper.make_tensor("xz", TensorProto.UINT8, [], [0])
    zp_t.int32_data[:] = [zp]  # may be out of range on purpose
    inits = [
        helper.make_tensor("xs", TensorProto.FLOAT, [], [x_scale]),
        zp_t,
        helper.make_tensor("wq", TensorProto.INT8, [2, 2, 1, 1], [10, 0, 0, 10]),
        helper.make_tensor("ws", TensorProto.FLOAT, [], [w_scale]),
        helper.make_tensor("wz", TensorProto.INT8, [], [0]),
        helper.make_tensor("b", TensorProto.FLOAT, [2], [bias, 0.0]),
        helper.make_tensor("ys", TensorProto.FLOAT, [], [0.1]),
        helper.make_tensor("yz", TensorProto.UINT8, [], [128]),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 2, 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    save(helper.make_model(helper.make_graph(nodes, "g", [x], [y], inits), opset_imports=[helper.make_opsetid("", 13)]), name)


# Requantization not finite: 0 * inf gave the zero point on scalar, the low rail on AVX2.
qdq_conv("requant_scale_overflows_to_inf.onnx", 1e30, 1e30, 0.0)
qdq_conv("int8_conv_nan_float_bias.onnx", 0.1, 0.01, float("nan"))
# A uint8 zero point of 300 in int32_data silently wrapped to 44.
qdq_conv("uint8_zero_point_300_in_int32_data.onnx", 0.1, 0.01, 0.5, zp=300)

# A Relu chain (fused one at a time with a restart: quadratic) and a long const chain.
n = 3000
nodes = [helper.make_node("Relu", ["x" if i == 0 else f"v{i-1}"], ["y" if i == n - 1 else f"v{i}"]) for i in range(n)]
x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
save(helper.make_model(helper.make_graph(nodes, "g", [x], [y]), opset_imports=[helper.make_opsetid("", 13)]), "relu_chain_3000.onnx")

# .npy: a header length past the end, a shape whose byte size overflows, a shape of a
# billion elements with no data, a header that is not a dict.
def npy(name, header, body=b"", version=1):
    h = header.encode()
    with open(os.path.join(HERE, "npy", name), "wb") as f:
        f.write(b"\x93NUMPY" + bytes([version, 0]))
        f.write(struct.pack("<H" if version == 1 else "<I", len(h) if not name.startswith("len") else 0xFFFF))
        f.write(h + body)

npy("len_past_end.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }")
npy("shape_overflows.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }")
npy("billion_elements_no_data.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1000, 1000, 1000), }")
npy("not_a_dict.npy", "'descr''fortran_order''shape'(", b"\x00" * 8)
