#!/usr/bin/env python3
"""Node tests for onnxruntime's com.microsoft quantized ops that qpose imports (QLinearAdd,
QLinearMul, QLinearGlobalAveragePool, QLinearSigmoid, QLinearConcat), and for QDQ patterns
ONNX has no node test for (a quantized ConvTranspose, as heatmap heads have; convolutions
with 5-8 output channels over an odd pixel count, which qpose computes two pixels at a time). The reference
outputs come from onnxruntime (which defines the contrib ops, and runs QDQ node by node).

Writes contrib/<test>/model.onnx and contrib/<test>/test_data_set_0/{input,output}_<i>.pb in
the ONNX backend test layout; contrib.txt lists them. Deterministic (fixed seed).
Requires: numpy, onnx, onnxruntime.
"""
import os
import shutil

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "contrib")
RNG = np.random.RandomState(7)


def q_input(name, dtype, shape):
    lo, hi = (-128, 128) if dtype == np.int8 else (0, 256)
    return RNG.randint(lo, hi, size=shape).astype(dtype)


def write(test, nodes, inputs, outputs, inits, feeds):
    model = helper.make_model(
        helper.make_graph(nodes, test, inputs, outputs, inits),
        opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.microsoft", 1)],
    )
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    results = sess.run(None, feeds)
    d = os.path.join(OUT, test, "test_data_set_0")
    os.makedirs(d)
    onnx.save(model, os.path.join(OUT, test, "model.onnx"))
    for i, (name, value) in enumerate(feeds.items()):
        open(os.path.join(d, f"input_{i}.pb"), "wb").write(numpy_helper.from_array(value, name).SerializeToString())
    for i, (o, value) in enumerate(zip(outputs, results)):
        open(os.path.join(d, f"output_{i}.pb"), "wb").write(numpy_helper.from_array(value, o.name).SerializeToString())
    print(test, [v.shape for v in results])


def scalar(name, value, dtype):
    return numpy_helper.from_array(np.array(value, dtype=dtype), name)


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    for dt, tp, tag in [(np.uint8, TensorProto.UINT8, "uint8"), (np.int8, TensorProto.INT8, "int8")]:
        zp = lambda v: scalar(v[0], v[1], dt)
        shape = [1, 8, 5, 7]
        vi = lambda n, s: helper.make_tensor_value_info(n, tp, s)
        for op in ["QLinearAdd", "QLinearMul"]:
            inits = [scalar("a_s", 0.031, np.float32), zp(("a_z", 3)), scalar("b_s", 0.017, np.float32), zp(("b_z", -5 if tag == "int8" else 140)),
                     scalar("c_s", 0.045 if op == "QLinearAdd" else 0.02, np.float32), zp(("c_z", 7))]
            node = helper.make_node(op, ["a", "a_s", "a_z", "b", "b_s", "b_z", "c_s", "c_z"], ["c"], domain="com.microsoft")
            # b broadcasts per channel (NCHW [C, 1, 1]).
            write(f"test_{op.lower()}_{tag}", [node], [vi("a", shape), vi("b", [8, 1, 1])], [vi("c", shape)], inits,
                  {"a": q_input("a", dt, shape), "b": q_input("b", dt, [8, 1, 1])})
        inits = [scalar("x_s", 0.05, np.float32), zp(("x_z", 10)), scalar("y_s", 0.01, np.float32), zp(("y_z", 2))]
        for cl in [0, 1]:
            s = shape if cl == 0 else [1, 5, 7, 8]
            o = [1, 8, 1, 1] if cl == 0 else [1, 1, 1, 8]
            node = helper.make_node("QLinearGlobalAveragePool", ["x", "x_s", "x_z", "y_s", "y_z"], ["y"], domain="com.microsoft", channels_last=cl)
            write(f"test_qlinearglobalaveragepool_{'nhwc' if cl else 'nchw'}_{tag}", [node], [vi("x", s)], [vi("y", o)], inits, {"x": q_input("x", dt, s)})
        inits = [scalar("x_s", 0.08, np.float32), zp(("x_z", 4)), scalar("y_s", 1.0 / 256, np.float32), zp(("y_z", 0 if tag == "uint8" else -128))]
        node = helper.make_node("QLinearSigmoid", ["x", "x_s", "x_z", "y_s", "y_z"], ["y"], domain="com.microsoft")
        write(f"test_qlinearsigmoid_{tag}", [node], [vi("x", shape)], [vi("y", shape)], inits, {"x": q_input("x", dt, shape)})
        inits = [scalar("y_s", 0.04, np.float32), zp(("y_z", 1)), scalar("a_s", 0.03, np.float32), zp(("a_z", 0)),
                 scalar("b_s", 0.05, np.float32), zp(("b_z", 9))]
        node = helper.make_node("QLinearConcat", ["y_s", "y_z", "a", "a_s", "a_z", "b", "b_s", "b_z"], ["y"], domain="com.microsoft", axis=1)
        write(f"test_qlinearconcat_{tag}", [node], [vi("a", [1, 3, 5, 7]), vi("b", [1, 5, 5, 7])], [vi("y", [1, 8, 5, 7])], inits,
              {"a": q_input("a", dt, [1, 3, 5, 7]), "b": q_input("b", dt, [1, 5, 5, 7])})

    qdq_conv_transpose()
    qdq_conv_few_channels()


def qdq_params(w, ws, b, x_q, y_q, dt):
    """Initializers of a QDQ layer: s8 weights `w` with per-channel scales `ws` (zero points 0),
    int32 bias `b` at scale x_s * ws, and the (scale, zero point) of input x and output y."""
    (xs, xz), (ys, yz) = x_q, y_q
    return [
        numpy_helper.from_array(w, "w"), numpy_helper.from_array(ws, "w_s"), numpy_helper.from_array(np.zeros(len(ws), np.int8), "w_z"),
        numpy_helper.from_array(b, "b"), numpy_helper.from_array((xs * ws).astype(np.float32), "b_s"),
        numpy_helper.from_array(np.zeros(len(ws), np.int32), "b_z"),
        scalar("x_s", xs, np.float32), scalar("x_z", xz, dt), scalar("y_s", ys, np.float32), scalar("y_z", yz, dt),
    ]


def qdq_conv_transpose():
    """DQ(x) -> ConvTranspose 4x4 s2 p1 (DQ(w) per output channel, axis 1; DQ(int32 bias))
    -> Relu -> Q, for u8 and s8 activations."""
    cin, cout = 6, 5
    w = RNG.randint(-127, 128, size=(cin, cout, 4, 4)).astype(np.int8)
    ws = (RNG.rand(cout) * 0.02 + 0.005).astype(np.float32)
    for dt, tp, tag, xz, yz in [(np.uint8, TensorProto.UINT8, "u8s8", 120, 3), (np.int8, TensorProto.INT8, "s8s8", -8, -120)]:
        xs, ys = np.float32(0.04), np.float32(0.03)
        b = RNG.randint(-2000, 2000, size=cout).astype(np.int32)
        inits = qdq_params(w, ws, b, (xs, xz), (ys, yz), dt)
        nodes = [
            helper.make_node("DequantizeLinear", ["x", "x_s", "x_z"], ["xf"]),
            helper.make_node("DequantizeLinear", ["w", "w_s", "w_z"], ["wf"], axis=1),
            helper.make_node("DequantizeLinear", ["b", "b_s", "b_z"], ["bf"], axis=0),
            helper.make_node("ConvTranspose", ["xf", "wf", "bf"], ["yf"], kernel_shape=[4, 4], strides=[2, 2], pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["yf"], ["yr"]),
            helper.make_node("QuantizeLinear", ["yr", "y_s", "y_z"], ["y"]),
        ]
        vi = lambda n, s: helper.make_tensor_value_info(n, tp, s)
        write(f"test_qdq_convtranspose_{tag}", nodes, [vi("x", [1, cin, 5, 7])], [vi("y", [1, cout, 10, 14])], inits,
              {"x": q_input("x", dt, [1, cin, 5, 7])})


def qdq_conv_few_channels():
    """DQ(x) -> Conv (DQ(w) per output channel; DQ(int32 bias)) [-> Relu] -> Q, u8 activations,
    5x7 pixels: pointwise 16 -> 6 and 3x3 pad 1 8 -> 7."""
    for test, cin, cout, k, relu in [("pointwise_16to6", 16, 6, 1, False), ("3x3_8to7_relu", 8, 7, 3, True)]:
        # Weights within ±63: onnxruntime's AVX2 u8s8 kernel adds pairs of u8 x s8 products in
        # saturating 16 bits (vpmaddubsw), which |w| <= 63 keeps exact, so its outputs are the
        # exact ones qpose computes.
        w = RNG.randint(-63, 64, size=(cout, cin, k, k)).astype(np.int8)
        ws = (RNG.rand(cout) * 0.02 + 0.005).astype(np.float32)
        xs, ys = np.float32(0.04), np.float32(0.05)
        b = RNG.randint(-2000, 2000, size=cout).astype(np.int32)
        inits = qdq_params(w, ws, b, (xs, 117), (ys, 9), np.uint8)
        nodes = [
            helper.make_node("DequantizeLinear", ["x", "x_s", "x_z"], ["xf"]),
            helper.make_node("DequantizeLinear", ["w", "w_s", "w_z"], ["wf"], axis=0),
            helper.make_node("DequantizeLinear", ["b", "b_s", "b_z"], ["bf"], axis=0),
            helper.make_node("Conv", ["xf", "wf", "bf"], ["yf"], kernel_shape=[k, k], pads=[k // 2] * 4),
        ]
        if relu:
            nodes.append(helper.make_node("Relu", ["yf"], ["yr"]))
        nodes.append(helper.make_node("QuantizeLinear", ["yr" if relu else "yf", "y_s", "y_z"], ["y"]))
        vi = lambda n, s: helper.make_tensor_value_info(n, TensorProto.UINT8, s)
        write(f"test_qdq_conv_{test}_u8s8", nodes, [vi("x", [1, cin, 5, 7])], [vi("y", [1, cout, 5, 7])], inits,
              {"x": q_input("x", np.uint8, [1, cin, 5, 7])})


if __name__ == "__main__":
    main()
