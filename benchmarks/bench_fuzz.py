"""A long fuzz run of the CLI: >= 10,000 generated inputs, counted by what the CLI did.

The generators of ``tests/_fuzz_inputs.py`` (campaign configs in YAML and TOML, carbon
series, JSON Lines records, calibration files, CodeCarbon CSVs, each valid by the schema and
then mutated) drive ``tunecost.cli.app`` in forked worker processes, each input under a time
limit and a memory cap. Prints exactly one JSON line on stdout:

    {"inputs": n, "clean_errors": a, "successes": b, "tracebacks": c, "hangs": d,
     "non_finite_or_negative": e}

Inputs whose table output loses a name as the user wrote it (exit 0; rich markup or emoji
codes) are counted apart on stderr and listed with the failures: the five counts then sum to
``inputs`` less that number.
For each distinct failure (exception type and where it was raised, or the non-finite
metric, or a hang), the smallest input found (mutations dropped one at a time while the
failure keeps its signature), as Markdown, to ``--failures FILE`` (default: stderr). A
progress bar goes to stderr.

Run: python benchmarks/bench_fuzz.py [--n 10000] [--workers 2] [--seed 0] [--timeout 20]
     [--failures failures.md]
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import sys
import time
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, seed, settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import _fuzz_inputs as fz  # noqa: E402

VAGUE = re.compile(r"\(?\d+ validation errors? for \w+\)?\s*$")
KEYS = {"clean_error": "clean_errors", "success": "successes", "traceback": "tracebacks",
        "hang": "hangs", "non_finite_or_negative": "non_finite_or_negative"}


def generate(n: int, root_seed: int) -> list[fz.Case]:
    """``n`` cases from hypothesis's generator alone (no shrinking, no database)."""
    cases: list[fz.Case] = []

    @seed(root_seed)
    @settings(max_examples=n, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(fz.any_case())
    def collect(case: fz.Case) -> None:
        cases.append(case)

    # Hypothesis may stop a little early once it has seen enough distinct inputs; top up.
    for k in range(20):
        if len(cases) >= n:
            break
        collect = seed(root_seed + k + 1)(collect) if k else collect
        collect()
    return cases[:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000, help="generated inputs")
    ap.add_argument("--workers", type=int, default=2, help="worker processes")
    ap.add_argument("--seed", type=int, default=0, help="hypothesis seed")
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds per input (a hang)")
    ap.add_argument("--mem-gib", type=float, default=6.0, help="address-space cap per worker")
    ap.add_argument("--failures", type=Path, default=None,
                    help="write the minimised failing inputs here (Markdown); default stderr")
    ap.add_argument("--no-minimise", action="store_true", help="report failures as drawn")
    args = ap.parse_args()

    fz.shutdown_env()
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    t0 = time.monotonic()
    cases = generate(args.n, args.seed)
    runner = fz.Runner(n_workers=args.workers, timeout_s=args.timeout, mem_gib=args.mem_gib)
    counts = collections.Counter({k: 0 for k in KEYS})
    first: dict[tuple[str, str], tuple[fz.Case, fz.Outcome, int]] = {}
    by_area: collections.Counter = collections.Counter()
    generator_errors = 0
    garbled = 0
    vague: dict[str, tuple[fz.Case, fz.Outcome]] = {}
    rejected_valid: dict[str, tuple[fz.Case, fz.Outcome]] = {}
    bar = Progress("fuzz", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TimeRemainingColumn(), "{task.fields[bad]}", transient=False,
                   console=Console(stderr=True))
    try:
        with bar:
            task = bar.add_task("fuzz", total=len(cases), bad="")
            for case, out in runner.map(cases):
                if out.kind == "generator_error":  # the fuzzer's bug, not tunecost's
                    generator_errors += 1
                    print(f"generator error: {out.detail}", file=sys.stderr)
                    bar.update(task, advance=1)
                    continue
                kind = out.kind
                if kind == "garbled_output":  # exit 0, but a name printed wrong
                    garbled += 1
                counts[kind] += 1
                by_area[(case.area, kind)] += 1
                if kind in fz.BAD_OUTCOMES:
                    key = (kind, out.signature or out.detail[:80])
                    n_seen = first.get(key, (None, None, 0))[2] + 1
                    best = first.get(key)
                    if best is None or case.size() < best[0].size():
                        first[key] = (case, out, n_seen)
                    else:
                        first[key] = (best[0], best[1], n_seen)
                elif kind == "clean_error" and VAGUE.search(out.detail):
                    # One line, but it names no field, rule or value (house rule).
                    vague[VAGUE.sub("", out.detail)[-60:]] = (case, out)
                if kind == "clean_error" and case.unmutated and case.area != "records" \
                        and case.area != "codecarbon":
                    rejected_valid.setdefault(out.detail.split(":")[0][:60] + out.detail[-60:],
                                              (case, out))
                bad = (f"tb {counts['traceback']} hang {counts['hang']} "
                       f"nan {counts['non_finite_or_negative']}")
                bar.update(task, advance=1, bad=bad)
                done = sum(counts.values())
                if not sys.stderr.isatty() and done % 500 == 0:  # rich draws only on a tty
                    print(f"fuzz {done}/{len(cases)} {time.monotonic() - t0:.0f} s {bad}",
                          file=sys.stderr, flush=True)
        sections = []
        for (kind, sig), (case, out, n_seen) in sorted(first.items(), key=lambda x: -x[1][2]):
            if not args.no_minimise:
                case, out = fz.minimise(runner, case, out)
            sections.append(f"## {kind}: {sig} ({n_seen} inputs)\n\n{fz.describe(case, out)}\n")
        for _, (case, out) in list(vague.items())[:10]:
            sections.append(f"## clean error that names no field ({case.area})\n\n"
                            f"{fz.describe(case, out)}\n")
        for _, (case, out) in rejected_valid.items():
            sections.append(f"## valid input rejected ({case.area})\n\n"
                            f"{fz.describe(case, out)}\n")
    finally:
        runner.close()
    summary = {"inputs": len(cases) - generator_errors,
               **{KEYS[k]: counts[k] for k in KEYS}}
    print(f"garbled output (exit 0, a name printed wrong; not in the JSON line): {garbled}; "
          f"generator errors (the fuzzer's, skipped): {generator_errors}", file=sys.stderr)
    text = (f"# bench_fuzz: {json.dumps(summary)}\n\nseed {args.seed}, "
            f"{time.monotonic() - t0:.0f} s, by area: "
            + ", ".join(f"{a}/{k}={v}" for (a, k), v in sorted(by_area.items())) + "\n\n"
            + "\n".join(sections))
    if args.failures is not None:
        args.failures.write_text(text)
    else:
        print(text, file=sys.stderr)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
