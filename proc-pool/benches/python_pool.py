"""The Python peer of the proc-pool benchmarks, on the same machine:

- `cargo bench -p proc-pool -- map_100k`: multiprocessing.Pool(2) maps 100,000 tiny tasks,
  with chunksize 1 and with Python's default chunksize;
- `cargo bench -p proc-pool --bench start_methods`: start-up (Pool(2) + the first result +
  close/join), worker replacement (maxtasksperchild=1), and the same map, under the "fork"
  and "forkserver" start methods.

    python3 proc-pool/benches/python_pool.py

Prints medians (and all runs, or the range) after a warm-up.
"""

import multiprocessing
import time

TASKS = 100_000
RUNS = 3
START_RUNS = 9


def tiny(x):
    return x + 1


def tasks_per_second(pool, chunksize):
    rates = []
    for _ in range(RUNS):
        start = time.perf_counter()
        pool.map(tiny, range(TASKS), chunksize=chunksize)
        rates.append(TASKS / (time.perf_counter() - start))
    rates.sort()
    return rates[len(rates) // 2], rates


def replacement_ms(ctx, tasks=50):
    """Per task with maxtasksperchild=1: every task runs in a fresh worker."""
    with ctx.Pool(2, maxtasksperchild=1) as pool:
        pool.apply(tiny, (0,))
        start = time.perf_counter()
        for x in range(tasks):
            pool.apply(tiny, (x,))
        return (time.perf_counter() - start) * 1e3 / tasks


def start_up_ms(ctx):
    start = time.perf_counter()
    pool = ctx.Pool(2)
    pool.apply(tiny, (1,))
    pool.close()
    pool.join()
    return (time.perf_counter() - start) * 1e3


if __name__ == "__main__":
    for method in ("fork", "forkserver"):
        ctx = multiprocessing.get_context(method)
        start_up_ms(ctx)
        times = sorted(start_up_ms(ctx) for _ in range(START_RUNS))
        print(
            f"[{method}] Pool(2) start-up (Pool + first result + close/join): "
            f"{times[START_RUNS // 2]:.2f} ms [{times[0]:.2f}–{times[-1]:.2f}]"
        )
        times = sorted(replacement_ms(ctx) for _ in range(START_RUNS))
        print(
            f"[{method}] Pool(2, maxtasksperchild=1) worker replacement, per task: "
            f"{times[START_RUNS // 2]:.2f} ms [{times[0]:.2f}–{times[-1]:.2f}]"
        )
        with ctx.Pool(2) as pool:
            pool.map(tiny, range(1_000))
            for label, chunksize in (("chunksize 1", 1), ("default chunksize", None)):
                median, rates = tasks_per_second(pool, chunksize)
                runs = ", ".join(f"{r:,.0f}" for r in rates)
                print(
                    f"[{method}] Pool(2) map of {TASKS:,} tiny tasks, {label}: "
                    f"{median:,.0f} tasks/s ({runs})"
                )
