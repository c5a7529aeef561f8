#!/usr/bin/env python3
"""Where a second compute thread fails to halve a forward: `predictor bench`
at --compute_threads=1 and =N (graph passes and the memory plan on, as in
scripts/compare_engines.py), the two alternating for --rounds rounds, then
per layer the medians at 1 and N threads, the speedup, and the time lost
against a perfect split (time at N - time at 1 / N), worst first, and the
same summed per layer type.

  python3 scripts/thread_scaling.py [--tool build/tools/predictor/predictor] [--threads 2]
      [--rounds 3] [--iterations 20] [--rows 25] --model M.prototxt --weights M.caffemodel [-- bench flags]

Flags after `--` go to `predictor bench` as they are (for instance --batch=1:
the zoo's GoogLeNet and SqueezeNet declare batch 10). Runs alternate so that
a shared machine's slow minutes fall on both sides; still, compare figures of
one run only.
"""
import argparse
import collections
import json
import statistics
import subprocess
import sys


def bench(args, threads):
    command = [args.tool, 'bench', '--model=' + args.model, '--weights=' + args.weights, '--optimize_graph',
               '--optimize_memory', '--compute_threads=%d' % threads, '--iterations=%d' % args.iterations,
               '--json'] + args.bench_flags
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--tool', default='build/tools/predictor/predictor')
    parser.add_argument('--model', required=True)
    parser.add_argument('--weights', required=True)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--iterations', type=int, default=20)
    parser.add_argument('--rows', type=int, default=25)
    parser.add_argument('bench_flags', nargs='*')
    args = parser.parse_args()
    counts = (1, args.threads)
    runs = {t: [] for t in counts}
    for _ in range(args.rounds):
        for t in counts:
            runs[t].append(bench(args, t))

    whole = {t: statistics.median(r['median_ms'] for r in runs[t]) for t in counts}
    print('whole forward: %.3f ms on 1 thread, %.3f on %d: %.2fx' %
          (whole[1], whole[args.threads], args.threads, whole[1] / whole[args.threads]))
    layers = collections.OrderedDict()
    for t in counts:
        for run in runs[t]:
            for layer in run['layers']:
                entry = layers.setdefault(layer['name'], {'type': layer['type'], 1: [], args.threads: []})
                entry[t].append(layer['median_ms'])
    rows = []
    for name, entry in layers.items():
        one, many = statistics.median(entry[1]), statistics.median(entry[args.threads])
        rows.append((many - one / args.threads, name, entry['type'], one, many))
    rows.sort(reverse=True)

    by_type = collections.defaultdict(lambda: [0.0, 0.0, 0.0])
    for lost, _, kind, one, many in rows:
        by_type[kind][0] += one
        by_type[kind][1] += many
        by_type[kind][2] += lost
    print('\n| layer type | 1 thread ms | %d threads ms | speedup | lost ms |' % args.threads)
    print('|---|---:|---:|---:|---:|')
    for kind, (one, many, lost) in sorted(by_type.items(), key=lambda item: -item[1][2]):
        print('| %s | %.3f | %.3f | %.2fx | %.3f |' % (kind, one, many, one / many if many else 0.0, lost))
    print('\n| layer | type | 1 thread ms | %d threads ms | speedup | lost ms |' % args.threads)
    print('|---|---|---:|---:|---:|---:|')
    for lost, name, kind, one, many in rows[:args.rows]:
        print('| %s | %s | %.3f | %.3f | %.2fx | %.3f |' % (name, kind, one, many, one / many if many else 0.0, lost))
    return 0


if __name__ == '__main__':
    sys.exit(main())
