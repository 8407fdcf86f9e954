#!/usr/bin/env python3
"""Writes the generated seeds of the `load_plan_run` fuzz target into fuzz/seeds/load_plan_run/.

Seeds: the first layers of the committed zoo models (fp32, QDQ s8s8 and u8s8, QAT) at a
32x32 input, and tiny composite models (conv-bn-relu-pool-gemm-softmax, depthwise,
transposed convolution, resize), fp32 and quantized by onnxruntime (QDQ and QOperator).
The other seeds are the ONNX node-test models and tests/data/bad (see
tests/scripts/fuzz_smoke.sh). Requires: onnx, numpy, onnxruntime. Deterministic.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "seeds", "load_plan_run")
ZOO = os.path.join(ROOT, "models", "zoo")


def save(model, name):
    model.ir_version = min(model.ir_version, 8)
    onnx.save(model, os.path.join(OUT, name))


def head(zoo_name, convs, out_name):
    """The nodes of a zoo model up to (and including the quantization of) its `convs`-th Conv,
    with the input made 1x3x32x32."""
    m = onnx.load(os.path.join(ZOO, zoo_name))
    g = m.graph
    producer = {o: n for n in g.node for o in n.output}
    consumers = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    # Topological order = file order for these exports; find the convs-th Conv.
    seen = 0
    target = None
    for n in g.node:
        if n.op_type == "Conv":
            seen += 1
            if seen == convs:
                target = n.output[0]
                break
    # Follow a Relu/Clip and a QuantizeLinear after it, if any, to end on an 8-bit tensor.
    for _ in range(2):
        nxt = [c for c in consumers.get(target, []) if c.op_type in ("Relu", "Clip", "QuantizeLinear")]
        if not nxt:
            break
        target = nxt[0].output[0]
    keep, stack = set(), [target]
    while stack:
        v = stack.pop()
        n = producer.get(v)
        if n is None or id(n) in keep:
            continue
        keep.add(id(n))
        stack.extend(i for i in n.input if i)
    nodes = [n for n in g.node if id(n) in keep]
    used = {i for n in nodes for i in n.input}
    inits = [t for t in g.initializer if t.name in used]
    x = helper.make_tensor_value_info(g.input[0].name, TensorProto.FLOAT, [1, 3, 32, 32])
    y = helper.make_tensor_value_info(target, TensorProto.UNDEFINED, None)
    graph = helper.make_graph(nodes, "head", [x], [y], inits)
    model = helper.make_model(graph, opset_imports=[o for o in m.opset_import if o.domain in ("", "ai.onnx", "com.microsoft")])
    save(model, out_name)


def composite(bn):
    """conv-[bn]-relu → depthwise → maxpool → resize → transposed conv → global pool → gemm → softmax."""
    rng = np.random.RandomState(0)
    f = lambda *s: rng.uniform(-1, 1, s).astype(np.float32)
    inits = [
        helper.make_tensor("w1", TensorProto.FLOAT, [8, 3, 3, 3], f(8, 3, 3, 3).ravel()),
        helper.make_tensor("b1", TensorProto.FLOAT, [8], f(8)),
        helper.make_tensor("bn_s", TensorProto.FLOAT, [8], f(8) + 1.5),
        helper.make_tensor("bn_b", TensorProto.FLOAT, [8], f(8)),
        helper.make_tensor("bn_m", TensorProto.FLOAT, [8], f(8)),
        helper.make_tensor("bn_v", TensorProto.FLOAT, [8], f(8) + 1.5),
        helper.make_tensor("wd", TensorProto.FLOAT, [8, 1, 3, 3], f(8, 1, 3, 3).ravel()),
        helper.make_tensor("wt", TensorProto.FLOAT, [8, 4, 2, 2], f(8, 4, 2, 2).ravel()),
        helper.make_tensor("scales", TensorProto.FLOAT, [4], [1, 1, 2, 2]),
        helper.make_tensor("wg", TensorProto.FLOAT, [5, 4], f(5, 4).ravel()),
        helper.make_tensor("bg", TensorProto.FLOAT, [5], f(5)),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("BatchNormalization", ["c1", "bn_s", "bn_b", "bn_m", "bn_v"], ["bn"])
        if bn
        else helper.make_node("Identity", ["c1"], ["bn"]),
        helper.make_node("Relu", ["bn"], ["r1"]),
        helper.make_node("Conv", ["r1", "wd"], ["dw"], group=8, pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["dw"], ["r2"]),
        helper.make_node("MaxPool", ["r2"], ["mp"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Resize", ["mp", "", "scales"], ["up"], mode="nearest"),
        helper.make_node("ConvTranspose", ["up", "wt"], ["ct"], strides=[2, 2]),
        helper.make_node("GlobalAveragePool", ["ct"], ["gp"]),
        helper.make_node("Flatten", ["gp"], ["fl"]),
        helper.make_node("Gemm", ["fl", "wg", "bg"], ["g"], transB=1),
        helper.make_node("Softmax", ["g"], ["y"], axis=1),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    model = helper.make_model(helper.make_graph(nodes, "composite", [x], [y], inits), opset_imports=[helper.make_opsetid("", 13)])
    save(model, "composite_bn_fp32.onnx" if bn else "composite_fp32.onnx")
    return model


def quantized(fp32):
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            rng = np.random.RandomState(1)
            self.data = iter([{"x": rng.uniform(-1, 1, (1, 3, 16, 16)).astype(np.float32)} for _ in range(4)])

        def get_next(self):
            return next(self.data, None)

    src = os.path.join(OUT, "composite_fp32.onnx")
    for fmt, act, name in [
        (QuantFormat.QDQ, QuantType.QInt8, "composite_qdq_s8s8.onnx"),
        (QuantFormat.QDQ, QuantType.QUInt8, "composite_qdq_u8s8.onnx"),
        (QuantFormat.QOperator, QuantType.QUInt8, "composite_qoperator_u8s8.onnx"),
    ]:
        dst = os.path.join(OUT, name)
        quantize_static(src, dst, Reader(), quant_format=fmt, activation_type=act, weight_type=QuantType.QInt8, per_channel=True)
        m = onnx.load(dst)
        save(m, name)


os.makedirs(OUT, exist_ok=True)
head("mbv2_0.5x_rle_192x192_fp32.onnx", 3, "zoo_head_fp32.onnx")
head("mbv2_0.5x_rle_192x192_ort_s8s8.onnx", 3, "zoo_head_qdq_s8s8.onnx")
head("mbv2_0.75x_simcc_192x192_ort_u8s8.onnx", 3, "zoo_head_qdq_u8s8.onnx")
head("mbv2_0.5x_rle_192x192_qat.onnx", 3, "zoo_head_qat.onnx")
composite(bn=True)
# (onnxruntime quantizes BatchNormalization's parameters, which qpose wants constant: the
# quantized seeds have none.)
quantized(composite(bn=False))

# .npy seeds: every dtype qpose reads, scalars, empty arrays, format versions 1 and 2.
NPY = os.path.join(HERE, "seeds", "npy")
os.makedirs(NPY, exist_ok=True)
for name, arr in [
    ("f4.npy", np.arange(12, dtype="<f4").reshape(3, 4) - 5.5),
    ("f8.npy", np.linspace(-1, 1, 5, dtype="<f8")),
    ("f2.npy", np.array([[0.5, -2.0], [65504.0, np.inf]], dtype="<f2")),
    ("i1.npy", np.array([-128, 0, 127], dtype="i1")),
    ("u1.npy", np.arange(6, dtype="u1").reshape(1, 2, 3)),
    ("b1.npy", np.array([True, False, True])),
    ("i4.npy", np.array([[1, -2], [3, -4]], dtype="<i4")),
    ("i8.npy", np.array([2**40, -1], dtype="<i8")),
    ("scalar.npy", np.array(3.25, dtype="<f4")),
    ("empty.npy", np.zeros((0, 3), dtype="<f4")),
]:
    np.save(os.path.join(NPY, name), arr)
with open(os.path.join(NPY, "v2.npy"), "wb") as f:
    np.lib.format.write_array(f, np.ones((2, 2), dtype="<f4"), version=(2, 0))
