#!/usr/bin/python3
"""Peer worker: a real kazoo Lock client, driven by the test suite
(spec/support/peers/index.ts) and by benchmarks. Same CLI as CuratorLockWorker.java:

    kazoo_lock_worker.py <connectString> <lockPath> <loop|hold|bench> [--key=value ...]

Modes:
  loop  --iterations=N --marker=FILE [--holdMs=H (default 10)] [--recordHolds=1]
        N times: acquire, create FILE exclusively (already there = mutual-exclusion violation,
        printed as {"event":"violation",...}), sleep H ms, delete FILE, release. Prints
        {"impl":"kazoo","iterations":N,"violations":V,"firstAcquiredAt":T,"lastReleasedAt":T
        [,"holds":[[from,to],...]]} (epoch ms, fractional); exit 0, or 2 on violations.
  hold  acquire, print {"event":"acquired","node":"<full path of our lock node>"}, hold until
        stdin closes or a line "release" arrives, release, print {"event":"released"}, exit 0.
        stdin closing (or "release") before the lock is acquired: close the session, exit 1.
  bench --seconds=S
        uncontended acquire+release cycles for S seconds after a 1 s warm-up. Prints
        {"impl":"kazoo","cycles":N,"seconds":S,"cyclesPerSecond":X}.
  handoff --clients=C --warmup=W --handoffs=H [--holdMs=M (default 1)]
        C clients (one KazooClient, so one session, each; a thread each) loop on one lock:
        acquire, hold M ms, release, acquire again, until W+H acquisitions. Prints
        {"impl":"kazoo","records":[[acquiredAt,releaseCalledAt,releasedAt],...]} for the
        acquisitions after the first W, in acquisition order (ms on one monotonic clock).
        Used by bench/ for handoff latency.

Common options:
  --sessionTimeoutMs=MS (default 10000)    --connectTimeoutMs=MS (default 15000)
  --watchStdin=1  loop/bench: exit 1 as soon as stdin reaches EOF, so the worker dies with the
                  process driving it through a pipe (hold mode always watches stdin).
  --waitForGo=1   loop/bench: once connected print {"event":"ready"} and wait for a line "go" on
                  stdin before starting (EOF first: exit 1). Lets a driver start peers together.
  --nodeName=SUFFIX  default "__lock__" (stock kazoo); see the caveat below.

The lock is kazoo's own recipe, kazoo.recipe.lock.Lock, with extra_lock_patterns=("-lock-",)
(kazoo >= 2.7.1) so Curator-style "_c_<uuid>-lock-<seq>" nodes count as contenders. kazoo's
own nodes are "<32 hex>__lock__<seq>".

Caveat: Curator (5.4; its StandardLockInternalsDriver sorts all children by the text after the
last "lock-" and filters nothing) does NOT order "__lock__" nodes by sequence: it sorts them by
their whole name, after every Curator node, so a Curator client takes the lock while a stock
kazoo client holds it. --nodeName=-lock- makes this worker create "<32 hex>-lock-<seq>" nodes
instead (a Lock subclass overriding kazoo's _NODE_NAME; kazoo's algorithm is unchanged), which
Curator orders correctly: use it whenever Curator and kazoo contend for the same lock.

Must run under a Python with kazoo installed (Debian: /usr/bin/python3 + python3-kazoo).
stdout carries JSON lines only; kazoo logging goes to stderr. Exit 1 on errors.
"""

import json
import logging
import os
import sys
import threading
import time
import traceback

GO = threading.Event()
# Set when a stdin thread is about to end the process: errors in the main thread are then expected.
EXITING = threading.Event()


def log(message):
    """Writes to stderr, ignoring errors: the driver (and so the pipe) may already be gone."""
    try:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()
    except Exception:
        pass


def emit(obj):
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def now_ms():
    return round(time.time() * 1000.0, 3)


def parse_args(argv):
    if len(argv) < 3:
        log("usage: kazoo_lock_worker.py <connectString> <lockPath> <loop|hold|bench> [--key=value ...]")
        return None
    connect_string, lock_path, mode = argv[0], argv[1], argv[2]
    opts = {}
    for a in argv[3:]:
        if not a.startswith("--") or "=" not in a:
            log("bad option: %s" % a)
            return None
        k, v = a[2:].split("=", 1)
        opts[k] = v
    return connect_string, lock_path, mode, opts


def make_lock(client, lock_path, node_name):
    from kazoo.recipe.lock import Lock

    cls = Lock
    if node_name != Lock._NODE_NAME:

        class NamedLock(Lock):
            _NODE_NAME = node_name

        cls = NamedLock
    identifier = "kazoo-worker-%d" % os.getpid()
    return cls(client, lock_path, identifier, extra_lock_patterns=("-lock-",))


def start_stdin_control():
    """Daemon thread for loop/bench: a line "go" sets GO; EOF exits with code 1."""

    def run():
        try:
            for line in sys.stdin:
                if line.strip() == "go":
                    GO.set()
        except BaseException:
            pass
        finally:
            EXITING.set()
            log("kazoo_lock_worker: stdin closed, exiting")
            os._exit(1)

    threading.Thread(target=run, name="stdin-control", daemon=True).start()


def do_loop(lock, opts):
    if "iterations" not in opts or "marker" not in opts:
        log("loop needs --iterations=N and --marker=FILE")
        return 1
    iterations = int(opts["iterations"])
    marker = opts["marker"]
    hold_s = int(opts.get("holdMs", "10")) / 1000.0
    record_holds = opts.get("recordHolds") == "1"
    violations = 0
    first_acquired_at = None
    last_released_at = None
    holds = []
    for i in range(iterations):
        lock.acquire()
        start = now_ms()
        if first_acquired_at is None:
            first_acquired_at = start
        try:
            created = False
            try:
                fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                os.close(fd)
                created = True
            except FileExistsError:
                violations += 1
                emit({"event": "violation", "impl": "kazoo", "iteration": i, "marker": marker})
            if hold_s > 0:
                time.sleep(hold_s)
            if created:
                try:
                    os.unlink(marker)
                except FileNotFoundError:
                    pass
        finally:
            end = now_ms()
            last_released_at = end
            if record_holds:
                holds.append([start, end])
            lock.release()
    result = {
        "impl": "kazoo",
        "iterations": iterations,
        "violations": violations,
        "firstAcquiredAt": first_acquired_at,
        "lastReleasedAt": last_released_at,
    }
    if record_holds:
        result["holds"] = holds
    emit(result)
    return 2 if violations else 0


def do_hold(client, lock, lock_path):
    # stdin is read from the start: "release" or EOF ends the hold; either one while still
    # waiting means the driver gave up, so close the session (deleting our node) and exit 1.
    release_signal = threading.Event()
    state = {"acquired": False}
    guard = threading.Lock()

    def reader():
        try:
            for line in sys.stdin:
                if line.strip() == "release":
                    break
        except BaseException:
            pass
        with guard:
            release_signal.set()
            if not state["acquired"]:
                EXITING.set()
                try:
                    log("kazoo_lock_worker: stdin closed before the lock was acquired, exiting")
                    client.stop()  # closes the session: our node goes away now
                except BaseException:
                    pass
                finally:
                    os._exit(1)

    threading.Thread(target=reader, name="stdin-reader", daemon=True).start()

    lock.acquire()
    with guard:
        state["acquired"] = True
    node = lock.node  # kazoo keeps the name only, relative to lock_path
    emit({"event": "acquired", "impl": "kazoo", "node": lock_path.rstrip("/") + "/" + node})
    release_signal.wait()
    lock.release()
    emit({"event": "released", "impl": "kazoo"})
    return 0


def do_bench(lock, opts):
    seconds = float(opts.get("seconds", "5"))
    warmup_end = time.monotonic() + 1.0
    while time.monotonic() < warmup_end:
        lock.acquire()
        lock.release()
    start = time.monotonic()
    end = start + seconds
    cycles = 0
    now = start
    while now < end:
        lock.acquire()
        lock.release()
        cycles += 1
        now = time.monotonic()
    elapsed = now - start
    emit(
        {
            "impl": "kazoo",
            "cycles": cycles,
            "seconds": round(elapsed, 3),
            "cyclesPerSecond": round(cycles / elapsed, 3) if elapsed > 0 else 0,
        }
    )
    return 0


def do_handoff(first_client, connect_string, lock_path, node_name, session_timeout_s, connect_timeout_s, opts):
    from kazoo.client import KazooClient

    clients_n = int(opts.get("clients", "3"))
    warmup = int(opts.get("warmup", "0"))
    handoffs = int(opts.get("handoffs", "100"))
    hold_s = int(opts.get("holdMs", "1")) / 1000.0
    total = warmup + handoffs
    clients = [first_client]
    try:
        for _ in range(1, clients_n):
            c = KazooClient(hosts=connect_string, timeout=session_timeout_s)
            c.start(timeout=connect_timeout_s)
            clients.append(c)
        counter = {"n": 0}
        guard = threading.Lock()
        records = [None] * total
        failures = []
        start = threading.Event()

        def run(client):
            try:
                lock = make_lock(client, lock_path, node_name)
                start.wait()
                while True:
                    lock.acquire()
                    acquired_at = time.monotonic_ns() / 1e6
                    with guard:
                        k = counter["n"]
                        counter["n"] += 1
                    if k >= total:
                        lock.release()
                        return
                    if hold_s > 0:
                        time.sleep(hold_s)
                    release_called_at = time.monotonic_ns() / 1e6
                    lock.release()
                    records[k] = [acquired_at, release_called_at, time.monotonic_ns() / 1e6]
            except BaseException as e:  # reported by the main thread
                failures.append(e)

        threads = [threading.Thread(target=run, args=(c,), daemon=True) for c in clients]
        for t in threads:
            t.start()
        start.set()
        for t in threads:
            t.join()
        if failures:
            raise failures[0]
        emit({"impl": "kazoo", "records": [[round(x, 3) for x in r] for r in records[warmup:]]})
        return 0
    finally:
        for c in clients[1:]:
            try:
                c.stop()
                c.close()
            except Exception:
                pass


def main(argv):
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    parsed = parse_args(argv)
    if parsed is None:
        return 1
    connect_string, lock_path, mode, opts = parsed
    if mode not in ("loop", "hold", "bench", "handoff"):
        log("unknown mode: %s" % mode)
        return 1
    wait_for_go = opts.get("waitForGo") == "1"
    if mode != "hold" and (wait_for_go or opts.get("watchStdin") == "1"):
        start_stdin_control()
    node_name = opts.get("nodeName", "__lock__")
    session_timeout_s = int(opts.get("sessionTimeoutMs", "10000")) / 1000.0
    connect_timeout_s = int(opts.get("connectTimeoutMs", "15000")) / 1000.0

    from kazoo.client import KazooClient

    client = KazooClient(hosts=connect_string, timeout=session_timeout_s)
    client.start(timeout=connect_timeout_s)
    try:
        lock = make_lock(client, lock_path, node_name)
        if mode == "hold":
            return do_hold(client, lock, lock_path)
        if mode == "handoff":
            return do_handoff(
                client, connect_string, lock_path, node_name, session_timeout_s, connect_timeout_s, opts
            )
        if wait_for_go:
            emit({"event": "ready", "impl": "kazoo"})
            GO.wait()
        if mode == "loop":
            return do_loop(lock, opts)
        return do_bench(lock, opts)
    finally:
        try:
            client.stop()
            client.close()
        except Exception:  # exiting anyway
            pass


if __name__ == "__main__":
    code = 1
    try:
        code = main(sys.argv[1:])
    except BaseException:
        try:
            if EXITING.is_set():
                time.sleep(5)  # a stdin thread is ending the process; don't race it with a traceback
            log("kazoo_lock_worker error:\n" + traceback.format_exc())
        except BaseException:
            pass
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass
        os._exit(code)
