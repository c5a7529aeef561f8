#!/usr/bin/env python3
"""Side by side with OpenCV's dnn module, an independent implementation of
Caffe's layers: the same prototxt (less a final Softmax, so that the logits
are compared), the same generated .caffemodel and the same input go through
both; the outputs are compared and the forward times (batch 1, one thread
each, medians) reported as a Markdown table.

  scripts/setup.sh tests                  # Debian's python3-opencv, for /usr/bin/python3
  /usr/bin/python3 scripts/compare_opencv.py [--tool PATH] [--models DIR] [--iterations N] [model ...]
  /usr/bin/python3 scripts/compare_opencv.py --check [--batches 1,2] [--require-opencv] [model ...]

--check is the correctness-only mode CTest runs (opencv_cross_check.*): no
timing; every model at every batch size of --batches; exit 1 when a model
fails to run or its outputs differ by more than --max-rel-diff (default 1e-4)
of the output magnitude (max |OpenCV output|), or its top-1 class differs.

Models are folder names under the zoo (default ../shared/models; the folder's
deploy.prototxt, else its train_val.prototxt), zoo-relative paths
(ccgo_cifar10_bn/opt_train_val.prototxt) or paths to .prototxt files; without
any, a set of common networks is used. A zoo model that is absent is skipped
with a message; exit 77 (CTest's skip code) when every model was skipped.
OpenCV missing: exit 77, or 1 with --require-opencv (what CI sets).

OpenCV reads the very same prototxt as predictor, except where it cannot
express Caffe's semantics; then it reads an exactly equivalent derived
definition, and the table's note says so (the tolerance stays the same):
  * train_val files (TRAIN/TEST Data layers, losses, Accuracy): OpenCV 4.6
    rejects two layers with the same top, so it gets the TEST-phase deploy form
    (TRAIN-only layers, data layers, losses and Accuracy removed; an input of
    predictor's input shape; BatchNorm use_global_stats: true, as Caffe's TEST
    phase does). predictor reads the train_val file itself, with --input_shape
    where the file does not give the image size (TRAIN_VAL_INPUTS).
  * LRN across channels with k != 1: OpenCV 4.6 ignores Caffe's k (it uses 1).
    Caffe's x / (k + alpha/n sum x^2)^beta equals
    k^-beta * x / (1 + (alpha/k)/n sum x^2)^beta, so OpenCV gets LRN with
    alpha/k followed by a Power layer of scale k^-beta: exact, no tolerance
    change. (WITHIN_CHANNEL LRN ignores k in Caffe too.)
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_MODELS = ["squeezenet_v1.1", "mobilenet_v1", "mobilenet_v2", "resnet18", "resnet50",
                  "bvlc_googlenet", "bvlc_alexnet", "densenet121", "inception_v3", "vgg16"]
# --input_shape for the zoo's train_val files whose data layers do not give
# the image size (predictor derives alexnet_bn's from crop_size and the mean
# values); the batch is replaced by --batch.
TRAIN_VAL_INPUTS = {
    "ccgo_cifar10_bn": "data:1,3,32,32",    # CIFAR-10, no crop: the size is only in the dataset
}
SKIP = 77  # CTest's SKIP_RETURN_CODE

cv2 = np = None  # imported in main(): a missing OpenCV is a skip or, with --require-opencv, an error


def run(*args):
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


# ---- a small reader/writer of Caffe's protobuf text format -------------------
# Enough for the derived definitions: fields, nested messages, scalars kept
# as written (quoted strings, numbers, enum names).

def _tokens(text):
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace() or c in ",;":
            i += 1
        elif c == "#":
            while i < n and text[i] != "\n":
                i += 1
        elif c in "{}:<>":
            yield c
            i += 1
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            yield text[i:j + 1]
            i = j + 1
        elif c == "[":
            raise ValueError("list syntax [..] is not supported")
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in "{}:<>,;#\"'[":
                j += 1
            yield text[i:j]
            i = j


def parse_prototxt(text):
    """A list of (field, value): value is the scalar as written or a list."""
    tokens = list(_tokens(text))
    pos = 0

    def message(end):
        nonlocal pos
        fields = []
        while pos < len(tokens) and tokens[pos] != end:
            key = tokens[pos]
            pos += 1
            if pos < len(tokens) and tokens[pos] == ":":
                pos += 1
            if pos < len(tokens) and tokens[pos] in "{<":
                close = "}" if tokens[pos] == "{" else ">"
                pos += 1
                fields.append((key, message(close)))
                pos += 1
            else:
                fields.append((key, tokens[pos]))
                pos += 1
        return fields

    fields = message(None)
    if pos != len(tokens):
        raise ValueError("unbalanced braces")
    return fields


def format_prototxt(fields, indent=""):
    lines = []
    for key, value in fields:
        if isinstance(value, list):
            lines.append(f"{indent}{key} {{")
            lines.append(format_prototxt(value, indent + "  "))
            lines.append(f"{indent}}}")
        else:
            lines.append(f"{indent}{key}: {value}")
    return "\n".join(line for line in lines if line)


def field(fields, key, default=None):
    return next((value for k, value in fields if k == key), default)


def unquote(value):
    return value[1:-1] if value and value[0] in "\"'" else value


# ---- definitions for OpenCV where it cannot read Caffe's semantics -----------

DATA_TYPES = {"Data", "ImageData", "HDF5Data", "MemoryData", "WindowData", "DummyData", "AnnotatedData"}
TRAINING_ONLY_TYPES = {"Accuracy", "Silence"}


def in_test_phase(layer):
    """Caffe's include/exclude rules for the TEST phase (no stages, level 0)."""
    def matches(rule):
        if any(k in ("stage", "not_stage", "min_level", "max_level") for k, _ in rule):
            raise ValueError(f"layer {field(layer, 'name')}: stage/level rules are not supported")
        return field(rule, "phase", "TEST") == "TEST"
    includes = [v for k, v in layer if k == "include"]
    excludes = [v for k, v in layer if k == "exclude"]
    if includes:
        return any(matches(rule) for rule in includes)
    return not any(matches(rule) for rule in excludes)


def deploy_form(net, shape):
    """The TEST-phase deploy form of a train_val definition (V2 `layer`)."""
    if any(k == "layers" for k, _ in net):
        raise ValueError("V1 train_val files are not supported")
    out, inputs = [], []
    for key, value in net:
        if key != "layer":
            out.append((key, value))
            continue
        kind = unquote(field(value, "type"))
        if not in_test_phase(value) or kind in TRAINING_ONLY_TYPES or kind.endswith("Loss"):
            continue
        if kind in DATA_TYPES:
            tops = [unquote(v) for k, v in value if k == "top"]
            inputs.append(tops[0])  # the second top, the label, only feeds losses and Accuracy
            continue
        if kind == "BatchNorm":  # Caffe's TEST phase uses the stored statistics
            params = field(value, "batch_norm_param")
            if params is None:
                params = []
                value.append(("batch_norm_param", params))
            if field(params, "use_global_stats") is None:
                params.append(("use_global_stats", "true"))
        out.append(("layer", [(k, v) for k, v in value if k not in ("include", "exclude")]))
    if len(inputs) != 1:
        raise ValueError(f"expected one data input in the TEST phase, found {inputs}")
    dims = [("dim", str(d)) for d in shape]
    return [(k, v) for k, v in out if k == "name"] + [("input", f'"{inputs[0]}"'), ("input_shape", dims)] + \
        [(k, v) for k, v in out if k != "name"]


def lrn_k_folded(net):
    """Caffe's LRN k (ACROSS_CHANNELS) as alpha/k and a Power scale k^-beta.
    Returns the changed definition, or None when no LRN sets k != 1."""
    changed, out = False, []
    for key, value in net:
        kind = unquote(field(value, "type", "")) if isinstance(value, list) else ""
        params = field(value, "lrn_param", []) if kind == "LRN" else []
        k = float(field(params, "k", "1"))
        if key not in ("layer", "layers") or kind != "LRN" or k == 1 or \
                field(params, "norm_region", "ACROSS_CHANNELS") != "ACROSS_CHANNELS":
            out.append((key, value))
            continue
        changed = True
        alpha, beta = float(field(params, "alpha", "1")), float(field(params, "beta", "0.75"))
        new_params = [(pk, pv) for pk, pv in params if pk not in ("k", "alpha")] + [("alpha", repr(alpha / k))]
        top = field(value, "top")
        unit = f'"{unquote(top)}/lrn_unit_k"'
        lrn = [(lk, unit if lk == "top" else new_params if lk == "lrn_param" else lv) for lk, lv in value]
        name = unquote(field(value, "name"))
        power = [("name", f'"{name}/k_scale"'), ("type", '"Power"'), ("bottom", unit), ("top", top),
                 ("power_param", [("scale", repr(k ** -beta))])]
        out += [(key, lrn), (key, power)]
    return out if changed else None


def is_train_val(net):
    """Whether a definition has data layers or phase rules (a train_val file)."""
    layers = [v for k, v in net if k in ("layer", "layers")]
    return any(unquote(field(layer, "type", "")) in DATA_TYPES or field(layer, "include") is not None or
               field(layer, "exclude") is not None for layer in layers)


def opencv_definition(prototxt, shape, work):
    """The definition OpenCV reads and what was changed for it ('' when
    it is predictor's own)."""
    net = parse_prototxt(open(prototxt).read())
    notes = []
    if is_train_val(net):
        net = deploy_form(net, shape)
        notes.append("OpenCV: TEST-phase deploy form")
    folded = lrn_k_folded(net)
    if folded is not None:
        net = folded
        notes.append("OpenCV: LRN k folded into alpha and a Power scale")
    if not notes:
        return prototxt, ""
    path = os.path.join(work, "opencv.prototxt")
    with open(path, "w") as out:
        out.write(format_prototxt(net) + "\n")
    return path, "; ".join(notes)


# ---- the comparison -----------------------------------------------------------

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


class Case:
    """One model: its definitions and weights, ready to run at any batch."""

    def __init__(self, tool, prototxt, input_shape, work):
        self.tool, self.work = tool, work
        self.prototxt = without_final_softmax(prototxt, work)
        self.shape_flags = [f"--input_shape={input_shape}"] if input_shape else []
        self.weights = os.path.join(work, "w.caffemodel")
        run(tool, "init-weights", f"--model={self.prototxt}", f"--output={self.weights}", "--seed=1",
            *self.shape_flags)
        self.opencv_prototxt = None
        self.note = ""

    def compare(self, batch):
        """Max |difference| / max |OpenCV output|, same top-1 for every sample,
        and the OpenCV net (for timing)."""
        out_dir = os.path.join(self.work, f"run{batch}")
        run(self.tool, "run", f"--model={self.prototxt}", f"--weights={self.weights}", "--seed=3",
            f"--batch={batch}", f"--output_dir={out_dir}", *self.shape_flags)
        outputs = [f for f in os.listdir(out_dir) if f.endswith(".npy") and f != "input.npy"]
        if len(outputs) != 1 or not os.path.exists(os.path.join(out_dir, "input.npy")):
            raise RuntimeError(f"expected one input and one output, got {sorted(os.listdir(out_dir))}")
        ours = np.load(os.path.join(out_dir, outputs[0]))
        image = np.load(os.path.join(out_dir, "input.npy"))
        if self.opencv_prototxt is None:
            self.opencv_prototxt, self.note = opencv_definition(self.prototxt, image.shape, self.work)
        net = cv2.dnn.readNetFromCaffe(self.opencv_prototxt, self.weights)
        net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
        net.setInput(image)
        theirs = net.forward()
        if theirs.size != ours.size:
            raise RuntimeError(f"output shapes differ: predictor {ours.shape}, OpenCV {theirs.shape}")
        theirs = theirs.reshape(ours.shape)
        diff = float(np.max(np.abs(ours.astype(np.float64) - theirs)))
        scale = float(np.max(np.abs(theirs))) or 1.0
        same_top1 = all(int(np.argmax(a)) == int(np.argmax(b))
                        for a, b in zip(ours.reshape(batch, -1), theirs.reshape(batch, -1)))
        return diff / scale, same_top1, net


def resolve(name, zoo):
    """(prototxt, --input_shape for it or None, why it is absent or None)."""
    if name.endswith(".prototxt") and os.path.isfile(name):
        return name, None, None
    path = os.path.join(zoo, name)
    if os.path.isdir(path):
        deploy = os.path.join(path, "deploy.prototxt")
        path = deploy if os.path.exists(deploy) else os.path.join(path, "train_val.prototxt")
    folder = os.path.relpath(path, zoo).split(os.sep)[0]
    if not os.path.isfile(path):
        return None, None, f"no {path}" + ("" if os.path.isdir(zoo) else f" (no model zoo at {zoo})")
    return path, TRAIN_VAL_INPUTS.get(folder), None


def main():
    global cv2, np
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tool", default=os.path.join(ROOT, "build/tools/predictor/predictor"))
    parser.add_argument("--models", default=os.path.join(os.path.dirname(ROOT), "shared/models"))
    parser.add_argument("--iterations", type=int, default=20, help="timed forwards (not with --check)")
    parser.add_argument("--check", action="store_true",
                        help="correctness only: no timing, every batch of --batches, fail beyond --max-rel-diff")
    parser.add_argument("--batches", default="1", help="with --check: batch sizes, e.g. 1,2")
    parser.add_argument("--max-rel-diff", type=float, default=None,
                        help="exit 1 when a model's outputs differ more than this (or its top-1 differs); "
                             "1e-4 with --check")
    parser.add_argument("--require-opencv", action="store_true",
                        help="OpenCV's Python module missing is an error (exit 1), not a skip (exit 77)")
    parser.add_argument("names", nargs="*", default=DEFAULT_MODELS)
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")] if args.check else [1]
    tolerance = args.max_rel_diff if args.max_rel_diff is not None or not args.check else 1e-4

    models = []
    for name in args.names:
        prototxt, input_shape, absent = resolve(name, args.models)
        if absent:
            print(f"compare_opencv: {name}: skipped, {absent}")
        else:
            models.append((name, prototxt, input_shape))
    if not models:
        sys.exit(SKIP)
    try:
        import cv2 as cv2_module
        import numpy as np_module
    except ImportError as error:
        message = f"compare_opencv: OpenCV's Python module is missing ({error}; scripts/setup.sh tests installs python3-opencv)"
        if args.require_opencv:
            sys.exit(message + "; required (--require-opencv)")
        print(message + "; skipped")
        sys.exit(SKIP)
    cv2, np = cv2_module, np_module
    cv2.setNumThreads(1)
    os.environ["OPENBLAS_NUM_THREADS"] = "1"

    if args.check:
        print(f"OpenCV {cv2.__version__}, random weights (seed 1), inputs uniform [-1, 1) (seed 3), "
              f"tolerance {tolerance:g} of max |output|\n")
        print("| model | batch | max abs diff / max abs output | same top-1 | note |")
        print("|---|---:|---:|:---:|---|")
    else:
        print(f"OpenCV {cv2.__version__}, one thread each, batch 1, random weights (seed 1), medians of "
              f"{args.iterations} forwards\n")
        print("| model | max abs diff / max abs output | same top-1 | predictor ms | OpenCV dnn ms | speed-up |")
        print("|---|---:|:---:|---:|---:|---:|")
    failures = 0
    for name, prototxt, input_shape in models:
        with tempfile.TemporaryDirectory() as work:
            batch, case = batches[0], None
            try:
                case = Case(args.tool, prototxt, input_shape, work)
                for batch in batches:
                    rel, top1, net = case.compare(batch)
                    bad = tolerance is not None and (rel > tolerance or not top1)
                    failures += bad
                    if args.check:
                        print(f"| {name} | {batch} | {rel:.1e}{' **FAIL**' if bad else ''} | "
                              f"{'yes' if top1 else 'NO'} | {case.note} |", flush=True)
                if not args.check:
                    ours_ms, cv_ms = time_both(args.tool, case, net, args.iterations)
                    print(f"| {name} | {rel:.1e} | {'yes' if top1 else 'NO'} | {ours_ms:.1f} | {cv_ms:.1f} | "
                          f"{cv_ms / ours_ms:.2f}x |", flush=True)
            except (subprocess.CalledProcessError, RuntimeError, ValueError, cv2.error) as error:
                detail = (getattr(error, "stderr", "") or str(error)).strip().splitlines()
                detail = detail[-1] if detail else type(error).__name__
                if args.check:
                    print(f"| {name} | {batch} | failed: {detail[:160]} | | {case.note if case else ''} |", flush=True)
                else:
                    print(f"| {name} | failed: {detail[:80]} | | | | |", flush=True)
                failures += 1
    if failures and (args.check or tolerance is not None):
        sys.exit(f"compare_opencv: {failures} failure(s): outputs beyond {tolerance:g} of their magnitude, "
                 f"a different top-1 or a run that failed")


def time_both(tool, case, net, iterations):
    for _ in range(3):
        net.forward()
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        net.forward()
        times.append((time.perf_counter() - start) * 1000)
    bench = json.loads(run(tool, "bench", f"--model={case.prototxt}", f"--weights={case.weights}", "--batch=1",
                           f"--iterations={iterations}", "--warmup=3", "--json", *case.shape_flags))
    return bench["median_ms"], statistics.median(times)


if __name__ == "__main__":
    main()
