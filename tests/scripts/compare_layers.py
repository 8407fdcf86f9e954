#!/usr/bin/env python3
"""Layer-by-layer comparison of qpose against onnxruntime on the same model and input.

    qpose run MODEL -i INPUT.npy -o OUT --dump DUMP
    python tests/scripts/compare_layers.py MODEL INPUT.npy DUMP [--input-name NAME]

onnxruntime runs with every optimisation disabled (each node as the model writes it: ONNX
semantics, independent of the CPU's int8 instructions) and exposes every tensor qpose dumped.
For float tensors it prints the max |error| relative to max |reference|; for 8-bit tensors the
share of identical integers and the largest difference in quantization steps.
Exit status 1 if --min-int8-identical or --max-float-rel is violated.
Requires: numpy, onnx, onnxruntime.
"""
import argparse
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("input", nargs="+", help="input .npy files (model input order)")
    ap.add_argument("--dump", required=True, help="directory written by `qpose run --dump`")
    ap.add_argument("--min-int8-identical", type=float, default=None, help="fail below this share (e.g. 0.999)")
    ap.add_argument("--max-float-rel", type=float, default=None, help="fail above this relative error")
    ap.add_argument("--quiet", action="store_true", help="print only the summary")
    args = ap.parse_args()

    index = json.load(open(os.path.join(args.dump, "index.json")))
    model = onnx.load(args.model)
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {vi.name: vi.type for vi in list(inferred.graph.value_info) + list(inferred.graph.output) + list(inferred.graph.input)}
    existing = {o.name for o in model.graph.output}
    for name in index:
        if name in existing or name not in types:
            continue
        vi = onnx.ValueInfoProto()
        vi.name = name
        vi.type.CopyFrom(types[name])
        model.graph.output.append(vi)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    feeds = {i.name: np.load(f) for i, f in zip(sess.get_inputs(), args.input)}
    names = [o.name for o in sess.get_outputs()]
    ref = dict(zip(names, sess.run(None, feeds)))

    worst_int8, worst_float, failures, compared = 1.0, 0.0, [], 0
    for name, file in index.items():
        if name not in ref:
            continue
        ours = np.load(os.path.join(args.dump, file))
        want = ref[name]
        if ours.shape != want.shape:
            failures.append(f"{name}: shape {ours.shape} vs {want.shape}")
            continue
        compared += 1
        if want.dtype in (np.int8, np.uint8):
            same = float(np.mean(ours.astype(np.int32) == want.astype(np.int32)))
            steps = int(np.max(np.abs(ours.astype(np.int32) - want.astype(np.int32)))) if want.size else 0
            worst_int8 = min(worst_int8, same)
            line = f"{name[:70]:<70} {str(want.dtype):>6} identical {same:9.5f} max diff {steps} steps"
            if args.min_int8_identical is not None and same < args.min_int8_identical:
                failures.append(line)
        else:
            m = float(np.max(np.abs(want))) if want.size else 0.0
            err = float(np.max(np.abs(ours.astype(np.float64) - want))) if want.size else 0.0
            rel = err / m if m > 0 else err
            worst_float = max(worst_float, rel)
            line = f"{name[:70]:<70} {str(want.dtype):>6} max err {err:10.3e} / max|ref| {m:10.3e} = {rel:9.2e}"
            if args.max_float_rel is not None and rel > args.max_float_rel:
                failures.append(line)
        if not args.quiet:
            print(line)
    print(f"compared {compared} tensors; worst int8 identical share {worst_int8:.5f}; worst float relative error {worst_float:.2e}")
    for f in failures:
        print("FAIL", f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
