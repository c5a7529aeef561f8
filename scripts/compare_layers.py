#!/usr/bin/env python3
"""Where predictor's CPU time goes against ONNX Runtime's, layer by layer:
the same network, weights and input as scripts/compare_engines.py (which
times whole forwards), each layer's median time in both engines side by
side, with the difference and the layer's multiply-adds, worst first.

  ~/engines/bin/python scripts/compare_layers.py [--tool build/tools/predictor/predictor]
      [--threads 1,2] [--iterations 50] [--rows 25] [--json FILE] model ...

predictor's times come from `predictor bench --optimize_graph --compute_threads=N
--json` with compare_engines.PREDICTOR_OPTIONS (the memory plan) (its per-layer medians; a layer the graph passes fused into another
is reported under the one that absorbed it); ONNX Runtime's from its own
profiler (SessionOptions.enable_profiling: each node's kernel time, medians
over the runs), with the same settings as compare_engines.py (all graph
optimizations, intra_op_num_threads=N, sequential). ONNX Runtime fuses too
and renames what it fuses: its node, named after the ONNX node (the Caffe
layer's top blob, see caffe_to_onnx.py) with suffixes such as `__2` and
`_nchwc`, is put under the predictor layer that writes that blob or fused
the layer that does. Nodes that match no layer (layout reorders) are listed
apart; both totals are sums over layers, without the engines' overheads
between them.

The two engines run one after the other, not interleaved: on a shared
machine compare the figures of one run only, and repeat it. Whole-forward
ratios belong to compare_engines.py, which alternates the engines.

ONNX Runtime's profiled node times are not its unprofiled ones on several
threads: on the 2-core AVX-512 Xeon, MobileNet v2 at 2 threads, its nodes
summed to 4.25 ms while its forwards without the profiler took 4.00-4.11
ms (at 1 thread 7.09 against 7.45: there the sum is below the forward).
At 2 threads a layer that looks even here may be behind.
"""
import argparse
import collections
import json
import os
import re
import statistics
import sys
import tempfile
import types


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import caffe_to_onnx  # noqa: E402
import compare_engines  # noqa: E402

ORT_SUFFIX = re.compile(r"(__\d+)?(_nchwc)?(_out)?$")


def predictor_layers(tool, prototxt, weights, threads, iterations):
    """predictor bench's per-layer medians (ms), in order, with their fused layers and multiply-adds."""
    report = json.loads(compare_engines.run(
        tool, "bench", f"--model={prototxt}", f"--weights={weights}", "--batch=1", "--optimize_graph",
        *compare_engines.PREDICTOR_OPTIONS, f"--compute_threads={threads}", f"--iterations={iterations}", "--json"))
    return report["layers"], report["median_ms"]


def ort_nodes(onnx_path, feed, threads, iterations):
    """ONNX Runtime's per-node kernel medians (ms) and the median forward (ms)."""
    import onnxruntime as ort
    options = compare_engines.ort_options(threads)
    options.enable_profiling = True
    with tempfile.TemporaryDirectory() as work:
        options.profile_file_prefix = os.path.join(work, "ort")
        session = ort.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])
        for _ in range(iterations + 5):
            session.run(None, feed)
        with open(session.end_profiling()) as f:
            events = json.load(f)
    per_node, forwards = collections.defaultdict(list), []
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            per_node[e["name"][:-len("_kernel_time")]].append(e["dur"] / 1000.0)
        elif e.get("cat") == "Session" and e["name"] == "model_run":
            forwards.append(e["dur"] / 1000.0)
    # The first runs warm up: the medians are over the last `iterations`.
    return ({node: statistics.median(times[-iterations:]) for node, times in per_node.items()},
            statistics.median(forwards[-iterations:]))


def layer_of_blob(prototxt):
    """Each blob's writer (the last layer that writes it) and each layer's name."""
    pb = caffe_to_onnx.caffe_pb2()
    from google.protobuf import text_format
    with open(prototxt) as f:
        net = text_format.Parse(f.read(), pb.NetParameter())
    writer = {}
    for layer in net.layer:
        for top in layer.top:
            writer[top] = layer.name
    return writer


def compare(layers, nodes, writer):
    """Rows (layer, type, ours ms, ORT ms, multiply-adds) and ORT's unmatched nodes."""
    owner = {}  # a Caffe layer name -> the predictor layer that runs it
    for layer in layers:
        owner[layer["name"]] = layer["name"]
        for fused in layer.get("fused_layers", []):
            owner[fused] = layer["name"]
    ort_ms, unmatched = collections.defaultdict(float), {}
    for node, ms in nodes.items():
        blob = ORT_SUFFIX.sub("", node)
        caffe_layer = writer.get(blob, blob)
        if caffe_layer in owner:
            ort_ms[owner[caffe_layer]] += ms
        else:
            unmatched[node] = ms
    rows = [(l["name"], l["type"], l["median_ms"], ort_ms.get(l["name"], 0.0), l.get("multiply_adds", 0))
            for l in layers]
    return rows, unmatched


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tool", default=os.path.join(compare_engines.ROOT, "build/tools/predictor/predictor"))
    parser.add_argument("--models", default=os.path.join(os.path.dirname(compare_engines.ROOT), "shared/models"))
    parser.add_argument("--threads", default="1")
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--rows", type=int, default=25, help="layers shown per model and thread count, worst first")
    parser.add_argument("--json", help="write every layer's figures to this file")
    parser.add_argument("names", nargs="+")
    args = parser.parse_args()
    threads_list = [int(t) for t in args.threads.split(",")]
    report = []
    with tempfile.TemporaryDirectory() as root:
        for name in args.names:
            prototxt = compare_engines.resolve(name, args.models)
            if prototxt is None:
                print(f"{name}: no such model (looked in {args.models})", file=sys.stderr)
                return 2
            work = os.path.join(root, compare_engines.file_safe(name))
            os.makedirs(work)
            model = compare_engines.Model(types.SimpleNamespace(tool=args.tool), name, prototxt, work)
            onnx_path = model.onnx_files()[0]
            writer = layer_of_blob(model.current)
            for threads in threads_list:
                layers, ours_forward = predictor_layers(args.tool, prototxt, model.weights, threads, args.iterations)
                nodes, ort_forward = ort_nodes(onnx_path, model.feed, threads, args.iterations)
                rows, unmatched = compare(layers, nodes, writer)
                ours_total, ort_total = sum(r[2] for r in rows), sum(r[3] for r in rows)
                print(f"\n## {name}, {threads} thread{'s' if threads > 1 else ''}: layer sums predictor "
                      f"{ours_total:.3f} ms, ONNX Runtime {ort_total:.3f} ms (+ {sum(unmatched.values()):.3f} ms "
                      f"unmatched); forwards {ours_forward:.3f} / {ort_forward:.3f} ms\n")
                print("| layer | type | predictor ms | ONNX Runtime ms | difference | MMAC | predictor GFLOP/s |")
                print("|---|---|---:|---:|---:|---:|---:|")
                for r in sorted(rows, key=lambda r: r[3] - r[2])[:args.rows]:
                    gflops = f"{2e-6 * r[4] / r[2]:.1f}" if r[4] and r[2] > 0 else ""
                    print(f"| {r[0]} | {r[1]} | {r[2]:.3f} | {r[3]:.3f} | {r[2] - r[3]:+.3f} | {r[4] / 1e6:.1f} | "
                          f"{gflops} |")
                if unmatched:
                    print("\nONNX Runtime nodes matching no layer: " +
                          ", ".join(f"{n} {ms:.3f}" for n, ms in sorted(unmatched.items())))
                report.append({"model": name, "threads": threads, "predictor_forward_ms": ours_forward,
                               "ort_forward_ms": ort_forward, "unmatched": unmatched,
                               "layers": [dict(zip(("name", "type", "predictor_ms", "ort_ms", "multiply_adds"), r))
                                          for r in rows]})
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
