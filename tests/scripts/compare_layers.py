#!/usr/bin/env python3
"""Layer-by-layer comparison of qpose against onnxruntime on the same model and input.

    python tests/scripts/compare_layers.py MODEL INPUT.npy [--qpose target/release/qpose]
        [--ort reference|int8] [--isolated] [--min-int8-identical 0.999] [--max-output-steps 1]

onnxruntime runs the model with every intermediate tensor qpose computes exposed as an
output. Two references:
  reference  ORT_DISABLE_ALL: each node exactly as the model writes it (ONNX semantics:
             DQ -> float op -> Q), float accumulation.
  int8       ORT_ENABLE_ALL with session.x64quantprecision=1: onnxruntime's own int8 kernels
             with exact integer accumulation (its default AVX2 u8s8 kernels saturate).
qpose runs end to end (`qpose run --dump`), and with --isolated also layer by layer on the
reference's own inputs (`qpose run --dump --isolated`), which separates each kernel's numerics
from differences that earlier layers pass on.
For 8-bit tensors it prints the share of identical integers and the largest difference in
steps; for float tensors the max |error| over max |reference|. Exit status 1 when a threshold
is violated. Requires: numpy, onnx, onnxruntime.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort


def stem(name):
    """Same file naming as `qpose run --dump` (short names only; long ones use the index)."""
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def ort_outputs(model_path, inputs, names, mode):
    model = onnx.load(model_path)
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {vi.name: vi.type for vi in list(inferred.graph.value_info) + list(inferred.graph.output) + list(inferred.graph.input)}
    existing = {o.name for o in model.graph.output}
    for name in names:
        if name in existing or name not in types:
            continue
        vi = onnx.ValueInfoProto()
        vi.name = name
        vi.type.CopyFrom(types[name])
        model.graph.output.append(vi)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    if mode == "reference":
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    else:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.add_session_config_entry("session.x64quantprecision", "1")
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    feeds = {i.name: np.load(f) for i, f in zip(sess.get_inputs(), inputs)}
    return dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds))), [o.name for o in sess.get_outputs()[: len(existing)]]


def compare(name, ours, want):
    if want.dtype in (np.int8, np.uint8):
        diff = np.abs(ours.astype(np.int32) - want.astype(np.int32))
        return "int8", float(np.mean(diff == 0)), int(diff.max()) if diff.size else 0
    m = float(np.max(np.abs(want))) if want.size else 0.0
    err = float(np.max(np.abs(ours.astype(np.float64) - want))) if want.size else 0.0
    return "float", err, m


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("input", nargs="+", help="input .npy files, in model input order")
    ap.add_argument("--qpose", default="target/release/qpose")
    ap.add_argument("--ort", choices=["reference", "int8"], default="int8")
    ap.add_argument("--isolated", action="store_true", help="also run every layer on the reference's inputs")
    ap.add_argument("--min-int8-identical", type=float, default=None)
    ap.add_argument("--max-output-steps", type=float, default=None,
                    help="final float outputs within this many quantization steps (of the model's last quantizer)")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="qpose_cmp_")
    e2e = os.path.join(tmp, "e2e")
    def qpose_run(dump, *extra):
        cmd = [args.qpose, "run", args.model, "-o", os.path.join(tmp, "out"), "--dump", dump, *extra]
        for f in args.input:
            cmd += ["-i", f]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)

    qpose_run(e2e)
    index = json.load(open(os.path.join(e2e, "index.json")))
    ref, outputs = ort_outputs(args.model, args.input, list(index), args.ort)

    iso = None
    if args.isolated:
        refdir = os.path.join(tmp, "ref")
        os.makedirs(refdir)
        ref_index = {}
        for i, (name, value) in enumerate(ref.items()):
            f = f"t{i}.npy"
            np.save(os.path.join(refdir, f), value)
            ref_index[name] = f
        json.dump(ref_index, open(os.path.join(refdir, "index.json"), "w"))
        iso_dir = os.path.join(tmp, "iso")
        qpose_run(iso_dir, "--isolated", refdir)
        iso = (iso_dir, json.load(open(os.path.join(iso_dir, "index.json"))))

    failures, rows, worst = [], 0, {"e2e": 1.0, "iso": 1.0}
    for name, file in index.items():
        if name not in ref:
            continue
        rows += 1
        want = ref[name]
        ours = np.load(os.path.join(e2e, file))
        kind, a, b = compare(name, ours, want)
        line = f"{name[:64]:<64} {str(want.dtype):>7}"
        if kind == "int8":
            worst["e2e"] = min(worst["e2e"], a)
            line += f" e2e identical {a:8.5f} (max {b} steps)"
        else:
            line += f" e2e max err {a:9.3e} / max|ref| {b:9.3e}"
        if iso is not None and name in iso[1]:
            kind2, c, d = compare(name, np.load(os.path.join(iso[0], iso[1][name])), want)
            if kind2 == "int8":
                worst["iso"] = min(worst["iso"], c)
                line += f" | isolated identical {c:8.5f} (max {d} steps)"
                if args.min_int8_identical is not None and c < args.min_int8_identical:
                    failures.append(line)
            else:
                line += f" | isolated max err {c:9.3e}"
        elif kind == "int8" and args.min_int8_identical is not None and not args.isolated and a < args.min_int8_identical:
            failures.append(line)
        if not args.quiet:
            print(line)

    # Final outputs, in units of the quantization step of the quantizer that feeds them.
    model = onnx.load(args.model)
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    producer = {o: n for n in model.graph.node for o in n.output}
    ours_out = {}
    for o in model.graph.output:
        path = os.path.join(tmp, "out", stem(o.name) + ".npy")
        if os.path.exists(path):
            ours_out[o.name] = np.load(path)
    for name, ours in ours_out.items():
        n = producer.get(name)
        step = None
        if n is not None and n.op_type == "DequantizeLinear" and n.input[1] in inits:
            step = float(np.max(inits[n.input[1]]))
        err = float(np.max(np.abs(ours.astype(np.float64) - ref[name]))) if name in ref else float("nan")
        msg = f"output {name}: max |err| {err:.4e}" + (f" = {err / step:.2f} quantization steps (step {step:.4e})" if step else "")
        print(msg)
        if args.max_output_steps is not None and step and err > args.max_output_steps * step * (1 + 1e-5):
            failures.append(msg)

    print(f"compared {rows} tensors against onnxruntime ({args.ort}); worst int8 identical share: "
          f"end to end {worst['e2e']:.5f}" + (f", isolated {worst['iso']:.5f}" if iso else ""))
    for f in failures:
        print("FAIL", f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
