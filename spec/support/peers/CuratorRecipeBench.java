/*
 * The bench modes of CuratorRecipeWorker (see its usage), for bench/figures/recipes.ts:
 *
 *   bench --seconds=S   uncontended cycles of one client for S seconds after a 1 s warm-up:
 *         rwlock --side=read|write: acquire + release of the read / write lock;
 *         semaphore --maxLeases=M (3): acquire a lease + return it;
 *         latch: new LeaderLatch, start, await leadership, close.
 *         Prints {"event":"timed"} when the timed part starts, then
 *         {"impl":"curator","recipe":..,"cycles":N,"seconds":S,"cyclesPerSecond":X}.
 *   throughput (semaphore) --contenders=C (8) --maxLeases=M (3) --seconds=S [--holdMs=H (0)]
 *         C contenders, each a thread with a CuratorFramework (a session) of its own, loop: acquire
 *         a lease, hold H ms, return it. 1 s warm-up, then leases acquired in S seconds. Prints
 *         {"impl":"curator","acquires":N,"seconds":S,"acquiresPerSecond":X,"peakHolders":P,
 *         "perContender":[...]} (peakHolders: most leases held at once in this process, whole run).
 *
 *   With --bursts=1 [--warmupMs=W (2000)] either mode warms up for W ms, prints {"event":"ready"}
 *   and then serves stdin commands, so a driver can interleave short bursts of several workers:
 *     "burst <id> <ms>"  run for ms: bench prints {"burst":id,"cycles":N,"ms":T}; throughput lets
 *                        the contenders run and prints {"burst":id,"acquires":N,"ms":T,
 *                        "perContender":[...]} once every contender is idle again;
 *     "done"             prints {"event":"done","peakHolders":P} and exits 0.
 */

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.locks.InterProcessReadWriteLock;
import org.apache.curator.framework.recipes.locks.InterProcessSemaphoreV2;
import org.apache.curator.framework.recipes.locks.Lease;

final class CuratorRecipeBench {
    private interface Cycle {
        void run() throws Exception;
    }

    /** Something a burst can run for a while: uncontended cycles, or the semaphore's contenders. */
    private interface Runner {
        /** Runs for ms; returns the JSON fields of the result, "ms" (the time it ran) included. */
        String runFor(long ms) throws Exception;
    }

    private CuratorRecipeBench() {}

    static int run(CuratorFramework client, String connectString, String path, String recipe, String mode,
            Map<String, String> opts) throws Exception {
        double seconds = CuratorRecipeWorker.doubleOpt(opts, "seconds", 5.0);
        boolean bursts = "1".equals(opts.get("bursts"));
        if (mode.equals("throughput")) {
            if (!recipe.equals("semaphore")) {
                throw new IllegalArgumentException("throughput is a semaphore mode");
            }
            Contenders contenders = new Contenders(client, connectString, path, opts);
            try {
                if (bursts) {
                    return serveBursts(contenders::runFor, opts, contenders.peak);
                }
                contenders.runFor(1000);
                long acquires = contenders.burst((long) (seconds * 1000));
                double elapsed = contenders.lastActiveMs / 1000;
                RecipeMarkers.emit("{\"impl\":\"curator\",\"recipe\":\"semaphore\",\"contenders\":"
                        + contenders.size() + ",\"maxLeases\":" + contenders.maxLeases + ",\"holdMs\":"
                        + contenders.holdMs + ",\"acquires\":" + acquires + ",\"seconds\":" + RecipeMarkers.num(elapsed)
                        + ",\"acquiresPerSecond\":" + RecipeMarkers.num(acquires / elapsed) + ",\"peakHolders\":"
                        + contenders.peak.get() + ",\"perContender\":[" + contenders.lastPerContender + "]}");
                return 0;
            } finally {
                contenders.close();
            }
        }
        String name = recipe.equals("rwlock") ? "rwlock-" + opts.get("side") : recipe;
        Cycle cycle = cycleOf(client, path, recipe, opts);
        if (bursts) {
            return serveBursts(ms -> {
                long start = System.nanoTime();
                long n = cycles(cycle, ms);
                return "\"ms\":" + RecipeMarkers.num((System.nanoTime() - start) / 1e6) + ",\"cycles\":" + n;
            }, opts, new AtomicInteger());
        }
        cycles(cycle, 1000);
        RecipeMarkers.emit("{\"event\":\"timed\"}");
        long start = System.nanoTime();
        long n = cycles(cycle, (long) (seconds * 1000));
        double elapsed = (System.nanoTime() - start) / 1e9;
        RecipeMarkers.emit("{\"impl\":\"curator\",\"recipe\":\"" + name + "\",\"cycles\":" + n + ",\"seconds\":"
                + RecipeMarkers.num(elapsed) + ",\"cyclesPerSecond\":"
                + RecipeMarkers.num(elapsed > 0 ? n / elapsed : 0) + "}");
        return 0;
    }

    private static Cycle cycleOf(CuratorFramework client, String path, String recipe, Map<String, String> opts)
            throws Exception {
        String id = opts.getOrDefault("id", "curator-" + CuratorRecipeWorker.PID);
        byte[] data = id.getBytes(StandardCharsets.UTF_8);
        if (recipe.equals("rwlock")) {
            String side = opts.get("side");
            if (!"read".equals(side) && !"write".equals(side)) {
                throw new IllegalArgumentException("rwlock bench needs --side=read|write");
            }
            InterProcessReadWriteLock rw = new InterProcessReadWriteLock(client, path, data);
            InterProcessMutex lock = side.equals("write") ? rw.writeLock() : rw.readLock();
            return () -> {
                lock.acquire();
                lock.release();
            };
        }
        if (recipe.equals("semaphore")) {
            InterProcessSemaphoreV2 semaphore = new InterProcessSemaphoreV2(client, path,
                    CuratorRecipeWorker.intOpt(opts, "maxLeases", 3));
            semaphore.setNodeData(data);
            return () -> semaphore.returnLease(semaphore.acquire());
        }
        return () -> {
            LeaderLatch latch = new LeaderLatch(client, path, id);
            latch.start();
            latch.await();
            latch.close();
        };
    }

    /** Runs cycles for at least ms (one at least); returns how many. */
    private static long cycles(Cycle cycle, long ms) throws Exception {
        long end = System.nanoTime() + ms * 1_000_000L;
        long n = 0;
        do {
            cycle.run();
            n++;
        } while (System.nanoTime() < end);
        return n;
    }

    private static int serveBursts(Runner runner, Map<String, String> opts, AtomicInteger peak) throws Exception {
        runner.runFor(CuratorRecipeWorker.intOpt(opts, "warmupMs", 2000));
        RecipeMarkers.emit("{\"event\":\"ready\",\"impl\":\"curator\"}");
        for (;;) {
            String[] command = CuratorRecipeWorker.COMMANDS.take().split("\\s+");
            if (command[0].equals("done")) {
                RecipeMarkers.emit("{\"event\":\"done\",\"peakHolders\":" + peak.get() + "}");
                return 0;
            }
            if (!command[0].equals("burst") || command.length != 3) {
                throw new IllegalArgumentException("bad command: " + String.join(" ", command));
            }
            String fields = runner.runFor(Long.parseLong(command[2]));
            RecipeMarkers.emit("{\"burst\":" + RecipeMarkers.jsonString(command[1]) + "," + fields + "}");
        }
    }

    /** The throughput mode's contenders: a thread and a session each, running only while active. */
    private static final class Contenders {
        final int maxLeases;
        final long holdMs;
        final AtomicInteger peak = new AtomicInteger();
        String lastPerContender = "";
        /** How long the last burst let the contenders start acquires. */
        double lastActiveMs;
        private final List<CuratorFramework> clients = new ArrayList<>();
        private final List<Thread> threads = new ArrayList<>();
        private final AtomicLongArray counts;
        private final AtomicInteger holders = new AtomicInteger();
        private final AtomicInteger inFlight = new AtomicInteger();
        private final AtomicReference<Throwable> failure = new AtomicReference<>();
        private volatile boolean active;
        private volatile boolean stop;

        Contenders(CuratorFramework first, String connectString, String path, Map<String, String> opts)
                throws Exception {
            int contenders = CuratorRecipeWorker.intOpt(opts, "contenders", 8);
            maxLeases = CuratorRecipeWorker.intOpt(opts, "maxLeases", 3);
            holdMs = CuratorRecipeWorker.intOpt(opts, "holdMs", 0);
            counts = new AtomicLongArray(contenders);
            clients.add(first);
            for (int i = 1; i < contenders; i++) {
                clients.add(CuratorRecipeWorker.newClient(connectString, opts));
            }
            for (int i = 0; i < contenders; i++) {
                int index = i;
                InterProcessSemaphoreV2 semaphore = new InterProcessSemaphoreV2(clients.get(i), path, maxLeases);
                semaphore.setNodeData(("curator-" + CuratorRecipeWorker.PID + "-" + i).getBytes(StandardCharsets.UTF_8));
                Thread t = new Thread(() -> contend(semaphore, index), "contender-" + i);
                t.setDaemon(true);
                threads.add(t);
                t.start();
            }
        }

        int size() {
            return counts.length();
        }

        private void contend(InterProcessSemaphoreV2 semaphore, int index) {
            try {
                while (!stop) {
                    if (!active) {
                        Thread.sleep(1);
                        continue;
                    }
                    inFlight.incrementAndGet();
                    try {
                        Lease lease = semaphore.acquire(200, TimeUnit.MILLISECONDS);
                        if (lease != null) {
                            peak.accumulateAndGet(holders.incrementAndGet(), Math::max);
                            CuratorRecipeWorker.sleep(holdMs);
                            holders.decrementAndGet();
                            semaphore.returnLease(lease);
                            counts.incrementAndGet(index);
                        }
                    } finally {
                        inFlight.decrementAndGet();
                    }
                }
            } catch (Throwable e) {
                failure.compareAndSet(null, e);
            }
        }

        /** Lets the contenders run for ms, then waits until all are idle; returns leases acquired meanwhile. */
        long burst(long ms) throws Exception {
            long[] before = snapshot();
            long start = System.nanoTime();
            active = true;
            Thread.sleep(ms);
            active = false;
            long[] after = snapshot();
            lastActiveMs = (System.nanoTime() - start) / 1e6;
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (inFlight.get() > 0 && System.nanoTime() < deadline) {
                Thread.sleep(1);
            }
            if (failure.get() != null) {
                throw new Exception("contender failed", failure.get());
            }
            long total = 0;
            StringBuilder per = new StringBuilder();
            for (int i = 0; i < after.length; i++) {
                total += after[i] - before[i];
                per.append(i == 0 ? "" : ",").append(after[i] - before[i]);
            }
            lastPerContender = per.toString();
            return total;
        }

        String runFor(long ms) throws Exception {
            long acquires = burst(ms);
            return "\"ms\":" + RecipeMarkers.num(lastActiveMs) + ",\"acquires\":" + acquires + ",\"perContender\":["
                    + lastPerContender + "]";
        }

        private long[] snapshot() {
            long[] out = new long[counts.length()];
            for (int i = 0; i < out.length; i++) {
                out[i] = counts.get(i);
            }
            return out;
        }

        void close() throws InterruptedException {
            stop = true;
            for (Thread t : threads) {
                t.join(10_000);
            }
            for (int i = 1; i < clients.size(); i++) {
                try {
                    clients.get(i).close();
                } catch (Throwable ignored) {
                    // exiting anyway
                }
            }
        }
    }
}
