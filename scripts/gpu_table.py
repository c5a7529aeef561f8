#!/usr/bin/env python3
"""Prints the README's GPU table from scripts/gpu_table.sh's JSON files.

usage: scripts/gpu_table.py OUT_DIR
"""
import json
import os
import sys

MODELS = ["bvlc_alexnet", "bvlc_googlenet", "resnet18", "resnet50", "mobilenet_v1", "mobilenet_v2",
          "squeezenet_v1.1", "vgg16", "inception_v3", "densenet121"]


def load(folder, name, batch):
    path = os.path.join(folder, f"{name}.b{batch}.json")
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def main():
    folder = sys.argv[1]
    print("| model | b1 device ms | b1 wall ms | b32 device ms | b32 wall ms | weights MB | arena MB b1 / b32 | graph |")
    print("|---|---|---|---|---|---|---|---|")
    for name in MODELS:
        b1, b32 = load(folder, name, 1), load(folder, name, 32)
        if not b1 or not b32:
            print(f"| {name} | failed | | | | | | |")
            continue
        mb = lambda v: f"{v / 1e6:.1f}"
        print(f"| {name} | {b1['device_ms']['median']:.3f} | {b1['median_ms']:.3f} | "
              f"{b32['device_ms']['median']:.2f} | {b32['median_ms']:.2f} | {mb(b1['weights_bytes_on_device'])} | "
              f"{mb(b1['arena_bytes_on_device'])} / {mb(b32['arena_bytes_on_device'])} | "
              f"{'yes' if b1.get('cuda_graph') and b32.get('cuda_graph') else 'no'} |")


if __name__ == "__main__":
    main()
