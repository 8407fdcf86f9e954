#!/usr/bin/env python3
"""Vendors the ONNX backend node tests qpose runs, from the installed `onnx` wheel.

The wheel ships every node test as `onnx/backend/test/data/node/<test>/` holding
`model.onnx` and `test_data_set_0/{input,output}_<i>.pb` (serialized TensorProtos whose
reference values come from ONNX's own reference implementation). This script copies the
tests named in `manifest.txt` into `data/<test>/`, nothing else, so re-running it with the
pinned onnx version reproduces the committed files byte for byte:

    /work/venv/bin/python tests/onnx_node/vendor.py          # (re)vendor
    /work/venv/bin/python tests/onnx_node/vendor.py --check  # verify, change nothing

`--check` also verifies that the accounting is complete: every node test in the wheel whose
graph uses only op types exercised by the manifest is either in `manifest.txt` (run) or in
`unsupported.txt` (deliberately not run, with a reason), and that the vendored files equal
the wheel's.
"""

import argparse
import filecmp
import os
import shutil
import sys

ONNX_VERSION = "1.19.1"
HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")


def parse_list(path):
    """`name [tags...]` lines; `#` starts a comment. Returns [(name, [tags])]."""
    entries = []
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                words = line.split()
                entries.append((words[0], words[1:]))
    return entries


def wheel_node_dir():
    import onnx

    if onnx.__version__ != ONNX_VERSION:
        sys.exit(f"onnx {onnx.__version__} is installed; the vendored tests come from {ONNX_VERSION}")
    return os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "node")


def test_files(src_dir, test):
    """Relative paths of the files vendored for one test."""
    base = os.path.join(src_dir, test)
    files = ["model.onnx"]
    ds = os.path.join(base, "test_data_set_0")
    files += sorted(
        os.path.join("test_data_set_0", f) for f in os.listdir(ds) if f.endswith(".pb")
    )
    return files


def op_types(model_path):
    import onnx

    m = onnx.load(model_path)
    return {n.op_type for n in m.graph.node}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="verify only, write nothing")
    args = ap.parse_args()

    src = wheel_node_dir()
    run = sorted({name for name, _ in parse_list(os.path.join(HERE, "manifest.txt"))})
    unsupported = [name for name, _ in parse_list(os.path.join(HERE, "unsupported.txt"))]
    problems = []

    dupes = sorted({n for n in unsupported if unsupported.count(n) > 1})
    problems += [f"{n}: listed twice in unsupported.txt" for n in dupes]
    both = sorted(set(run) & set(unsupported))
    problems += [f"{n}: in both manifest.txt and unsupported.txt" for n in both]
    missing = [n for n in run + unsupported if not os.path.isdir(os.path.join(src, n))]
    problems += [f"{n}: no such node test in onnx {ONNX_VERSION}" for n in missing]
    if problems:
        sys.exit("\n".join(problems))

    # Completeness: the op types the manifest exercises define the supported families.
    ops = set()
    for n in run:
        ops |= op_types(os.path.join(src, n, "model.onnx"))
    accounted = set(run) | set(unsupported)
    for n in sorted(os.listdir(src)):
        model = os.path.join(src, n, "model.onnx")
        if n not in accounted and os.path.exists(model):
            used = op_types(model)
            if used and used <= ops:
                problems.append(f"{n}: uses only supported ops {sorted(used)} but is in neither list")

    if args.check:
        expected = set(run)
        present = set(os.listdir(DATA)) if os.path.isdir(DATA) else set()
        problems += [f"{n}: vendored but not in manifest.txt" for n in sorted(present - expected)]
        for n in run:
            for rel in test_files(src, n):
                dst = os.path.join(DATA, n, rel)
                if not os.path.exists(dst):
                    problems.append(f"{n}: {rel} is not vendored")
                elif not filecmp.cmp(os.path.join(src, n, rel), dst, shallow=False):
                    problems.append(f"{n}: {rel} differs from the wheel's")
            extra = set()
            for root, _, files in os.walk(os.path.join(DATA, n)):
                extra |= {os.path.relpath(os.path.join(root, f), os.path.join(DATA, n)) for f in files}
            extra -= set(test_files(src, n))
            problems += [f"{n}: unexpected file {rel}" for rel in sorted(extra)]
    else:
        if os.path.isdir(DATA):
            shutil.rmtree(DATA)
        for n in run:
            for rel in test_files(src, n):
                dst = os.path.join(DATA, n, rel)
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                shutil.copyfile(os.path.join(src, n, rel), dst)

    size = sum(
        os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(DATA) for f in files
    ) if os.path.isdir(DATA) else 0
    print(f"{len(run)} tests run, {len(unsupported)} listed unsupported, "
          f"{len(ops)} op types, data {size / 1024:.1f} KiB")
    if problems:
        sys.exit("\n".join(problems))


if __name__ == "__main__":
    main()
