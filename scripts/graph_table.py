#!/usr/bin/env python3
"""Prints the README's graph-optimizer table from scripts/graph_table.sh's JSON.

usage: scripts/graph_table.py OUT_DIR [OUT_DIR ...]   (one column pair per device folder)
"""
import json
import os
import sys

MODELS = ["resnet18", "resnet50", "mobilenet_v1", "mobilenet_v2", "bvlc_googlenet", "inception_v3",
          "densenet121", "ccgo_cifar10_bn"]


def load(folder, name, variant):
    try:
        with open(os.path.join(folder, f"{name}.{variant}.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def main():
    folders = sys.argv[1:]
    header = "| model | layers before → after |"
    rule = "|---|---|"
    for folder in folders:
        device = os.path.basename(os.path.normpath(folder))
        header += f" {device} ms before → after | speedup |"
        rule += "---|---|"
    print(header)
    print(rule)
    for name in MODELS:
        row = f"| {name} |"
        first = True
        for folder in folders:
            plain, optimized = load(folder, name, "plain"), load(folder, name, "optimized")
            if first:
                if plain and optimized:
                    row += f" {plain['num_layers']} → {optimized['num_layers']} |"
                else:
                    row += " failed |"
                first = False
            if plain and optimized:
                key = "device_ms" if "device_ms" in plain else None
                before = plain[key]["median"] if key else plain["median_ms"]
                after = optimized[key]["median"] if key else optimized["median_ms"]
                row += f" {before:.3f} → {after:.3f} | {before / after:.2f}x |"
            else:
                row += " failed | |"
        print(row)


if __name__ == "__main__":
    main()
