"""``python -m benchmarks [--quick] [--only NAME ...] [--tools T ...]``; see ``--help``."""

import os
import sys


def _threads_from_argv(argv):
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return "1"


# One thread for every tool (BLAS, PyTorch, XLA) unless --threads says otherwise: on a small
# shared machine a multi-threaded BLAS spin-waits on a busy core and a 0.7 ms matmul takes 35 ms.
# These must be set before NumPy, PyTorch or JAX is imported.
_THREADS = _threads_from_argv(sys.argv[1:])
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, _THREADS)
if _THREADS == "1":
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
os.environ.setdefault("BENCH_TORCH_THREADS", _THREADS)

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

from . import firstgrad, report, runner, tasks
from .tools import TOOLS

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLD = ("import", "mlp")  # plus the two below in a full run
COLD_ALL = ("numpy", "import", "import_after_numpy", "mlp", "fifty")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer rounds, shorter samples, a shorter LSTM sequence")
    ap.add_argument("--only", nargs="+", metavar="NAME",
                    help="tasks to run: " + ", ".join([t.name for t in tasks.TASKS] + ["cold"]))
    ap.add_argument("--tools", nargs="+", choices=list(TOOLS), help="tools to run (default: all)")
    ap.add_argument("--threads", default="1", help="threads for BLAS, PyTorch and XLA (default 1)")
    ap.add_argument("--no-cold", action="store_true", help="skip the fresh-process cold-start measurements")
    ap.add_argument("--write", action=argparse.BooleanOptionalAction, default=None,
                    help="write docs/benchmarks.md and benchmarks/results.json "
                         "(default: only for a full run without --only/--quick)")
    ap.add_argument("--md", default=os.path.join(REPO, "docs", "benchmarks.md"))
    ap.add_argument("--json", default=os.path.join(REPO, "benchmarks", "results.json"))
    ap.add_argument("--render", action="store_true", help="only rewrite the Markdown from the JSON results")
    args = ap.parse_args(argv)
    if args.render:
        with open(args.json) as fh:
            saved = json.load(fh)
        saved["targets"] = runner.evaluate_targets(saved["results"], saved["cold"])  # (with today's reasons)
        md = report.markdown(saved["machine"], saved["results"], saved["cold"], saved["targets"], saved["argv"])
        with open(args.json, "w") as fh:
            json.dump(saved, fh, indent=1, default=str)
        with open(args.md, "w") as fh:
            fh.write(md + "\n")
        print(f"wrote {args.md}")
        return 0

    names = args.only or [t.name for t in tasks.TASKS] + ["cold"]
    unknown = [n for n in names if n not in tasks.BY_NAME and n != "cold"]
    if unknown:
        ap.error(f"unknown task(s) {unknown}; choose from {[t.name for t in tasks.TASKS] + ['cold']}")
    write = args.write if args.write is not None else not (args.only or args.quick)
    size = "quick" if args.quick else "full"
    rounds, min_sample, budget = (3, 0.01, 6.0) if args.quick else (9, 0.02, 25.0)

    def log(*a, **k):
        print(*a, **k, flush=True)

    info = report.machine_info()
    log(f"{info['cpu']}, {info['cores']} cores; Python {info['python']}, NumPy {info['numpy']}")
    results = []
    t_start = time.perf_counter()
    for name in names:
        if name == "cold":
            continue
        task = tasks.BY_NAME[name]
        log(f"[{name}] {task.title}")
        t0 = time.perf_counter()
        rec = runner.run_task(task, size=size, tools=args.tools, rounds=rounds, min_sample=min_sample,
                              budget=budget, log=log)
        results.append(rec)
        for tool, e in rec["tools"].items():
            if "grad_s" in e:
                log(f"  {tool:10s} {report.fmt_time(e['grad_s']):>10s}  ÷primal {e.get('grad_over_primal', 0):7.1f}"
                    + (f"  ÷hand {e['over_hand']:.2f}" if "over_hand" in e else "")
                    + (f"  srcgrad speed-up {e['srcgrad_speedup']:.2f}" if "srcgrad_speedup" in e else ""))
        log(f"  ({time.perf_counter() - t0:.1f} s)")

    cold = {}
    if "cold" in names and not args.no_cold:
        kinds = COLD if args.quick else COLD_ALL
        repeats = 2 if args.quick else 5
        for kind in kinds:
            log(f"[cold] {kind} ...")
            timeout = 60.0 if args.quick else 180.0
            cold[kind] = firstgrad.measure(kind, repeats=1 if kind == "fifty" and args.quick else repeats,
                                           timeout=timeout)
            m = cold[kind]
            log(f"  {report.fmt_time(m.get('seconds'))}" + (f"  ERROR {m['error']}" if "error" in m else ""))

    targets = runner.evaluate_targets(results, cold)
    md = report.markdown(info, results, cold, targets, argv)
    out = {"machine": info, "argv": argv, "size": size,
           "results": [{k: v for k, v in r.items() if not k.startswith("_")} for r in results], "cold": cold, "targets": targets,
           "total_seconds": time.perf_counter() - t_start}
    if write:
        os.makedirs(os.path.dirname(args.md), exist_ok=True)
        with open(args.md, "w") as fh:
            fh.write(md + "\n")
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1, default=str)
        log(f"wrote {args.md} and {args.json}")
    else:
        print()
        print(md)
    log("\nTargets:")
    for t in targets:
        log(f"  [{t['status']:>12s}] {t['task']}: {t['target']} -- {t['shown']}" + (f" ({t['why'][:120]})" if t.get("why") else ""))
    mism = [m for r in results for m in r["mismatches"]]
    if mism:
        log("\n!!! GRADIENT MISMATCHES:\n  " + "\n  ".join(mism), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
