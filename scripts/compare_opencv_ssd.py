#!/usr/bin/env python3
"""SSD detectors side by side with OpenCV's dnn module, which implements the
SSD fork's PriorBox, Permute, Normalize and DetectionOutput on its own: the
same prototxt, the same generated .caffemodel and the same input go through
both, and the raw heads (every PriorBox output concatenated, the location and
confidence predictions) and the final detections are compared.

  /usr/bin/python3 scripts/compare_opencv_ssd.py [--tool PATH] [--models DIR] [--batches 1,2]
                                                  [--thresholds file,0.05] [--require-opencv] [model ...]

Random weights rarely give confident detections, so besides the file's own
confidence_threshold the net is also run with lower ones (--thresholds;
`file` means the file's value): the detections are then many and NMS and
keep_top_k have work to do. Detections are compared as sets per image:
the same count, and after sorting both by (image, label, score) each pair has
the same image and label, and score and corners within --max-rel-diff of
their magnitude. predictor's DetectionOutput pads its fixed-size top with
rows of -1, OpenCV 4.6's with rows of 0; padding rows are dropped on both
sides.

Exit 0 when everything agrees, 1 on a difference or a failed run, 77 (CTest's
skip) when the model or OpenCV is absent (OpenCV absent is 1 with
--require-opencv).
"""
import argparse
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare_opencv  # noqa: E402  (the prototxt reader/writer and the model resolver)

ROOT = compare_opencv.ROOT
SKIP = compare_opencv.SKIP
# The blobs compared besides the detections, per model folder.
RAW_BLOBS = {
    "mobilenet_ssd": ["mbox_loc", "mbox_conf_flatten", "mbox_priorbox"],
}


def with_confidence_threshold(prototxt, threshold, work):
    """A copy of the definition whose DetectionOutput layers use `threshold`."""
    with open(prototxt) as f:
        net = compare_opencv.parse_prototxt(f.read())
    changed = 0
    for key, layer in net:
        if key not in ("layer", "layers") or compare_opencv.unquote(compare_opencv.field(layer, "type", "")) != "DetectionOutput":
            continue
        param = compare_opencv.field(layer, "detection_output_param")
        if param is None:
            continue
        param[:] = [(k, v) for k, v in param if k != "confidence_threshold"]
        param.append(("confidence_threshold", repr(float(threshold))))
        changed += 1
    if not changed:
        raise RuntimeError("no DetectionOutput layer with a detection_output_param")
    path = os.path.join(work, f"threshold_{threshold}.prototxt")
    with open(path, "w") as f:
        f.write(compare_opencv.format_prototxt(net))
    return path


def detections(top, np):
    """Rows [image, label, score, xmin, ymin, xmax, ymax] that are detections,
    sorted by (image, label, -score): predictor pads with rows of -1, OpenCV
    4.6 with rows of 0 (keep_top_k rows per image)."""
    rows = top.reshape(-1, 7).astype(np.float64)
    rows = rows[(rows[:, 1] >= 0) & (rows[:, 0] >= 0) & np.any(rows != 0, axis=1)]
    order = np.lexsort((-rows[:, 2], rows[:, 1], rows[:, 0]))
    return rows[order]


def compare_case(tool, prototxt, weights, batch, raw_names, work, np, cv2):
    """(max relative difference of the raw blobs, detection count, None) or
    (..., ..., what differs)."""
    out_dir = os.path.join(work, f"run_{os.path.basename(prototxt)}_{batch}")
    detection_blob = "detection_out"
    compare_opencv.run(tool, "run", f"--model={prototxt}", f"--weights={weights}", "--seed=3", f"--batch={batch}",
                       f"--output_dir={out_dir}", "--outputs=" + ",".join(raw_names))
    image = np.load(os.path.join(out_dir, "input.npy"))
    ours = {name: np.load(os.path.join(out_dir, name + ".npy")) for name in raw_names + [detection_blob]}
    net = cv2.dnn.readNetFromCaffe(prototxt, weights)
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    net.setInput(image)
    theirs = dict(zip(raw_names + [detection_blob], net.forward(raw_names + [detection_blob])))
    worst = 0.0
    for name in raw_names:
        a, b = ours[name].astype(np.float64), theirs[name].astype(np.float64)
        if a.size != b.size:
            return worst, 0, f"'{name}': shapes differ, predictor {a.shape}, OpenCV {b.shape}"
        scale = float(np.max(np.abs(b))) or 1.0
        worst = max(worst, float(np.max(np.abs(a - b.reshape(a.shape)))) / scale)
    mine, other = detections(ours[detection_blob], np), detections(theirs[detection_blob], np)
    if len(mine) != len(other):
        return worst, len(other), f"{len(mine)} detections, OpenCV {len(other)}"
    if len(mine):
        if not (np.array_equal(mine[:, :2], other[:, :2])):
            return worst, len(other), "the detections' images or labels differ"
        scale = max(1.0, float(np.max(np.abs(other[:, 3:]))))
        worst = max(worst, float(np.max(np.abs(mine[:, 2] - other[:, 2]))),
                    float(np.max(np.abs(mine[:, 3:] - other[:, 3:]))) / scale)
    return worst, len(other), None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tool", default=os.path.join(ROOT, "build/tools/predictor/predictor"))
    parser.add_argument("--models", default=os.path.join(os.path.dirname(ROOT), "shared/models"))
    parser.add_argument("--batches", default="1,2")
    parser.add_argument("--thresholds", default="file,0.05",
                        help="DetectionOutput confidence thresholds to run with; `file`: the file's own")
    parser.add_argument("--max-rel-diff", type=float, default=1e-4)
    parser.add_argument("--require-opencv", action="store_true")
    parser.add_argument("names", nargs="*", default=["mobilenet_ssd"])
    args = parser.parse_args()

    models = []
    for name in args.names:
        prototxt, _, absent = compare_opencv.resolve(name, args.models)
        if absent:
            print(f"compare_opencv_ssd: {name}: skipped, {absent}")
        else:
            models.append((name, prototxt))
    if not models:
        sys.exit(SKIP)
    try:
        import cv2
        import numpy as np
    except ImportError as error:
        message = f"compare_opencv_ssd: OpenCV's Python module is missing ({error})"
        if args.require_opencv:
            sys.exit(message + "; required (--require-opencv)")
        print(message + "; skipped")
        sys.exit(SKIP)
    cv2.setNumThreads(1)

    print(f"OpenCV {cv2.__version__}, random weights (seed 1), inputs uniform [-1, 1) (seed 3), "
          f"tolerance {args.max_rel_diff:g}\n")
    print("| model | confidence threshold | batch | detections | max difference / magnitude | result |")
    print("|---|---:|---:|---:|---:|---|")
    failures = 0
    for name, prototxt in models:
        raw_names = RAW_BLOBS.get(os.path.basename(os.path.dirname(prototxt)), [])
        with tempfile.TemporaryDirectory() as work:
            weights = os.path.join(work, "w.caffemodel")
            try:
                compare_opencv.run(args.tool, "init-weights", f"--model={prototxt}", f"--output={weights}",
                                   "--seed=1")
            except subprocess.CalledProcessError as error:
                print(f"| {name} | | | | | init-weights failed: {error.stderr.strip()[-160:]} |")
                failures += 1
                continue
            for threshold in args.thresholds.split(","):
                for batch in [int(b) for b in args.batches.split(",")]:
                    try:
                        definition = prototxt if threshold == "file" else with_confidence_threshold(prototxt, threshold, work)
                        worst, count, problem = compare_case(args.tool, definition, weights, batch, raw_names, work, np, cv2)
                        bad = problem is not None or worst > args.max_rel_diff
                        result = problem or ("**FAIL**" if bad else "ok")
                    except (subprocess.CalledProcessError, RuntimeError, ValueError, cv2.error) as error:
                        detail = (getattr(error, "stderr", "") or str(error)).strip().splitlines()
                        worst, count, bad = float("nan"), 0, True
                        result = "failed: " + (detail[-1][:160] if detail else type(error).__name__)
                    failures += bad
                    print(f"| {name} | {threshold} | {batch} | {count} | {worst:.1e} | {result} |", flush=True)
    if failures:
        sys.exit(f"compare_opencv_ssd: {failures} failure(s)")


if __name__ == "__main__":
    main()
