#!/usr/bin/env python3
"""Latency of qpose against onnxruntime (and OpenVINO when installed) on the same model files,
in the same run, single-threaded and pinned to one core; prints a markdown table of medians
and the ratios qpose/ORT and qpose/OpenVINO.

Requirements (a venv):
    pip install numpy onnx onnxruntime==1.31.1  # required
    pip install openvino==2026.4.1              # optional: skipped (and said so) if absent
    cargo build --release                       # the qpose binary (target/release/qpose)
    taskset (util-linux)                        # for pinning; without it runs are unpinned

Usage:
    python benches/compare_peers.py                          # every committed model
    python benches/compare_peers.py models/zoo/*_fp32.onnx models/blazepose/pose_landmark_full.onnx
    python benches/compare_peers.py --rounds 3 --runs 200 --warmup 30 --cpu 1 --out table.md

Protocol (after /work/shared/reference/peers.md): batch 1, static shapes, one real person crop
(the model's reference input from tests/data/reference/manifest.json) fed to every runtime.
Each measurement is its own process, pinned with `taskset -c CPU`: load the model, `--warmup`
untimed runs, then `--runs` timed runs; the process reports the median (and p90). Rounds are
interleaved: in every round each model runs through all runtimes in turn before the next
model starts, so slow drifts of the shared machine hit every runtime alike. A time cell is the
median of the round medians, with [min-max] over the rounds; a ratio cell is the median over
rounds of that round's qpose/peer ratio (measured back to back), with [min-max].

Runtime settings:
* qpose: `qpose bench MODEL --input CROP.npy --json` (single-threaded by design).
* onnxruntime: intra_op_num_threads=1, inter_op_num_threads=1, ORT_SEQUENTIAL,
  ORT_ENABLE_ALL, spinning off; timed around `InferenceSession.run` (includes Python's
  call overhead, a few microseconds).
* OpenVINO: CPU plugin, INFERENCE_NUM_THREADS=1, NUM_STREAMS=1, PERFORMANCE_HINT=LATENCY,
  INFERENCE_PRECISION_HINT=f32 (its default may be bf16 on CPUs that have it); timed around
  `InferRequest.infer`.

The numbers are relative: compare the ratios of one run on one machine, not absolute times
across machines or runs.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "tests/data/reference/manifest.json"
RUNTIMES = ("qpose", "ort", "openvino")


# --------------------------------------------------------------------------------------------
# Workers: one measurement each, run in their own (pinned) process.
# --------------------------------------------------------------------------------------------


def summarize(samples_ms: list[float]) -> dict:
    s = sorted(samples_ms)
    n = len(s)

    def rank(p: float) -> float:
        return s[min(max(int(-(-p * n // 100)), 1), n) - 1]

    return {"p50": statistics.median(s), "p90": rank(90), "min": s[0], "max": s[-1], "n": n}


def worker_ort(model: str, inputs: list[str], runs: int, warmup: int) -> dict:
    import numpy as np
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.add_session_config_entry("session.inter_op.allow_spinning", "0")
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    feed = {i.name: np.load(f) for i, f in zip(sess.get_inputs(), inputs)}
    for _ in range(warmup):
        sess.run(None, feed)
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        sess.run(None, feed)
        samples.append((time.perf_counter() - t) * 1e3)
    return {"version": ort.__version__, **summarize(samples)}


def worker_openvino(model: str, inputs: list[str], runs: int, warmup: int) -> dict:
    import numpy as np
    import openvino as ov

    core = ov.Core()
    compiled = core.compile_model(
        core.read_model(model),
        "CPU",
        {
            "INFERENCE_NUM_THREADS": 1,
            "NUM_STREAMS": 1,
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": "f32",
        },
    )
    req = compiled.create_infer_request()
    feed = {i: np.load(f) for i, f in enumerate(inputs)}
    for _ in range(warmup):
        req.infer(feed)
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        req.infer(feed)
        samples.append((time.perf_counter() - t) * 1e3)
    return {"version": ov.__version__.split("-")[0], **summarize(samples)}


# --------------------------------------------------------------------------------------------
# Driver.
# --------------------------------------------------------------------------------------------


def default_models() -> list[Path]:
    return sorted((ROOT / "models/zoo").glob("*.onnx")) + sorted(
        (ROOT / "models/blazepose").glob("*.onnx")
    )


def input_shapes(model: Path) -> list[tuple[str, list[int]]]:
    import onnx

    m = onnx.load(str(model), load_external_data=False)
    init = {i.name for i in m.graph.initializer}
    return [
        (i.name, [d.dim_value for d in i.type.tensor_type.shape.dim])
        for i in m.graph.input
        if i.name not in init
    ]


def resolve_inputs(model: Path, tmp: Path) -> tuple[list[str], str]:
    """One real crop per model input (paths to .npy) and a note on where it came from."""
    import numpy as np

    manifest = json.loads(MANIFEST.read_text()) if MANIFEST.exists() else {"models": []}
    try:
        rel = model.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        rel = None
    entries = manifest["models"]
    files, notes = [], []
    for name, shape in input_shapes(model):
        own = next((e for e in entries if e["model"] == rel), None)
        path = own and own["cases"][0]["inputs"].get(name)
        if not path:  # any reference input of the same shape
            for e in entries:
                for p in e["cases"][0]["inputs"].values():
                    if list(np.load(ROOT / p, mmap_mode="r").shape) == shape:
                        path = p
                        break
                if path:
                    break
        if path:
            files.append(str(ROOT / path))
            notes.append(path)
            continue
        # The 192x192 crop resized bilinearly (align_corners=False) to the model's size.
        src = "tests/data/reference/input_192x192/input_0.npy"
        x = np.load(ROOT / src)[0].astype(np.float64)  # [3, 192, 192]
        if len(shape) != 4 or (shape[1] != 3 and shape[3] != 3):
            raise SystemExit(f"{model}: no reference input for {name} {shape}")
        nchw = shape[1] == 3
        h, w = (shape[2], shape[3]) if nchw else (shape[1], shape[2])
        y = resize_bilinear(x, h, w)
        y = y if nchw else y.transpose(1, 2, 0)
        out = tmp / f"{model.stem}_{name}.npy"
        np.save(out, np.ascontiguousarray(y[None], dtype=np.float32))
        files.append(str(out))
        notes.append(f"{src} resized to {h}x{w}")
    return files, ", ".join(notes)


def resize_bilinear(x, h: int, w: int):
    import numpy as np

    _, sh, sw = x.shape
    fy = np.clip((np.arange(h) + 0.5) * sh / h - 0.5, 0, sh - 1)
    fx = np.clip((np.arange(w) + 0.5) * sw / w - 0.5, 0, sw - 1)
    y0, x0 = np.floor(fy).astype(int), np.floor(fx).astype(int)
    y1, x1 = np.minimum(y0 + 1, sh - 1), np.minimum(x0 + 1, sw - 1)
    dy, dx = (fy - y0)[:, None], (fx - x0)[None, :]
    top = x[:, y0][:, :, x0] * (1 - dx) + x[:, y0][:, :, x1] * dx
    bot = x[:, y1][:, :, x0] * (1 - dx) + x[:, y1][:, :, x1] * dx
    return top * (1 - dy) + bot * dy


def pin(cpu: int | None) -> list[str]:
    if cpu is None:
        return []
    if shutil.which("taskset") is None:
        print("warning: taskset not found, runs are not pinned", file=sys.stderr)
        return []
    return ["taskset", "-c", str(cpu)]


def measure(runtime: str, model: Path, inputs: list[str], args) -> dict:
    if runtime == "qpose":
        cmd = [str(args.qpose), "bench", str(model), "--runs", str(args.runs)]
        cmd += ["--warmup", str(args.warmup), "--json"]
        for f in inputs:
            cmd += ["--input", f]
    else:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", runtime, str(model)]
        cmd += ["--runs", str(args.runs), "--warmup", str(args.warmup)]
        for f in inputs:
            cmd += ["--input", f]
    load1 = os.getloadavg()[0]
    p = subprocess.run(pin(args.cpu) + cmd, capture_output=True, text=True)
    if p.returncode != 0:
        msg = (p.stderr.strip().splitlines() or ["exit code %d" % p.returncode])[-1]
        msg = msg.removeprefix("error: ")
        return {"error": msg[:200], "load1": load1}
    j = json.loads(p.stdout.strip().splitlines()[-1])
    if runtime == "qpose":
        return {
            "p50": j["ms"]["p50"],
            "p90": j["ms"]["p90"],
            "min": j["ms"]["min"],
            "macs": j["macs"],
            "isa": j["isa"],
            "load1": load1,
        }
    return {**j, "load1": load1}


def openvino_available() -> str | None:
    p = subprocess.run(
        [sys.executable, "-c", "import openvino as ov; print(ov.__version__.split('-')[0])"],
        capture_output=True,
        text=True,
    )
    return p.stdout.strip() if p.returncode == 0 else None


def fmt_cell(vals: list[float], digits: int = 3) -> str:
    if not vals:
        return "n/a"
    med = statistics.median(vals)
    if len(vals) == 1:
        return f"{med:.{digits}f}"
    return f"{med:.{digits}f} [{min(vals):.{digits}f}-{max(vals):.{digits}f}]"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="*", type=Path, help="ONNX files (default: committed models)")
    ap.add_argument("--qpose", type=Path, default=None, help="qpose binary (default: release)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=200, help="timed runs per measurement")
    ap.add_argument("--warmup", type=int, default=30, help="untimed runs per measurement")
    ap.add_argument("--cpu", type=int, default=1, help="core to pin to (-1: do not pin)")
    ap.add_argument("--no-openvino", action="store_true")
    ap.add_argument("--out", type=Path, help="also write the report (markdown) here")
    ap.add_argument("--json-out", type=Path, help="also write every measurement as JSON here")
    # Internal: one measurement.
    ap.add_argument("--worker", choices=("ort", "openvino"), help=argparse.SUPPRESS)
    ap.add_argument("--input", action="append", default=[], help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker:
        fn = worker_ort if args.worker == "ort" else worker_openvino
        print(json.dumps(fn(str(args.models[0]), args.input, args.runs, args.warmup)))
        return 0

    args.cpu = None if args.cpu < 0 else args.cpu
    if args.qpose is None:
        target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
        args.qpose = target / "release" / "qpose"
    if not args.qpose.exists():
        print(f"error: {args.qpose} not found: run `cargo build --release` first", file=sys.stderr)
        return 2
    models = [m.resolve() for m in (args.models or default_models())]

    import onnxruntime as ort

    runtimes = ["qpose", "ort"]
    notes = []
    ov_version = None if args.no_openvino else openvino_available()
    if ov_version:
        runtimes.append("openvino")
    elif args.no_openvino:
        notes.append("OpenVINO: skipped (--no-openvino).")
    else:
        notes.append(
            "OpenVINO: not installed in this Python (`pip install openvino`); ORT only."
        )
        print("note: " + notes[-1], file=sys.stderr)

    tmp = Path(tempfile.mkdtemp(prefix="qpose_peers_"))
    sources = {m: resolve_inputs(m, tmp) for m in models}
    results: dict[tuple[Path, str], list[dict]] = {(m, r): [] for m in models for r in runtimes}
    load_before = os.getloadavg()
    started = time.time()
    for rnd in range(args.rounds):
        for m in models:
            files, _ = sources[m]
            for r in runtimes:
                res = measure(r, m, files, args)
                results[(m, r)].append(res)
                shown = f"{res['p50']:.3f} ms" if "p50" in res else "error: " + res["error"]
                print(f"round {rnd + 1}/{args.rounds} {m.name:<44} {r:<9} {shown}", file=sys.stderr)
    load_after = os.getloadavg()
    shutil.rmtree(tmp, ignore_errors=True)

    def medians(m, r):
        return [x["p50"] for x in results[(m, r)] if "p50" in x]

    def p90s(m, r):
        return [x["p90"] for x in results[(m, r)] if "p90" in x]

    def errors(m, r):
        return sorted({x["error"] for x in results[(m, r)] if "error" in x})

    cpu = "unknown CPU"
    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and cpu == "unknown CPU":
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    simd = [f for f in ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16") if f in flags]
    isa = next((x["isa"] for m in models for x in results[(m, "qpose")] if "isa" in x), "?")

    out = []
    out.append(f"# qpose vs peers, {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}")
    out.append("")
    out.append(f"Command: `{' '.join([Path(sys.argv[0]).name] + sys.argv[1:])}`")
    out.append("")
    out.append(
        f"Machine: {cpu}, {os.cpu_count()} CPUs, SIMD {' '.join(simd) or 'none listed'}; "
        f"pinned to core {args.cpu if args.cpu is not None else '(not pinned)'}; "
        f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after; "
        f"{(time.time() - started) / 60:.1f} min."
    )
    versions = [f"qpose ({args.qpose}, kernels {isa})", f"onnxruntime {ort.__version__}"]
    if ov_version:
        versions.append(f"openvino {ov_version}")
    out.append(
        f"Runtimes: {', '.join(versions)}; Python {platform.python_version()}. "
        f"Each measurement: own process, {args.warmup} warm-up + {args.runs} timed runs, median; "
        f"{args.rounds} interleaved rounds; time cell = median of round medians [min-max]; "
        f"ratio = median over rounds of the round's qpose/peer medians [min-max]."
    )
    for n in notes:
        out.append("")
        out.append(n)
    out.append("")
    head = ["model", "GMAC", "qpose ms", "ORT ms"]
    if ov_version:
        head.append("OpenVINO ms")
    head.append("qpose/ORT")
    if ov_version:
        head.append("qpose/OpenVINO")
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "---|" * len(head))
    failures = []
    for m in models:
        q = medians(m, "qpose")
        macs = next((x["macs"] for x in results[(m, "qpose")] if "macs" in x), None)
        row = [m.name, f"{macs / 1e9:.3f}" if macs else "?"]
        for r in runtimes:
            row.append(fmt_cell(medians(m, r)) if medians(m, r) else "error")
            for e in errors(m, r):
                failures.append(f"* {m.name}, {r}: {e}")
        for r in runtimes[1:]:
            # Per round: qpose's median over the peer's, measured back to back; then the
            # median over rounds [min-max]. Steadier than a ratio of medians when the load of
            # the shared machine drifts between rounds.
            ratios = [
                a["p50"] / b["p50"]
                for a, b in zip(results[(m, "qpose")], results[(m, r)])
                if "p50" in a and "p50" in b
            ]
            row.append(fmt_cell(ratios, 2) if ratios else "n/a")
        out.append("| " + " | ".join(row) + " |")
    out.append("")
    out.append(
        "Fastest run, ms (median over rounds of each measurement's minimum), and the ratios of "
        "those minima per round. Not peers.md's protocol: a load-robust cross-check, since "
        "load on a shared core only ever adds time."
    )
    out.append("")
    out.append(
        "| model | "
        + " | ".join(f"{r} min" for r in runtimes)
        + " | "
        + " | ".join(f"qpose/{r} (min)" for r in runtimes[1:])
        + " |"
    )
    out.append("|---|" + "---|" * (2 * len(runtimes) - 1))
    for m in models:

        def mins(r):
            return [x["min"] for x in results[(m, r)] if "min" in x]

        cells = [fmt_cell(mins(r)).split(" ")[0] if mins(r) else "error" for r in runtimes]
        for r in runtimes[1:]:
            ratios = [
                a["min"] / b["min"]
                for a, b in zip(results[(m, "qpose")], results[(m, r)])
                if "min" in a and "min" in b
            ]
            cells.append(fmt_cell(ratios, 2) if ratios else "n/a")
        out.append(f"| {m.name} | " + " | ".join(cells) + " |")
    out.append("")
    out.append("p90, ms (median of round p90s):")
    out.append("")
    out.append("| model | " + " | ".join(runtimes) + " |")
    out.append("|---|" + "---|" * len(runtimes))
    for m in models:
        cells = [fmt_cell(p90s(m, r)).split(" ")[0] if p90s(m, r) else "error" for r in runtimes]
        out.append(f"| {m.name} | " + " | ".join(cells) + " |")
    out.append("")
    out.append("Inputs: " + "; ".join(f"{m.name}: {sources[m][1]}" for m in models))
    out.append("")
    out.append(
        "Ratios below 1 mean qpose is faster. Relative numbers from one run on one shared "
        "machine; absolute times are not comparable across machines or runs."
    )
    if failures:
        out.append("")
        out.append("Failures:")
        out.extend(failures)
    report = "\n".join(out) + "\n"
    print(report)
    if args.out:
        args.out.write_text(report)
    if args.json_out:
        args.json_out.write_text(
            json.dumps(
                [
                    {"model": str(m), "runtime": r, "rounds": results[(m, r)]}
                    for m in models
                    for r in runtimes
                ],
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
