#!/usr/bin/env python3
"""Reference outputs of onnxruntime's own int8 execution for the committed u8s8 QDQ models.

onnxruntime runs with ORT_ENABLE_ALL and session.x64quantprecision=1 (its int8 kernels with
exact integer accumulation; its default AVX2 u8s8 kernels saturate intermediate sums), single
thread, on the same crops as tests/data/reference/manifest.json. Writes
tests/data/reference/<arch>/<variant>/ort_int8/<output>_<case>.npy and a manifest
tests/data/reference/int8_manifest.json that tests/int8_models.rs reads.

Requires: numpy, onnx, onnxruntime (see models/README.md for the venv).
"""
import json
import os

import numpy as np
import onnxruntime as ort

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    manifest = json.load(open(os.path.join(ROOT, "tests/data/reference/manifest.json")))
    out = {"generated_by": "tests/scripts/make_int8_references.py", "onnxruntime": ort.__version__,
           "options": "ORT_ENABLE_ALL, session.x64quantprecision=1, 1 thread", "models": []}
    for e in manifest["models"]:
        if not e["model"].endswith("_ort_u8s8.onnx"):
            continue
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.add_session_config_entry("session.x64quantprecision", "1")
        sess = ort.InferenceSession(os.path.join(ROOT, e["model"]), so, providers=["CPUExecutionProvider"])
        entry = {"name": e["name"], "model": e["model"], "cases": []}
        for case in e["cases"]:
            feeds = {k: np.load(os.path.join(ROOT, v)) for k, v in case["inputs"].items()}
            outs = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))
            files = {}
            for name, value in outs.items():
                rel = os.path.join(os.path.dirname(next(iter(case["outputs"].values()))), "ort_int8", f"{name}_{case['id']}.npy")
                os.makedirs(os.path.join(ROOT, os.path.dirname(rel)), exist_ok=True)
                np.save(os.path.join(ROOT, rel), value)
                files[name] = rel
            entry["cases"].append({"inputs": case["inputs"], "outputs": files})
        out["models"].append(entry)
        print(e["name"], len(entry["cases"]), "cases")
    json.dump(out, open(os.path.join(ROOT, "tests/data/reference/int8_manifest.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
