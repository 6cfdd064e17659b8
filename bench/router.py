"""Router scaling: lookup cost with 10, 100, 1,000 and 10,000 routes.

For each size, the table is filled with static routes (``/static/<i>/page``) or
parameterised ones (``/items<i>/{id:int}/detail``), and the last registered route
(the worst case for a linear scan) is looked up many times. The cost must stay flat
as the number of routes grows: static paths are one dict lookup, parameterised ones
walk a segment tree.

Usage::

    python bench/router.py
"""

from __future__ import annotations

import statistics
import sys
import time

from kettle.routing import Route
from kettle.routing import Router

SIZES = (10, 100, 1_000, 10_000)


def build(kind: str, size: int) -> tuple[Router, str]:
    """A router with ``size`` routes of ``kind`` and the path of the last one."""
    router = Router()
    for i in range(size):
        if kind == "static":
            path = f"/static/{i}/page"
        else:
            path = f"/items{i}/{{id:int}}/detail"
        router.add(Route(path, f"endpoint{i}", ["GET"], f"route{i}"))
    last = size - 1
    probe = f"/static/{last}/page" if kind == "static" else f"/items{last}/42/detail"
    return router, probe


def lookup_ns(
    router: Router, path: str, count: int = 50_000, repeats: int = 7
) -> float:
    """Median nanoseconds per ``router.match`` over ``repeats`` batches."""
    match = router.match
    route, _ = match("GET", path)
    if route is None:
        raise SystemExit(f"{path} did not match")
    samples = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        for _ in range(count):
            match("GET", path)
        samples.append((time.perf_counter_ns() - start) / count)
    return statistics.median(samples)


def main() -> None:
    print("| routes | static ns/lookup | parameterised ns/lookup |")
    print("|---:|---:|---:|")
    results: dict[str, list[float]] = {"static": [], "param": []}
    for size in SIZES:
        cells = []
        for kind in ("static", "param"):
            router, probe = build(kind, size)
            cost = lookup_ns(router, probe)
            results[kind].append(cost)
            cells.append(f"{cost:,.0f}")
        print(f"| {size:,} | {cells[0]} | {cells[1]} |", flush=True)
    for kind, costs in results.items():
        growth = costs[-1] / costs[0]
        print(f"{kind}: 10,000 routes cost {growth:.2f}x of 10 routes", file=sys.stderr)


if __name__ == "__main__":
    main()
