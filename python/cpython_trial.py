"""One trial of the compare program's standard workloads on CPython itself.

The compare program (src/cpython.rs) runs this script, standard library only, Python 3.8 or
newer, as the child of a trial process, and sends it a plan as one JSON document on stdin:

    {"runtime": "sequential" | "threads" | "asyncio" | "processes" | "asyncio+processes",
     "start_method": "fork" | "forkserver",      # the pools only
     "workers": N,                               # threads or processes
     "yield_every": K,                           # asyncio: candidates between yields
     "jobs": [[kind, params...], ...]}

It runs the jobs the way the named CPython runtime runs them, and prints one JSON line:
each job's output in input order, the wall time, the part of it spent starting and stopping
a process pool, the CPU time, and the peak memory of this process and its pool's workers.

The CPU time counted: this process's during the run, its pool's workers' (their whole lives:
start-up included) and the pool's helpers' (for `forkserver`, the fork server and the
resource tracker: their whole lives, start-up included), read from /proc just before the pool
is closed. The part that does not grow with the jobs (`fixed_cpu_s`) is this process's CPU
in starting and stopping the pool plus the helpers' (`helpers_cpu_s`, reported apart too).
Not counted: the interpreter's own start-up before the run, as a model trial's process
start-up is not counted either.
It checks nothing: the compare program checks every output against values it computes itself
(with a sieve, not this script's trial division), so a bug here shows as a wrong row.

The jobs mirror shared/src/workloads/ exactly:
  cpu    [lo, hi]                         count primes in lo..hi by trial division
  sleep  [naps, nap_s]                    sleep naps times, answer naps
  trips  [host, port, trips, len]         round trips on one connection, answer the checksum
  mixed  [lo, hi, nap_s, host, port, trips, len]  count, nap, round trips: [primes, checksum]
  cpu-io [lo, hi, host, port, trips, len]  round trips, count (offloaded), round trips again:
                                           [checksum, primes, checksum]

The CPU part of a `cpu-io` job is what the Rust job marks with `Ctx::offload`: every runtime
here runs it in place (asyncio: with its yields, as mini-eventloop does), except
`asyncio+processes`, the original of the models' `mini-eventloop+proc-pool`, which sends it
to a `concurrent.futures.ProcessPoolExecutor` of `workers` processes with
`await loop.run_in_executor(executor, count_primes, lo, hi)`. Its other jobs never offload:
they run as on `asyncio`.

A job's `checkpoint` in the Rust models has this counterpart: nothing for threads (the real
GIL switches on its own every 5 ms), and `await asyncio.sleep(0)` every `yield_every`
candidates for asyncio, the same granularity at which mini-eventloop really yields.

`--test-wrong-output` (tests only) makes the first job's output wrong by one; `--test-stall`
(tests only) blocks forever, as a hung interpreter would: before running, or, for a pool,
in every worker once the pool has started (each worker says so on stderr first).

Every process this script starts dies with its parent (Linux's PR_SET_PDEATHSIG, as the
compare program asks for each of its own children): the compare program starts this one so,
the pool's workers ask for it themselves, and the fork server ends when this process does, so that a killed trial leaves
no part of CPython running, even a worker stuck in a job.
"""

import asyncio
from concurrent.futures import ProcessPoolExecutor
import json
import math
import multiprocessing
from multiprocessing import forkserver
import os
import resource
import socket
import struct
import sys
import threading
import time

HEADER = struct.Struct("<I")

PR_SET_PDEATHSIG = 1

def die_with_parent(parent):
    """Asks the kernel to kill this process when its parent, pid `parent` (None: the current
    one), dies. The parent is checked after the request, so one that died before it cannot
    leave this process running unnoticed."""
    if parent is None:
        parent = os.getppid()
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (ImportError, OSError, AttributeError):
        # No ctypes or no prctl: the pool's end of file on its pipes still stops idle
        # workers when this process dies.
        return
    if os.getppid() != parent:
        os._exit(1)


def start_worker(spawner, method):
    """A pool worker's initializer: it dies with the process that forked it (this script's
    main process, or the fork server). A fork server worker also closes its copy of the
    fork server's "alive" pipe, which it would use only to start processes of its own: held
    by the main process alone, the pipe ends when it dies, so the fork server, which cannot
    be told to die with its parent, exits then, and its workers with it."""
    die_with_parent(spawner)
    if method == "forkserver":
        server = getattr(forkserver, "_forkserver", None)
        fd = getattr(server, "_forkserver_alive_fd", None)
        if fd is not None:
            os.close(fd)
            server._forkserver_alive_fd = None


def stall_in_worker(_):
    sys.stderr.write("cpython_trial: a worker stalls (--test-stall)\n")
    sys.stderr.flush()
    threading.Event().wait()


def is_prime(n):
    """Trial division by odd numbers up to the square root, as the Rust job does."""
    if n < 4:
        return n >= 2
    if n % 2 == 0:
        return False
    limit = math.isqrt(n)
    divisor = 3
    while divisor <= limit:
        if n % divisor == 0:
            return False
        divisor += 2
    return True


def count_primes(lo, hi):
    primes = 0
    for n in range(lo, hi):
        if is_prime(n):
            primes += 1
    return primes


async def count_primes_async(lo, hi, yield_every):
    primes = 0
    since_yield = 0
    for n in range(lo, hi):
        if is_prime(n):
            primes += 1
        since_yield += 1
        if since_yield == yield_every:
            since_yield = 0
            await asyncio.sleep(0)
    return primes


def payload(round_no, length):
    """Byte i of round r is (31 r + 7 i) mod 251, as in the Rust job (u32 arithmetic)."""
    return bytes(
        ((round_no * 31 + i * 7) & 0xFFFFFFFF) % 251 for i in range(length)
    )


def recv_exact(sock, n):
    chunks = []
    while n:
        chunk = sock.recv(n)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def round_trips(host, port, trips, length):
    with socket.create_connection((host, port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        checksum = 0
        for r in range(trips):
            body = payload(r, length)
            sock.sendall(HEADER.pack(len(body)) + body)
            (announced,) = HEADER.unpack(recv_exact(sock, HEADER.size))
            answer = recv_exact(sock, length)
            if announced != length or answer != body:
                return {"error": "round %d: the echo does not match" % r}
            checksum += 1 + sum(answer)
        return checksum


async def round_trips_async(host, port, trips, length):
    # asyncio's TCP transports set TCP_NODELAY themselves (Python 3.6 and newer).
    reader, writer = await asyncio.open_connection(host, port)
    try:
        checksum = 0
        for r in range(trips):
            body = payload(r, length)
            writer.write(HEADER.pack(len(body)) + body)
            await writer.drain()
            (announced,) = HEADER.unpack(await reader.readexactly(HEADER.size))
            answer = await reader.readexactly(length)
            if announced != length or answer != body:
                return {"error": "round %d: the echo does not match" % r}
            checksum += 1 + sum(answer)
        return checksum
    finally:
        writer.close()
        await writer.wait_closed()


def run_job(job):
    """Runs one job on the calling thread (sequential, threads and pool workers)."""
    try:
        kind = job[0]
        if kind == "cpu":
            return count_primes(job[1], job[2])
        if kind == "sleep":
            for _ in range(job[1]):
                time.sleep(job[2])
            return job[1]
        if kind == "trips":
            return round_trips(*job[1:5])
        if kind == "mixed":
            primes = count_primes(job[1], job[2])
            time.sleep(job[3])
            return [primes, round_trips(*job[4:8])]
        if kind == "cpu-io":
            fetched = round_trips(*job[3:7])
            primes = count_primes(job[1], job[2])
            return [fetched, primes, round_trips(*job[3:7])]
        return {"error": "unknown job kind %r" % (kind,)}
    except Exception as e:  # an output, never a crash: the compare program shows it
        return {"error": "%s: %s" % (type(e).__name__, e)}


async def run_job_async(job, yield_every, offload=None):
    """Runs one job as a task. `offload(lo, hi)`, if given, is where a cpu-io job's CPU part
    runs; without it, the part runs in place, on the loop."""
    try:
        kind = job[0]
        if kind == "cpu":
            return await count_primes_async(job[1], job[2], yield_every)
        if kind == "sleep":
            for _ in range(job[1]):
                await asyncio.sleep(job[2])
            return job[1]
        if kind == "trips":
            return await round_trips_async(*job[1:5])
        if kind == "mixed":
            primes = await count_primes_async(job[1], job[2], yield_every)
            await asyncio.sleep(job[3])
            return [primes, await round_trips_async(*job[4:8])]
        if kind == "cpu-io":
            fetched = await round_trips_async(*job[3:7])
            if offload is None:
                primes = await count_primes_async(job[1], job[2], yield_every)
            else:
                primes = await offload(job[1], job[2])
            return [fetched, primes, await round_trips_async(*job[3:7])]
        return {"error": "unknown job kind %r" % (kind,)}
    except Exception as e:
        return {"error": "%s: %s" % (type(e).__name__, e)}


def run_threads(jobs, workers):
    """`workers` threads (one per job, capped by the caller), each taking the next job."""
    outputs = [None] * len(jobs)
    lock = threading.Lock()
    indices = iter(range(len(jobs)))

    def lane():
        while True:
            with lock:
                i = next(indices, None)
            if i is None:
                return
            outputs[i] = run_job(jobs[i])

    threads = [threading.Thread(target=lane) for _ in range(max(1, min(workers, len(jobs))))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outputs


def run_asyncio(jobs, yield_every, offload=None):
    async def main():
        tasks = [asyncio.ensure_future(run_job_async(j, yield_every, offload)) for j in jobs]
        return await asyncio.gather(*tasks)

    return list(asyncio.run(main()))


def run_asyncio_processes(jobs, yield_every, workers, method):
    """asyncio, with the parts jobs offload sent to a ProcessPoolExecutor of `workers`
    processes through `loop.run_in_executor`. The pool is started (its workers forked) before
    the loop, and measured as run_processes measures its Pool."""
    context = multiprocessing.get_context(method)
    started = time.perf_counter()
    cpu_started = own_cpu_s()
    executor = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=start_worker,
        initargs=(os.getpid(), method),
    )
    # The executor forks its workers at its first task: one that does nothing starts them
    # here, in the pool's start-up, not in the first job's offloaded part.
    executor.submit(int).result()
    running = time.perf_counter()
    cpu_running = own_cpu_s()

    async def offload(lo, hi):
        return await asyncio.get_running_loop().run_in_executor(executor, count_primes, lo, hi)

    outputs = run_asyncio(jobs, yield_every, offload)
    stopping = time.perf_counter()
    cpu_stopping = own_cpu_s()
    # `_processes` is the executor's map of its worker processes by pid (private, but present
    # in every version since 3.2).
    pids = list(executor._processes)
    workers_pss_kib = sum(proc_number(pid, "smaps_rollup", "Pss:") for pid in pids)
    workers_cpu_s = sum(process_cpu_s(pid) for pid in pids)
    executor.shutdown(wait=True)
    fixed = (running - started) + (time.perf_counter() - stopping)
    fixed_cpu = (cpu_running - cpu_started) + (own_cpu_s() - cpu_stopping)
    return outputs, fixed, fixed_cpu, workers_pss_kib, workers_cpu_s


def proc_number(pid, name, field):
    """A field of /proc/<pid>/<name> in KiB, or 0 if the process is gone."""
    # Read as bytes: the process's name in /proc/<pid>/status need not be UTF-8.
    try:
        with open("/proc/%d/%s" % (pid, name), "rb") as f:
            for line in f:
                if line.startswith(field.encode()):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def process_cpu_s(pid):
    """CPU time of process `pid` so far: its threads' run times, to the nanosecond."""
    total = 0
    try:
        for task in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/schedstat" % (pid, task)) as f:
                total += int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return total / 1e9


def descendants(root):
    """The pids of every living descendant of process `root`, from the parent links in
    /proc (read as bytes: a command name need not be UTF-8)."""
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as f:
                stat = f.read()
            # Field 4, the parent, counted after the command name's closing ')'.
            parent = int(stat[stat.rindex(b")") + 1 :].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(name))
    found, i = [root], 0
    while i < len(found):
        found.extend(children.get(found[i], ()))
        i += 1
    return found[1:]


def run_processes(jobs, workers, method, stall=False):
    """A Pool of `workers` processes; jobs handed out one at a time (chunksize 1), as
    proc-pool's run_all does, so that n uniform jobs take ceil(n / workers) waves."""
    context = multiprocessing.get_context(method)
    started = time.perf_counter()
    cpu_started = own_cpu_s()
    spawner = os.getpid()
    if method == "forkserver":
        # Started here, so that its pid is known to the workers it forks (a private
        # attribute; without it a worker takes its parent as it finds it).
        forkserver.ensure_running()
        spawner = getattr(forkserver._forkserver, "_forkserver_pid", None)
    pool = context.Pool(workers, initializer=start_worker, initargs=(spawner, method))
    running = time.perf_counter()
    cpu_running = own_cpu_s()
    if stall:
        pool.map(stall_in_worker, range(workers), chunksize=1)
    outputs = list(pool.imap(run_job, jobs, chunksize=1))
    stopping = time.perf_counter()
    cpu_stopping = own_cpu_s()
    # Read while the workers are alive and hold what they used. `_pool` is the Pool's list
    # of worker processes (private, but present in every version since 2.6).
    pids = [p.pid for p in pool._pool]
    workers_pss_kib = sum(proc_number(pid, "smaps_rollup", "Pss:") for pid in pids)
    workers_cpu_s = sum(process_cpu_s(pid) for pid in pids)
    # The pool's helpers, any process but the workers counted above: for `forkserver`, the
    # fork server and the resource tracker. They live until this process
    # ends, so they are read now; they do the same work for any number of jobs.
    helpers_cpu_s = sum(
        process_cpu_s(pid) for pid in descendants(os.getpid()) if pid not in pids
    )
    pool.close()
    pool.join()
    fixed = (running - started) + (time.perf_counter() - stopping)
    # This process's CPU in starting and stopping the pool, and its helpers' CPU, counted
    # once when a sample is scaled, as the models' trials do (proc-pool-forkserver's server
    # is counted in the trial's CPU too, as a reaped child); the workers' own start-up stays
    # in their CPU time.
    fixed_cpu = (cpu_running - cpu_started) + (own_cpu_s() - cpu_stopping) + helpers_cpu_s
    return outputs, fixed, fixed_cpu, workers_pss_kib, workers_cpu_s, helpers_cpu_s


def own_cpu_s():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main():
    if sys.version_info < (3, 8):
        sys.exit("Python 3.8 or newer is needed, this is %s" % sys.version.split()[0])
    wrong = "--test-wrong-output" in sys.argv[1:]
    stall = "--test-stall" in sys.argv[1:]
    plan = json.load(sys.stdin)
    jobs = [tuple(j) for j in plan["jobs"]]
    runtime = plan["runtime"]
    if stall and runtime != "processes":
        threading.Event().wait()
    workers = int(plan.get("workers", 1))
    fixed = 0.0
    fixed_cpu = 0.0
    workers_pss_kib = 0
    workers_cpu_s = 0.0
    helpers_cpu_s = 0.0

    cpu_before = own_cpu_s()
    started = time.perf_counter()
    if runtime == "sequential":
        outputs = [run_job(j) for j in jobs]
    elif runtime == "threads":
        outputs = run_threads(jobs, workers)
    elif runtime == "asyncio":
        outputs = run_asyncio(jobs, int(plan["yield_every"]))
    elif runtime == "asyncio+processes":
        outputs, fixed, fixed_cpu, workers_pss_kib, workers_cpu_s = run_asyncio_processes(
            jobs, int(plan["yield_every"]), workers, plan["start_method"]
        )
    elif runtime == "processes":
        outputs, fixed, fixed_cpu, workers_pss_kib, workers_cpu_s, helpers_cpu_s = run_processes(
            jobs, workers, plan["start_method"], stall
        )
    else:
        sys.exit("unknown runtime %r" % (runtime,))
    wall = time.perf_counter() - started
    cpu = own_cpu_s() - cpu_before + workers_cpu_s + helpers_cpu_s

    if wrong and outputs:
        first = outputs[0]
        if isinstance(first, int):
            outputs[0] = first + 1
        elif isinstance(first, list):
            outputs[0] = [first[0] + 1, first[1]]
        else:
            outputs[0] = ["wrong", first]
    peak = proc_number(os.getpid(), "status", "VmHWM:") + workers_pss_kib
    print(
        json.dumps(
            {
                "outputs": outputs,
                "wall_s": wall,
                "fixed_s": min(fixed, wall),
                "cpu_s": cpu,
                "fixed_cpu_s": min(fixed_cpu, cpu),
                "helpers_cpu_s": helpers_cpu_s,
                "peak_rss_kib": peak,
            }
        )
    )


if __name__ == "__main__":
    main()
