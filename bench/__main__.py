"""Run the benchmarks: ``python -m bench [name ...]``.

Names: tracking, delivery, runs, export, data, monitoring.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import time

SUITES = {
    "tracking": "bench.bench_tracking",
    "delivery": "bench.bench_delivery",
    "runs": "bench.bench_runs",
    "export": "bench.bench_export",
    "data": "bench.bench_data",
    "monitoring": "bench.bench_monitoring",
    "lineage": "bench.bench_lineage",
    "deploy": "bench.bench_deploy",
    "audit": "bench.bench_audit",
    "drift": "bench.bench_drift",
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("names", nargs="*", default=list(SUITES), choices=list(SUITES))
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON.")
    args = parser.parse_args()
    results = {}
    for name in args.names:
        start = time.perf_counter()
        figures = importlib.import_module(SUITES[name]).run()
        results[name] = figures
        if not args.json:
            took = time.perf_counter() - start
            print(f"\n## {name}  ({took:.0f} s, Python {platform.python_version()})")
            for label, value in figures.items():
                print(f"  {label:<55} {value:10.2f}")
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
