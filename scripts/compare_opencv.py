#!/usr/bin/env python3
"""Side by side with OpenCV's dnn module, an independent implementation of
Caffe's layers: the same prototxt (less a final Softmax, so that the logits
are compared), the same generated .caffemodel and the same input go through
both; the outputs are compared and the forward times (batch 1, one thread
each, medians) reported as a Markdown table.

  sudo apt-get install python3-opencv     # Debian's OpenCV, for /usr/bin/python3
  /usr/bin/python3 scripts/compare_opencv.py [--tool PATH] [--models DIR] [--iterations N] [model ...]

Models are folder names under the zoo (default ../shared/models) or paths
to .prototxt files; without any, a set of common networks is used.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

try:
    import cv2
    import numpy as np
except ImportError:
    print("compare_opencv: OpenCV's Python module is missing (apt-get install python3-opencv); skipped")
    sys.exit(77)  # CTest's SKIP_RETURN_CODE

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_MODELS = ["squeezenet_v1.1", "mobilenet_v1", "mobilenet_v2", "resnet18", "resnet50",
                  "bvlc_googlenet", "bvlc_alexnet", "densenet121", "inception_v3", "vgg16"]


def run(*args):
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def without_final_softmax(prototxt, work):
    """The definition minus a final Softmax layer: with random weights the
    probabilities saturate and would hide differences the logits show."""
    text = open(prototxt).read()
    start = max(text.rfind("\nlayer {"), text.rfind("\nlayer{"), text.rfind("\nlayers {"))
    if start < 0 or not ('"Softmax"' in text[start:] or "SOFTMAX" in text[start:]):
        return prototxt
    path = os.path.join(work, "logits.prototxt")
    with open(path, "w") as out:
        out.write(text[:start] + "\n")
    return path


def compare(tool, prototxt, iterations, work):
    prototxt = without_final_softmax(prototxt, work)
    weights = os.path.join(work, "w.caffemodel")
    run(tool, "init-weights", f"--model={prototxt}", f"--output={weights}", "--seed=1")
    out_dir = os.path.join(work, "run")
    run(tool, "run", f"--model={prototxt}", f"--weights={weights}", "--seed=3", "--batch=1",
        f"--output_dir={out_dir}")
    outputs = [f for f in os.listdir(out_dir) if f.endswith(".npy") and f != "input.npy"]
    if len(outputs) != 1:
        raise RuntimeError(f"expected one output, got {outputs}")
    ours = np.load(os.path.join(out_dir, outputs[0]))
    image = np.load(os.path.join(out_dir, "input.npy"))

    net = cv2.dnn.readNetFromCaffe(prototxt, weights)
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    net.setInput(image)
    theirs = net.forward().reshape(ours.shape)
    diff = float(np.max(np.abs(ours.astype(np.float64) - theirs)))
    scale = float(np.max(np.abs(theirs))) or 1.0

    for _ in range(3):
        net.forward()
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        net.forward()
        times.append((time.perf_counter() - start) * 1000)
    bench = json.loads(run(tool, "bench", f"--model={prototxt}", f"--weights={weights}", "--batch=1",
                           f"--iterations={iterations}", "--warmup=3", "--json"))
    same_top1 = int(np.argmax(ours.reshape(-1))) == int(np.argmax(theirs.reshape(-1)))
    return diff / scale, same_top1, bench["median_ms"], statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tool", default=os.path.join(ROOT, "build/tools/predictor/predictor"))
    parser.add_argument("--models", default=os.path.join(os.path.dirname(ROOT), "shared/models"))
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--max-rel-diff", type=float, default=None,
                        help="exit 1 when a model's outputs differ more than this (or its top-1 differs)")
    parser.add_argument("names", nargs="*", default=DEFAULT_MODELS)
    args = parser.parse_args()
    if not os.path.isdir(args.models):
        print(f"compare_opencv: no model zoo at {args.models}; skipped")
        sys.exit(77)
    cv2.setNumThreads(1)
    os.environ["OPENBLAS_NUM_THREADS"] = "1"

    print(f"OpenCV {cv2.__version__}, one thread each, batch 1, random weights (seed 1), medians of "
          f"{args.iterations} forwards\n")
    print("| model | max abs diff / max abs output | same top-1 | predictor ms | OpenCV dnn ms | speed-up |")
    print("|---|---:|:---:|---:|---:|---:|")
    failures = 0
    for name in args.names:
        prototxt = name if name.endswith(".prototxt") else os.path.join(args.models, name, "deploy.prototxt")
        with tempfile.TemporaryDirectory() as work:
            try:
                rel, top1, ours_ms, cv_ms = compare(args.tool, prototxt, args.iterations, work)
            except (subprocess.CalledProcessError, RuntimeError, cv2.error) as error:
                detail = getattr(error, "stderr", "") or str(error)
                print(f"| {name} | failed: {detail.strip().splitlines()[-1][:80]} | | | | |")
                failures += 1
                continue
        print(f"| {name} | {rel:.1e} | {'yes' if top1 else 'NO'} | {ours_ms:.1f} | {cv_ms:.1f} | "
              f"{cv_ms / ours_ms:.2f}x |", flush=True)
        if args.max_rel_diff is not None and (rel > args.max_rel_diff or not top1):
            failures += 1
    if args.max_rel_diff is not None and failures:
        sys.exit(f"compare_opencv: {failures} model(s) disagree with OpenCV beyond {args.max_rel_diff}")


if __name__ == "__main__":
    main()
