#!/usr/bin/env python3
"""Checks a model written by `qpose calibrate` with onnxruntime.

For each input .npy, runs the QDQ model
  * in onnxruntime with ORT_DISABLE_ALL (every node as written: the ONNX semantics of the
    QDQ file, int8 simulated in float), and with ORT_ENABLE_ALL (onnxruntime's fused int8
    kernels, session.x64quantprecision=1 so that x86 without VNNI does not saturate u8s8 pair
    sums);
  * in qpose (`qpose run`, int8 kernels);
and optionally the fp32 model in onnxruntime, then prints per output the max / mean absolute
difference and the SQNR (dB) of qpose and of onnxruntime against each other and against fp32.

It first checks the file: onnx.checker, opset >= 13, and that every Conv / Gemm / MatMul reads
DequantizeLinear'd int8 weights (per-axis) or is a layer the calibrator kept in float.

Usage:
  python tests/scripts/check_calibrated_with_ort.py --model out.int8.onnx \
      --fp32 model.onnx --input tests/data/reference/input_192x192/input_0.npy [--input ...] \
      [--qpose target/release/qpose] [--min-sqnr 30]
Exit status 1 if onnxruntime cannot load or run the file, or if qpose and onnxruntime
(ORT_DISABLE_ALL) agree with an SQNR below --min-sqnr on any output.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort


def sqnr(ref, test):
    ref = ref.astype(np.float64)
    noise = np.sum((ref - test.astype(np.float64)) ** 2)
    sig = np.sum(ref ** 2)
    if noise == 0:
        return float("inf")
    return 10 * np.log10(sig / noise) if sig > 0 else float("-inf")


def session(path, level, x64=False):
    so = ort.SessionOptions()
    so.graph_optimization_level = level
    so.intra_op_num_threads = 1
    if x64:
        so.add_session_config_entry("session.x64quantprecision", "1")
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def check_file(path):
    m = onnx.load(path)
    onnx.checker.check_model(m)
    opset = [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")][0]
    assert opset >= 13, f"opset {opset} < 13"
    producers = {o: n for n in m.graph.node for o in n.output}
    inits = {t.name: t for t in m.graph.initializer}
    int8 = floats = 0
    for n in m.graph.node:
        if n.op_type not in ("Conv", "Gemm", "MatMul") or len(n.input) < 2:
            continue
        w = n.input[1]
        p = producers.get(w)
        if p is not None and p.op_type == "DequantizeLinear" and p.input[0] in inits:
            t = inits[p.input[0]]
            assert t.data_type == onnx.TensorProto.INT8, f"{n.name}: weights are not int8"
            int8 += 1
        else:
            floats += 1
    n_q = sum(n.op_type == "QuantizeLinear" for n in m.graph.node)
    n_dq = sum(n.op_type == "DequantizeLinear" for n in m.graph.node)
    print(f"{path}: opset {opset}, onnx.checker ok; {int8} int8 layers, {floats} float layers; "
          f"{n_q} QuantizeLinear, {n_dq} DequantizeLinear")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--fp32")
    ap.add_argument("--input", action="append", required=True)
    ap.add_argument("--qpose", default=os.environ.get("QPOSE", "target/release/qpose"))
    ap.add_argument("--min-sqnr", type=float, default=30.0)
    a = ap.parse_args()

    check_file(a.model)
    exact = session(a.model, ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    fused = session(a.model, ort.GraphOptimizationLevel.ORT_ENABLE_ALL, x64=True)
    fp32 = session(a.fp32, ort.GraphOptimizationLevel.ORT_DISABLE_ALL) if a.fp32 else None
    in_name = exact.get_inputs()[0].name
    names = [o.name for o in exact.get_outputs()]
    worst = float("inf")
    for path in a.input:
        x = np.load(path).astype(np.float32)
        r_exact = dict(zip(names, exact.run(None, {in_name: x})))
        r_fused = dict(zip(names, fused.run(None, {in_name: x})))
        r_fp32 = dict(zip(names, fp32.run(None, {in_name: x}))) if fp32 else None
        with tempfile.TemporaryDirectory() as d:
            subprocess.run([a.qpose, "run", a.model, "--input", f"{in_name}={path}", "--out", d],
                           check=True, stdout=subprocess.DEVNULL)
            r_q = {n: np.load(os.path.join(d, f"{n}.npy")) for n in names}
        print(f"input {path}")
        for n in names:
            q, e, f = r_q[n], r_exact[n], r_fused[n]
            s = sqnr(e, q)
            worst = min(worst, s)
            line = (f"  {n:>12}: qpose vs ORT(exact) max|d| {np.max(np.abs(q - e)):.3g} mean {np.mean(np.abs(q - e)):.3g} "
                    f"SQNR {s:.1f} dB; qpose vs ORT(fused int8) max|d| {np.max(np.abs(q - f)):.3g}; "
                    f"ORT(fused) vs ORT(exact) SQNR {sqnr(e, f):.1f} dB")
            if r_fp32 is not None:
                line += f"; vs fp32: qpose {sqnr(r_fp32[n], q):.1f} dB, ORT {sqnr(r_fp32[n], e):.1f} dB"
            print(line)
    ok = worst >= a.min_sqnr
    print(f"{'OK' if ok else 'FAIL'}: worst qpose-vs-onnxruntime SQNR {worst:.1f} dB (bound {a.min_sqnr} dB)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
