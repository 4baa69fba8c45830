"""The Python peer of `cargo bench -p proc-pool -- map_100k`: multiprocessing.Pool(2) with the
fork start method maps 100,000 tiny tasks, with chunksize 1 and with Python's default chunksize.

    python3 proc-pool/benches/python_pool.py

Prints the median of three runs of each, in tasks per second, after a warm-up map.
"""

import multiprocessing
import time

TASKS = 100_000
RUNS = 3


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


if __name__ == "__main__":
    multiprocessing.set_start_method("fork")
    with multiprocessing.Pool(2) as pool:
        pool.map(tiny, range(1_000))
        for label, chunksize in (("chunksize 1", 1), ("default chunksize", None)):
            median, rates = tasks_per_second(pool, chunksize)
            runs = ", ".join(f"{r:,.0f}" for r in rates)
            print(f"Pool(2) map of {TASKS:,} tiny tasks, {label}: {median:,.0f} tasks/s ({runs})")
