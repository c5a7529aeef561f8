#!/usr/bin/env python3
"""predictor side by side with ONNX Runtime, OpenVINO and MNN: the same
network definition, the same weights, the same input (batch 1), the same
number of threads inside one forward, exact FP32; outputs compared to
predictor's first, then the engines timed in alternating rounds; medians and
ratios as a Markdown table. (OpenCV's dnn module: build/bench/compare_engines.)

  python3 -m venv ~/engines && ~/engines/bin/pip install onnxruntime openvino MNN onnx protobuf numpy
  ~/engines/bin/python scripts/compare_engines.py [--tool build/tools/predictor/predictor] [--threads 1,2]
      [--rounds 5] [--iterations 10] [--engines ort,openvino,mnn] [--json FILE] [model ...]

(protoc, for scripts/caffe_to_onnx.py, comes with scripts/setup.sh. A virtual
environment of its own: these packages pin protobuf versions of their own.)

Per model: `predictor init-weights --seed=1` draws the weights; `predictor
convert --to=current` writes the definition and weights in the current
format, which MNN's converter (`mnnconvert -f CAFFE`) reads and
scripts/caffe_to_onnx.py converts for ONNX Runtime and OpenVINO; `predictor
run --seed=3` draws the input and computes the reference outputs (and a
final Softmax's input: random weights saturate the probabilities). Every
engine's outputs must be within --tolerance (1e-4) of max |reference|, or
an engine's own --engine-tolerance (`mnn=2e-4`: MNN's VGG-16 differs by
1.4-1.8e-4 in its own arithmetic); a mismatch is reported in the table and
makes the exit status 1.

Engines, all FP32 on the CPU, `--threads` N meaning threads inside one forward:
  predictor     `predictor bench --optimize_graph --optimize_memory --compute_threads=N
                --json` (one process per round: its median of --iterations forwards).
                The memory plan is on as ONNX Runtime's is (its arena's memory
                pattern, on by default): activations that share a few MB stay in
                the cache, where one buffer per blob (MobileNet v2: 35 MB) does not
  predictor -G  the same without --optimize_graph (the graph passes off)
  ort           ONNX Runtime, CPUExecutionProvider, intra_op_num_threads=N,
                inter_op 1, sequential, all graph optimizations
  openvino      OpenVINO CPU plugin, INFERENCE_PRECISION_HINT f32 (left alone it
                runs bf16 on CPUs with AMX/AVX512-BF16), INFERENCE_NUM_THREADS=N,
                one stream, LATENCY hint
  mnn           MNN's module API, CPU backend, precision high (FP32), numThread=N in a
                runtime manager (load_module_from_file's thread_num is ignored); the
                model converted from the Caffe files (MNN's converter, called directly:
                the `mnnconvert` script pip-installs a logging package and reports each
                conversion to a remote service), or from the ONNX file where MNN's
                Caffe reader cannot read the pooling rounding (DenseNet's ceil_mode)
Each round runs every engine in an order rotated from round to round: one
untimed forward (the previous engine's threads settle), then --iterations
timed ones. The Python engines' medians are over every timed forward (the
time includes the call from Python and the outputs' copy into numpy); the
predictor's are the median of its rounds' medians.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import caffe_to_onnx  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_MODELS = ["bvlc_alexnet", "bvlc_googlenet", "densenet121", "inception_v3", "mobilenet_v1", "mobilenet_v2",
                  "resnet18", "resnet50", "squeezenet_v1.1", "vgg16"]
# Options of every predictor run here (bench and the accuracy check).
PREDICTOR_OPTIONS = ["--optimize_memory"]
ENGINE_TITLES = {"predictor": "predictor", "predictor-G": "predictor -G", "ort": "ONNX Runtime",
                 "openvino": "OpenVINO", "mnn": "MNN"}


def run(*args):
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def relative_diff(ours, reference):
    ours = np.asarray(ours, dtype=np.float64).reshape(-1)
    reference = np.asarray(reference, dtype=np.float64).reshape(-1)
    if ours.size != reference.size:
        raise RuntimeError(f"{ours.size} values, the reference has {reference.size}")
    return float(np.max(np.abs(ours - reference)) / (np.max(np.abs(reference)) or 1.0))


# ---- the engines ---------------------------------------------------------------

class PythonEngine:
    """An engine called from this process: forward() returns the outputs by name."""

    def block(self, iterations):
        self.forward()  # untimed: the previous engine's threads settle
        times = []
        for _ in range(iterations):
            start = time.perf_counter()
            self.forward()
            times.append((time.perf_counter() - start) * 1000)
        return times


def ort_options(threads):
    """ONNX Runtime's session options as compared: `threads` inside one forward, sequential, all graph
    optimizations (compare_layers.py profiles with the same)."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


class OnnxRuntime(PythonEngine):
    def __init__(self, path, threads, inputs):
        import onnxruntime as ort
        self.session = ort.InferenceSession(path, ort_options(threads), providers=["CPUExecutionProvider"])
        self.inputs = inputs
        self.names = [o.name for o in self.session.get_outputs()]

    def forward(self):
        return dict(zip(self.names, self.session.run(None, self.inputs)))


class OpenVino(PythonEngine):
    def __init__(self, path, threads, inputs):
        import openvino as ov
        config = {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1,
                  "PERFORMANCE_HINT": "LATENCY"}
        self.compiled = ov.Core().compile_model(path, "CPU", config)
        precision = self.compiled.get_property("INFERENCE_PRECISION_HINT")
        if precision != ov.Type.f32:
            raise RuntimeError(f"OpenVINO runs {precision}, not f32")
        self.request = self.compiled.create_infer_request()
        self.inputs = inputs
        self.names = [o.get_any_name() for o in self.compiled.outputs]

    def forward(self):
        result = self.request.infer(self.inputs)
        return {name: np.array(result[output]) for name, output in zip(self.names, self.compiled.outputs)}


class Mnn(PythonEngine):
    def __init__(self, path, threads, inputs, outputs):
        import MNN.expr as F
        import MNN.nn as nn
        self.F = F
        self.names = outputs
        # The threads through a runtime manager: load_module_from_file's own
        # thread_num is not honoured (MNN 3.6.1 runs its default of 4 threads
        # whatever it says: 1.99 cores busy at thread_num=1 here, and half the
        # speed when pinned to one core), which made MNN's "1 thread" figures
        # 4-thread ones. With the manager, numThread=1 keeps one core busy.
        # Backend 0 is MNN_FORWARD_CPU.
        self.runtime = nn.create_runtime_manager(({"backend": 0, "numThread": threads, "precision": "high"},))
        self.module = nn.load_module_from_file(path, list(inputs), outputs, runtime_manager=self.runtime,
                                               shape_mutable=False)
        # A module takes its inputs in the layout of the model it was converted
        # from: NC4HW4 from Caffe, NCHW from ONNX.
        formats = [var.data_format for var in self.module.get_info()["inputs"]]
        self.vars = []
        for array, data_format in zip(inputs.values(), formats):
            var = F.placeholder(list(array.shape), F.NCHW)
            var.write(array)
            self.vars.append(F.convert(var, data_format))

    def forward(self):
        outputs = self.module.onForward(self.vars)
        return {name: np.array(self.F.convert(out, self.F.NCHW).read()) for name, out in zip(self.names, outputs)}


class PredictorBench:
    """`predictor bench` in a process of its own per block: its median."""

    def __init__(self, tool, prototxt, weights, threads, graph, warmup):
        self.command = [tool, "bench", f"--model={prototxt}", f"--weights={weights}", "--batch=1",
                        f"--compute_threads={threads}", f"--warmup={warmup}", "--json", *PREDICTOR_OPTIONS]
        if graph:
            self.command.append("--optimize_graph")
        self.isa = None

    def block(self, iterations):
        report = json.loads(run(*self.command, f"--iterations={iterations}"))
        self.isa = report.get("isa")
        return [report["median_ms"]]


# ---- one model -------------------------------------------------------------------

def resolve(name, zoo):
    if name.endswith(".prototxt") and os.path.isfile(name):
        return name
    path = os.path.join(zoo, name, "deploy.prototxt")
    return path if os.path.isfile(path) else None


def file_safe(name):
    """The file name `predictor run` gives a blob (tool_common.cpp's file_safe_name)."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in name)


def net_blobs(prototxt):
    """(inputs, outputs, logits, floor_pooling): the net's inputs, its
    outputs (blobs written and never read after), for an output a Softmax
    makes the Softmax's input, and whether a Pooling layer rounds down (or
    says how it rounds with the forks' ceil_mode)."""
    pb = caffe_to_onnx.caffe_pb2()
    from google.protobuf import text_format
    net = text_format.Parse(open(prototxt).read(), pb.NetParameter())
    inputs = list(net.input) + [top for layer in net.layer if layer.type == "Input" for top in layer.top]
    produced, consumed, writer = [], set(), {}
    for layer in net.layer:
        consumed.update(b for b in layer.bottom if b not in layer.top)  # in place: still an output
        for top in layer.top:
            if top not in produced:
                produced.append(top)
            writer[top] = layer
    outputs = [b for b in produced if b not in consumed and b not in inputs]
    logits = [writer[b].bottom[0] for b in outputs if writer[b].type == "Softmax" and len(writer[b].bottom) == 1]
    floor_pooling = any(layer.type == "Pooling" and (layer.pooling_param.HasField("ceil_mode") or
                                                     layer.pooling_param.round_mode == layer.pooling_param.FLOOR)
                        for layer in net.layer)
    return inputs, outputs, logits, floor_pooling


class Model:
    def __init__(self, args, name, prototxt, work):
        self.name, self.prototxt, self.work = name, prototxt, work
        tool = self.tool = args.tool
        self.weights = os.path.join(work, "w.caffemodel")
        run(tool, "init-weights", f"--model={prototxt}", f"--output={self.weights}", "--seed=1")
        self.current = os.path.join(work, "current.prototxt")
        self.current_weights = os.path.join(work, "current.caffemodel")
        run(tool, "convert", "--to=current", f"--model={prototxt}", f"--weights={self.weights}",
            f"--output_model={self.current}", f"--output_weights={self.current_weights}")
        self.inputs, self.outputs, self.logits, self.floor_pooling = net_blobs(self.current)
        if len(self.inputs) != 1:
            raise RuntimeError(f"one input expected, the net has {self.inputs}")
        ref = os.path.join(work, "reference")
        run(tool, "run", f"--model={prototxt}", f"--weights={self.weights}", "--seed=3", "--batch=1",
            f"--output_dir={ref}", *([f"--outputs={','.join(self.logits)}"] if self.logits else []))
        self.input = np.load(os.path.join(ref, "input.npy"))
        self.reference = {b: np.load(os.path.join(ref, file_safe(b) + ".npy")) for b in self.outputs + self.logits}
        self.feed = {self.inputs[0]: self.input}
        self.onnx = self.onnx_check = self.mnn = None
        self.mnn_note = ""

    def onnx_files(self):
        if self.onnx is None:
            model = caffe_to_onnx.convert(self.current, self.current_weights)
            self.onnx = os.path.join(self.work, "model.onnx")
            import onnx
            onnx.save(model, self.onnx)
            checked = caffe_to_onnx.convert(self.current, self.current_weights, extra_outputs=self.logits)
            self.onnx_check = os.path.join(self.work, "check.onnx")
            onnx.save(checked, self.onnx_check)
        return self.onnx, self.onnx_check

    def mnn_file(self):
        """MNN's model, converted from the Caffe files, or from the ONNX file
        where MNN's Caffe reader would change the network (self.mnn_note)."""
        if self.mnn is None:
            self.mnn = os.path.join(self.work, "model.mnn")
            if self.floor_pooling:
                source = ["-f", "ONNX", "--modelFile", self.onnx_files()[0]]
                self.mnn_note = "MNN read the ONNX file: its Caffe reader ignores round_mode: FLOOR, rejects ceil_mode"
            else:
                source = ["-f", "CAFFE", "--modelFile", self.current_weights, "--prototxt", self.current]
            # The converter itself, not the `mnnconvert` script: that one pip-installs a
            # logging package into whatever `pip` is first on PATH and reports each
            # conversion to a remote service.
            log = run(sys.executable, "-c", "import sys, _tools; _tools.mnnconvert(sys.argv)", *source,
                      "--MNNModel", self.mnn, "--bizCode", "predictor")
            if not os.path.isfile(self.mnn):
                raise RuntimeError("MNN's converter wrote no model: " + " ".join(log.strip().splitlines()[-2:]))
        return self.mnn

    def engine(self, kind, threads, args, check):
        """The engine of `kind`; with check, one that also returns the logits."""
        if kind in ("predictor", "predictor-G"):
            return PredictorBench(args.tool, self.prototxt, self.weights, threads, kind == "predictor", args.warmup)
        if kind in ("ort", "openvino"):
            path = self.onnx_files()[1 if check else 0]
            return OnnxRuntime(path, threads, self.feed) if kind == "ort" else OpenVino(path, threads, self.feed)
        if kind == "mnn":
            outputs = self.outputs + (self.logits if check else [])
            return Mnn(self.mnn_file(), threads, self.feed, outputs)
        raise ValueError(kind)

    def check_predictor(self, threads, graph):
        """predictor as timed (graph passes, memory plan, N compute threads) against its plain reference."""
        out = os.path.join(self.work, f"run_{threads}_{int(graph)}")
        run(self.tool, "run", f"--model={self.prototxt}", f"--weights={self.weights}", "--seed=3", "--batch=1",
            f"--compute_threads={threads}", f"--output_dir={out}", *PREDICTOR_OPTIONS,
            *(["--optimize_graph"] if graph else []),
            *([f"--outputs={','.join(self.logits)}"] if self.logits else []))
        return max(relative_diff(np.load(os.path.join(out, file_safe(b) + ".npy")), self.reference[b])
                   for b in self.reference)

    def check(self, engine):
        got = engine.forward()
        return max(relative_diff(got[b], self.reference[b]) for b in self.reference if b in got)


def versions(engines):
    found = {"python": platform.python_version(), "numpy": np.__version__}
    try:
        found["predictor"] = run("git", "-C", ROOT, "rev-parse", "--short", "HEAD").strip()
        if subprocess.run(["git", "-C", ROOT, "diff", "--quiet", "HEAD", "--"]).returncode:
            found["predictor"] += " (with uncommitted changes)"
    except (OSError, subprocess.CalledProcessError):
        pass
    if "ort" in engines:
        import onnxruntime
        found["onnxruntime"] = onnxruntime.__version__
    if "openvino" in engines:
        import openvino
        found["openvino"] = openvino.get_version()
    if "mnn" in engines:
        import MNN
        found["MNN"] = MNN.version()
    if {"ort", "openvino"} & set(engines):
        import onnx
        found["onnx"] = onnx.__version__
    return found


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tool", default=os.path.join(ROOT, "build/tools/predictor/predictor"))
    parser.add_argument("--models", default=os.path.join(os.path.dirname(ROOT), "shared/models"))
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=10, help="timed forwards per engine and round")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--engines", default="ort,openvino,mnn", help="besides predictor (with and without GRAPH)")
    parser.add_argument("--no-graph-column", dest="plain", action="store_false",
                        help="leave out `predictor -G` (predictor without the graph passes)")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--engine-tolerance", action="append", default=[], metavar="ENGINE=VALUE",
                        help="another tolerance for one engine (ort, openvino, mnn); repeatable")
    parser.add_argument("--json", help="write every figure and the versions to this file")
    parser.add_argument("names", nargs="*", default=DEFAULT_MODELS)
    args = parser.parse_args()
    threads_list = [int(t) for t in args.threads.split(",")]
    others = [e for e in args.engines.split(",") if e]
    for e in others:
        if e not in ("ort", "openvino", "mnn"):
            parser.error(f"--engines: unknown engine {e}")
    kinds = ["predictor"] + (["predictor-G"] if args.plain else []) + others
    engine_tolerance = {}
    for item in args.engine_tolerance:
        engine, _, value = item.partition("=")
        if engine not in others:
            parser.error(f"--engine-tolerance: {item}: not one of --engines")
        try:
            engine_tolerance[engine] = float(value)
        except ValueError:
            parser.error(f"--engine-tolerance: {item}: not ENGINE=VALUE")

    def tolerance(kind):
        return engine_tolerance.get(kind, args.tolerance)
    found = versions(others)

    print(f"{cpu_name()}; batch 1, FP32, random weights (seed 1), input uniform [-1, 1) (seed 3); "
          f"threads inside one forward; medians of {args.rounds} alternating rounds x {args.iterations} forwards")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in found.items()))
    print(f"max rel diff: max |engine - predictor| / max |predictor| over the outputs (and a final Softmax's "
          f"input), worst engine; the reference is `predictor run` (one thread, no graph passes); "
          f"tolerance {args.tolerance:g}" +
          "".join(f", {ENGINE_TITLES[k]} {v:g}" for k, v in engine_tolerance.items()) + "\n")
    titles = [ENGINE_TITLES[k] + " ms" for k in kinds]
    best_title = "best other ÷ predictor" if others else ""
    print("| model | threads | max rel diff | " + " | ".join(titles) + (f" | {best_title}" if others else "") + " |")
    print("|---|---:|---:|" + "---:|" * (len(titles) + bool(others)))

    rows, failures = [], 0
    with tempfile.TemporaryDirectory() as root:
        for name in args.names:
            prototxt = resolve(name, args.models)
            if prototxt is None:
                print(f"| {name} | | absent | " + " | " * len(titles), flush=True)
                continue
            work = os.path.join(root, os.path.basename(os.path.dirname(prototxt)) or "model")
            os.makedirs(work, exist_ok=True)
            try:
                model = Model(args, name, prototxt, work)
            except (subprocess.CalledProcessError, caffe_to_onnx.ConversionError, RuntimeError, OSError) as error:
                detail = (getattr(error, "stderr", "") or str(error)).strip().splitlines()
                print(f"| {name} | | failed: {(detail[-1] if detail else type(error).__name__)[:120]} |", flush=True)
                failures += 1
                continue
            for threads in threads_list:
                row = {"model": name, "threads": threads, "ms": {}, "rel_diff": {}, "errors": {}}
                engines = {}
                for kind in kinds:
                    try:
                        if kind.startswith("predictor"):
                            row["rel_diff"][kind] = model.check_predictor(threads, graph=kind == "predictor")
                        else:
                            row["rel_diff"][kind] = model.check(model.engine(kind, threads, args, check=True))
                        engines[kind] = model.engine(kind, threads, args, check=False)
                        if not kind.startswith("predictor"):  # the timed instance's outputs too
                            row["rel_diff"][kind] = max(row["rel_diff"][kind], model.check(engines[kind]))
                            for _ in range(args.warmup):
                                engines[kind].forward()
                    except Exception as error:  # an engine that cannot run the model: reported, not fatal
                        detail = (getattr(error, "stderr", "") or str(error)).strip().splitlines()
                        row["errors"][kind] = (detail[-1] if detail else type(error).__name__)[:160]
                samples = {kind: [] for kind in engines}
                order = list(engines)
                for r in range(args.rounds):
                    for kind in order[r % len(order):] + order[:r % len(order)]:
                        samples[kind] += engines[kind].block(args.iterations)
                row["ms"] = {kind: statistics.median(s) for kind, s in samples.items()}
                isa = getattr(engines.get("predictor"), "isa", None)
                if isa:
                    row["isa"] = isa
                del engines
                if model.mnn_note and "mnn" in kinds:
                    row["note"] = model.mnn_note
                worst = max(row["rel_diff"].values(), default=0.0)
                bad = any(v > tolerance(k) for k, v in row["rel_diff"].items()) or bool(row["errors"])
                failures += bad
                cells = []
                for kind in kinds:
                    if kind in row["ms"]:
                        cells.append(f"{row['ms'][kind]:.2f}")
                    else:
                        cells.append(f"failed: {row['errors'].get(kind, '?')}")
                ratio = ""
                if others:
                    times = [row["ms"][k] for k in others if k in row["ms"]]
                    ratio = f" | {min(times) / row['ms']['predictor']:.2f}x" if times and "predictor" in row["ms"] \
                        else " | "
                beyond = [ENGINE_TITLES[k] for k, v in row["rel_diff"].items() if v > tolerance(k)]
                flag = f" **MISMATCH: {', '.join(beyond)}**" if beyond else ""
                print(f"| {name} | {threads} | {worst:.1e}{flag} | " + " | ".join(cells) + ratio + " |", flush=True)
                rows.append(row)
    notes = {row["model"]: row["note"] for row in rows if "note" in row}
    for name, note in notes.items():
        print(f"\n{name}: {note}")
    isas = sorted({row["isa"] for row in rows if "isa" in row})
    if isas:
        print(f"\npredictor's CPU kernels: {', '.join(isas)} (`predictor bench`'s isa)")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"cpu": cpu_name(), "versions": found, "rounds": args.rounds, "iterations": args.iterations,
                       "rows": rows}, out, indent=2)
    if failures:
        sys.exit(f"compare_engines: {failures} failure(s): an engine that failed or outputs beyond its "
                 f"tolerance of their magnitude")


if __name__ == "__main__":
    main()
