#!/usr/bin/env python3
"""Hostile-input check: mutates real model definitions (numbers set to 0, -1,
huge or fractional values; lines dropped or duplicated; names swapped) and
runs each through `predictor bench --iterations=1`. Every case must end with
exit code 0 or 1 (a clean `predictor: error:` line), never a signal, a hang
or another code. Deterministic for a seed.

  scripts/fuzz_prototxt.py [--tool PATH] [--cases N] [--seed S] model.prototxt ...
"""
import argparse
import os
import random
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NUMBER = re.compile(r"(?<![\w.])-?\d+(\.\d+)?(e-?\d+)?(?![\w.])")
HOSTILE_NUMBERS = ["0", "-1", "1", "2147483647", "4294967295", "99999999999", "-2147483648", "0.5", "1e30", "3"]


def mutate(text, rng):
    lines = text.split("\n")
    for _ in range(rng.randint(1, 3)):
        kind = rng.random()
        index = rng.randrange(len(lines))
        if kind < 0.6:
            numbers = list(NUMBER.finditer(lines[index]))
            if numbers:
                match = rng.choice(numbers)
                line = lines[index]
                lines[index] = line[:match.start()] + rng.choice(HOSTILE_NUMBERS) + line[match.end():]
        elif kind < 0.8:
            del lines[index]
        elif kind < 0.9:
            lines.insert(index, lines[rng.randrange(len(lines))])
        else:
            names = re.findall(r'"([^"]+)"', text)
            if names:
                lines[index] = re.sub(r'"[^"]+"', '"' + rng.choice(names) + '"', lines[index], count=1)
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tool", default=os.path.join(ROOT, "build/tools/predictor/predictor"))
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("models", nargs="+")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    sources = [open(path).read() for path in args.models]
    outcomes = {"ok": 0, "error": 0}
    bad = []
    with tempfile.TemporaryDirectory() as work:
        for case in range(args.cases):
            path = os.path.join(work, f"case{case}.prototxt")
            with open(path, "w") as out:
                out.write(mutate(rng.choice(sources), rng))
            try:
                result = subprocess.run([args.tool, "bench", f"--model={path}", "--iterations=1", "--warmup=0"],
                                        capture_output=True, text=True, timeout=args.timeout)
            except subprocess.TimeoutExpired:
                bad.append((case, "timeout", ""))
                os.replace(path, os.path.join(work, f"bad{case}.prototxt"))
                continue
            lines = [l for l in result.stderr.splitlines() if l.strip()]
            if result.returncode == 0:
                outcomes["ok"] += 1
            elif result.returncode == 1 and len(lines) == 1 and lines[0].startswith("predictor: error:"):
                outcomes["error"] += 1
            else:
                bad.append((case, result.returncode, result.stderr[-300:]))
                os.replace(path, os.path.join(ROOT, f"fuzz_failure_{case}.prototxt"))
    print(f"{args.cases} mutated models: {outcomes['ok']} ran, {outcomes['error']} rejected cleanly, {len(bad)} bad")
    for case, code, stderr in bad:
        print(f"  case {case}: exit {code}: {stderr.strip()}  (kept as fuzz_failure_{case}.prototxt)")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
