#!/usr/bin/env python3
"""PyTorch + cuDNN's throughput at batch 1 from 1, 4 and 8 concurrent streams
on one GPU: the counterpart of `predictor bench --device=gpu:0 --threads=N`
(issue 11's replica scaling), for the README's table beside predictor's.

  python3 scripts/torch_replicas.py resnet50 [alexnet googlenet ...]

torchvision's version of each model (not the zoo's prototxt: GoogLeNet and
Inception-v3 with BatchNorm, AlexNet's single-tower variant, ResNet-50 v1.5),
random weights, eval mode, FP32 with TF32 off, cuDNN benchmark mode. One
CUDA graph per stream, captured once on that stream with its own input (all
streams share the module's weights); N Python threads each replay their graph
on their own stream and synchronize after every inference, as a service's
worker threads would. Medians of 3 rounds of 400 inferences per thread, after
50 untimed ones; inferences per second over all threads. Needs a CUDA GPU,
torch and torchvision (the lent H200's image has both).
"""
import sys
import threading
import time

import torch
import torchvision

STREAMS = (1, 4, 8)
ROUNDS = 3
WARMUP = 50
ITERATIONS = 400


def make_model(name):
    extra = {"aux_logits": False, "init_weights": True} if name in ("googlenet", "inception_v3") else {}
    return getattr(torchvision.models, name)(weights=None, **extra).cuda().eval()


def capture(model, side, count):
    """`count` (stream, graph) pairs, each graph one forward on its own input."""
    graphs = []
    for _ in range(count):
        stream = torch.cuda.Stream()
        x = torch.randn(1, 3, side, side, device="cuda")
        with torch.cuda.stream(stream), torch.inference_mode():
            for _ in range(5):  # cuDNN's benchmark mode picks its algorithms here
                model(x)
        stream.synchronize()
        graph = torch.cuda.CUDAGraph()
        with torch.inference_mode(), torch.cuda.graph(graph, stream=stream):
            model(x)
        graphs.append((stream, graph, x))
    torch.cuda.synchronize()
    return graphs


def throughput(graphs, iterations):
    def worker(stream, graph):
        for _ in range(iterations):
            with torch.cuda.stream(stream):
                graph.replay()
            stream.synchronize()

    threads = [threading.Thread(target=worker, args=(s, g)) for s, g, _ in graphs]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(graphs) * iterations / (time.perf_counter() - start)


def main():
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    for name in sys.argv[1:]:
        model = make_model(name)
        graphs = capture(model, 299 if name == "inception_v3" else 224, max(STREAMS))
        runs = {n: [] for n in STREAMS}
        for _ in range(ROUNDS):
            for n in STREAMS:
                throughput(graphs[:n], WARMUP)
                runs[n].append(throughput(graphs[:n], ITERATIONS))
        median = {n: sorted(v)[len(v) // 2] for n, v in runs.items()}
        parts = [f"{n} {median[n]:.0f}/s ({median[n] / median[1]:.2f}x)" for n in STREAMS]
        print(f"torch {name}: " + "  ".join(parts), flush=True)


if __name__ == "__main__":
    main()
