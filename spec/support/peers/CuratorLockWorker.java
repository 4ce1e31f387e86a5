/*
 * Peer worker: a real Apache Curator InterProcessMutex client, driven by the test suite
 * (spec/support/peers/index.ts) and by benchmarks. Compiled at run time against the
 * Debian Curator jars (see index.ts); never commit the .class files.
 *
 * Usage: CuratorLockWorker <connectString> <lockPath> <mode> [--key=value ...]
 *
 * Modes:
 *   loop  --iterations=N --marker=FILE [--holdMs=H (default 10)] [--recordHolds=1]
 *         N times: acquire, create FILE exclusively (already there = mutual-exclusion
 *         violation, printed as {"event":"violation",...}), sleep H ms, delete FILE, release.
 *         Prints {"impl":"curator","iterations":N,"violations":V,"firstAcquiredAt":T,
 *         "lastReleasedAt":T[,"holds":[[from,to],...]]} (epoch ms, fractional); exit 0, or 2 on
 *         violations.
 *   hold  acquire, print {"event":"acquired","node":"<full path of our lock node>"}, hold until
 *         stdin closes or a line "release" arrives, release, print {"event":"released"}, exit 0.
 *         stdin closing (or "release") before the lock is acquired: close the session, exit 1.
 *   bench --seconds=S
 *         uncontended acquire+release cycles for S seconds after a 1 s warm-up. Prints
 *         {"impl":"curator","cycles":N,"seconds":S,"cyclesPerSecond":X}.
 *   handoff --clients=C --warmup=W --handoffs=H [--holdMs=M (default 1)]
 *         C clients (one CuratorFramework, so one session, each; a thread each) loop on one lock:
 *         acquire, hold M ms, release, acquire again, until W+H acquisitions. Prints
 *         {"impl":"curator","records":[[acquiredAt,releaseCalledAt,releasedAt],...]} for the
 *         acquisitions after the first W, in acquisition order (ms on one monotonic clock).
 *         Used by bench/ for handoff latency.
 *
 * Common options:
 *   --sessionTimeoutMs=MS  (default 10000)     --connectTimeoutMs=MS (default 15000)
 *   --watchStdin=1  loop/bench: exit 1 as soon as stdin reaches EOF, so the worker dies with the
 *                   process driving it through a pipe (hold mode always watches stdin).
 *   --waitForGo=1   loop/bench: once connected print {"event":"ready"} and wait for a line "go"
 *                   on stdin before starting (EOF first: exit 1). Lets a driver start peers together.
 *
 * stdout carries JSON lines only (slf4j-nop on the classpath silences Curator/ZooKeeper);
 * diagnostics go to stderr. Exit 1 on errors.
 */

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Pattern;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.zookeeper.data.Stat;

public final class CuratorLockWorker {
    private static final Pattern SEQUENTIAL = Pattern.compile(".*lock-\\d{10}$");
    private static final CountDownLatch GO = new CountDownLatch(1);

    private CuratorLockWorker() {}

    public static void main(String[] args) {
        int code;
        try {
            code = run(args);
        } catch (Throwable t) {
            System.err.println("CuratorLockWorker error: " + t);
            t.printStackTrace(System.err);
            code = 1;
        }
        System.out.flush();
        System.err.flush();
        // Curator/ZooKeeper threads must not keep the JVM alive.
        Runtime.getRuntime().halt(code);
    }

    private static int run(String[] args) throws Exception {
        if (args.length < 3) {
            System.err.println("usage: CuratorLockWorker <connectString> <lockPath> <loop|hold|bench> [--key=value ...]");
            return 1;
        }
        String connectString = args[0];
        String lockPath = args[1];
        String mode = args[2];
        if (!mode.equals("loop") && !mode.equals("hold") && !mode.equals("bench") && !mode.equals("handoff")) {
            System.err.println("unknown mode: " + mode);
            return 1;
        }
        Map<String, String> opts = new HashMap<>();
        for (int i = 3; i < args.length; i++) {
            String a = args[i];
            int eq = a.indexOf('=');
            if (!a.startsWith("--") || eq < 0) {
                System.err.println("bad option: " + a);
                return 1;
            }
            opts.put(a.substring(2, eq), a.substring(eq + 1));
        }

        boolean waitForGo = "1".equals(opts.get("waitForGo"));
        if (!mode.equals("hold") && (waitForGo || "1".equals(opts.get("watchStdin")))) {
            startStdinControl();
        }
        int sessionTimeoutMs = intOpt(opts, "sessionTimeoutMs", 10000);
        int connectTimeoutMs = intOpt(opts, "connectTimeoutMs", 15000);

        CuratorFramework client = CuratorFrameworkFactory.builder()
                .connectString(connectString)
                .sessionTimeoutMs(sessionTimeoutMs)
                .connectionTimeoutMs(Math.min(connectTimeoutMs, sessionTimeoutMs))
                .retryPolicy(new ExponentialBackoffRetry(100, 3))
                .build();
        client.start();
        try {
            if (!client.blockUntilConnected(connectTimeoutMs, TimeUnit.MILLISECONDS)) {
                System.err.println("could not connect to " + connectString + " within " + connectTimeoutMs + " ms");
                return 1;
            }
            InterProcessMutex mutex = new InterProcessMutex(client, lockPath);
            if (mode.equals("hold")) {
                return hold(client, mutex, lockPath);
            }
            if (waitForGo) {
                emit("{\"event\":\"ready\",\"impl\":\"curator\"}");
                GO.await();
            }
            if (mode.equals("handoff")) {
                return handoff(client, connectString, lockPath, sessionTimeoutMs, connectTimeoutMs, opts);
            }
            return mode.equals("loop") ? loop(mutex, opts) : bench(mutex, opts);
        } finally {
            try {
                client.close();
            } catch (Throwable ignored) {
                // exiting anyway
            }
        }
    }

    private static int loop(InterProcessMutex mutex, Map<String, String> opts) throws Exception {
        int iterations = intOpt(opts, "iterations", -1);
        String marker = opts.get("marker");
        long holdMs = intOpt(opts, "holdMs", 10);
        boolean recordHolds = "1".equals(opts.get("recordHolds"));
        if (iterations < 0 || marker == null) {
            System.err.println("loop needs --iterations=N and --marker=FILE");
            return 1;
        }
        Path markerPath = Paths.get(marker);
        int violations = 0;
        double firstAcquiredAt = -1;
        double lastReleasedAt = -1;
        List<double[]> holds = new ArrayList<>();
        for (int i = 0; i < iterations; i++) {
            mutex.acquire();
            double from = nowMs();
            if (firstAcquiredAt < 0) {
                firstAcquiredAt = from;
            }
            try {
                boolean created = false;
                try {
                    Files.createFile(markerPath);
                    created = true;
                } catch (FileAlreadyExistsException e) {
                    violations++;
                    emit("{\"event\":\"violation\",\"impl\":\"curator\",\"iteration\":" + i
                            + ",\"marker\":" + jsonString(marker) + "}");
                }
                if (holdMs > 0) {
                    Thread.sleep(holdMs);
                }
                if (created) {
                    Files.deleteIfExists(markerPath);
                }
            } finally {
                double to = nowMs();
                lastReleasedAt = to;
                if (recordHolds) {
                    holds.add(new double[] {from, to});
                }
                mutex.release();
            }
        }
        StringBuilder out = new StringBuilder();
        out.append("{\"impl\":\"curator\",\"iterations\":").append(iterations)
                .append(",\"violations\":").append(violations)
                .append(",\"firstAcquiredAt\":").append(firstAcquiredAt < 0 ? "null" : num(firstAcquiredAt))
                .append(",\"lastReleasedAt\":").append(lastReleasedAt < 0 ? "null" : num(lastReleasedAt));
        if (recordHolds) {
            out.append(",\"holds\":[");
            for (int i = 0; i < holds.size(); i++) {
                double[] h = holds.get(i);
                out.append(i == 0 ? "" : ",").append('[').append(num(h[0])).append(',').append(num(h[1])).append(']');
            }
            out.append(']');
        }
        out.append('}');
        emit(out.toString());
        return violations > 0 ? 2 : 0;
    }

    private static int hold(CuratorFramework client, InterProcessMutex mutex, String lockPath) throws Exception {
        // stdin is read from the start: "release" or EOF ends the hold; either one while still
        // waiting means the driver gave up, so close the session (deleting our node) and exit 1.
        CountDownLatch releaseSignal = new CountDownLatch(1);
        AtomicBoolean acquired = new AtomicBoolean(false);
        Thread reader = new Thread(() -> {
            try {
                BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
                String line;
                while ((line = in.readLine()) != null) {
                    if (line.trim().equals("release")) {
                        break;
                    }
                }
            } catch (Throwable ignored) {
                // treat as EOF
            }
            synchronized (acquired) {
                releaseSignal.countDown();
                if (!acquired.get()) {
                    System.err.println("CuratorLockWorker: stdin closed before the lock was acquired, exiting");
                    try {
                        client.close();
                    } catch (Throwable ignored) {
                        // exiting anyway
                    }
                    System.err.flush();
                    Runtime.getRuntime().halt(1);
                }
            }
        }, "stdin-reader");
        reader.setDaemon(true);
        reader.start();

        mutex.acquire();
        synchronized (acquired) {
            acquired.set(true);
        }
        // InterProcessMutex has no public getter for its node: find the sequential child whose
        // ephemeral owner is our session.
        long sessionId = client.getZookeeperClient().getZooKeeper().getSessionId();
        String node = null;
        for (String child : client.getChildren().forPath(lockPath)) {
            if (!SEQUENTIAL.matcher(child).matches()) {
                continue;
            }
            String full = lockPath.endsWith("/") ? lockPath + child : lockPath + "/" + child;
            Stat stat = client.checkExists().forPath(full);
            if (stat != null && stat.getEphemeralOwner() == sessionId) {
                node = full;
                break;
            }
        }
        if (node == null) {
            System.err.println("acquired, but found no lock node owned by session 0x" + Long.toHexString(sessionId));
            mutex.release();
            return 1;
        }
        emit("{\"event\":\"acquired\",\"impl\":\"curator\",\"node\":" + jsonString(node) + "}");

        releaseSignal.await();
        mutex.release();
        emit("{\"event\":\"released\",\"impl\":\"curator\"}");
        return 0;
    }

    private static int bench(InterProcessMutex mutex, Map<String, String> opts) throws Exception {
        double seconds = doubleOpt(opts, "seconds", 5.0);
        long warmupEnd = System.nanoTime() + 1_000_000_000L;
        while (System.nanoTime() < warmupEnd) {
            mutex.acquire();
            mutex.release();
        }
        long start = System.nanoTime();
        long end = start + (long) (seconds * 1e9);
        long cycles = 0;
        long now = start;
        while (now < end) {
            mutex.acquire();
            mutex.release();
            cycles++;
            now = System.nanoTime();
        }
        double elapsed = (now - start) / 1e9;
        double cps = elapsed > 0 ? cycles / elapsed : 0;
        emit("{\"impl\":\"curator\",\"cycles\":" + cycles + ",\"seconds\":" + num(elapsed)
                + ",\"cyclesPerSecond\":" + num(cps) + "}");
        return 0;
    }

    private static int handoff(CuratorFramework first, String connectString, String lockPath, int sessionTimeoutMs,
            int connectTimeoutMs, Map<String, String> opts) throws Exception {
        int clients = intOpt(opts, "clients", 3);
        int warmup = intOpt(opts, "warmup", 0);
        int handoffs = intOpt(opts, "handoffs", 100);
        long holdMs = intOpt(opts, "holdMs", 1);
        int total = warmup + handoffs;
        List<CuratorFramework> all = new ArrayList<>();
        all.add(first);
        try {
            for (int i = 1; i < clients; i++) {
                CuratorFramework c = CuratorFrameworkFactory.builder()
                        .connectString(connectString)
                        .sessionTimeoutMs(sessionTimeoutMs)
                        .connectionTimeoutMs(Math.min(connectTimeoutMs, sessionTimeoutMs))
                        .retryPolicy(new ExponentialBackoffRetry(100, 3))
                        .build();
                c.start();
                all.add(c);
            }
            for (CuratorFramework c : all) {
                if (!c.blockUntilConnected(connectTimeoutMs, TimeUnit.MILLISECONDS)) {
                    System.err.println("could not connect to " + connectString);
                    return 1;
                }
            }
            java.util.concurrent.atomic.AtomicInteger acquisitions = new java.util.concurrent.atomic.AtomicInteger();
            double[][] records = new double[total][];
            CountDownLatch start = new CountDownLatch(1);
            List<Thread> threads = new ArrayList<>();
            java.util.concurrent.atomic.AtomicReference<Throwable> failure = new java.util.concurrent.atomic.AtomicReference<>();
            for (CuratorFramework c : all) {
                InterProcessMutex mutex = new InterProcessMutex(c, lockPath);
                Thread t = new Thread(() -> {
                    try {
                        start.await();
                        for (;;) {
                            mutex.acquire();
                            double acquiredAt = System.nanoTime() / 1e6;
                            int k = acquisitions.getAndIncrement();
                            if (k >= total) {
                                mutex.release();
                                return;
                            }
                            if (holdMs > 0) {
                                Thread.sleep(holdMs);
                            }
                            double releaseCalledAt = System.nanoTime() / 1e6;
                            mutex.release();
                            records[k] = new double[] {acquiredAt, releaseCalledAt, System.nanoTime() / 1e6};
                        }
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    }
                }, "handoff-" + threads.size());
                t.setDaemon(true);
                threads.add(t);
                t.start();
            }
            start.countDown();
            for (Thread t : threads) {
                t.join();
            }
            if (failure.get() != null) {
                throw new Exception("handoff client failed", failure.get());
            }
            StringBuilder out = new StringBuilder("{\"impl\":\"curator\",\"records\":[");
            for (int k = warmup; k < total; k++) {
                double[] r = records[k];
                out.append(k == warmup ? "" : ",").append('[').append(num(r[0])).append(',').append(num(r[1]))
                        .append(',').append(num(r[2])).append(']');
            }
            emit(out.append("]}").toString());
            return 0;
        } finally {
            for (int i = 1; i < all.size(); i++) {
                try {
                    all.get(i).close();
                } catch (Throwable ignored) {
                    // exiting anyway
                }
            }
        }
    }

    /** Daemon thread for loop/bench: a line "go" releases GO; EOF halts the JVM with code 1. */
    private static void startStdinControl() {
        Thread t = new Thread(() -> {
            try {
                BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
                String line;
                while ((line = in.readLine()) != null) {
                    if (line.trim().equals("go")) {
                        GO.countDown();
                    }
                }
            } catch (Throwable ignored) {
                // treat as EOF
            }
            System.err.println("CuratorLockWorker: stdin closed, exiting");
            System.err.flush();
            Runtime.getRuntime().halt(1);
        }, "stdin-control");
        t.setDaemon(true);
        t.start();
    }

    private static double nowMs() {
        Instant now = Instant.now();
        return now.getEpochSecond() * 1000.0 + now.getNano() / 1e6;
    }

    private static String num(double d) {
        if (Double.isNaN(d) || Double.isInfinite(d)) {
            return "null";
        }
        return String.format(java.util.Locale.ROOT, "%.3f", d);
    }

    private static void emit(String jsonLine) {
        synchronized (System.out) {
            System.out.println(jsonLine);
            System.out.flush();
        }
    }

    private static int intOpt(Map<String, String> opts, String key, int dflt) {
        String v = opts.get(key);
        return v == null ? dflt : Integer.parseInt(v);
    }

    private static double doubleOpt(Map<String, String> opts, String key, double dflt) {
        String v = opts.get(key);
        return v == null ? dflt : Double.parseDouble(v);
    }

    private static String jsonString(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"':
                    b.append("\\\"");
                    break;
                case '\\':
                    b.append("\\\\");
                    break;
                default:
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
            }
        }
        return b.append('"').toString();
    }
}
