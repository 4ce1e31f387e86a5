/*
 * The bench modes of CuratorRecipeWorker (see its usage), for bench/figures/recipes.ts:
 *
 *   bench --seconds=S   uncontended cycles for S seconds after a 1 s warm-up, one client:
 *         rwlock --side=read|write: acquire + release of the read / write lock;
 *         semaphore --maxLeases=M (3): acquire a lease + return it;
 *         latch: new LeaderLatch, start, await leadership, close.
 *         Prints {"event":"timed"} when the timed part starts, then {"impl":"curator","recipe":..,"cycles":N,"seconds":S,"cyclesPerSecond":X}.
 *   throughput (semaphore) --contenders=C (8) --maxLeases=M (3) --seconds=S [--holdMs=H (0)]
 *         C contenders, each a thread with a CuratorFramework (a session) of its own, loop: acquire
 *         a lease, hold H ms, return it. 1 s warm-up, then leases acquired in S seconds. Prints
 *         {"impl":"curator","acquires":N,"seconds":S,"acquiresPerSecond":X,"peakHolders":P,
 *         "perContender":[...]} (peakHolders: most leases held at once in this process, whole run).
 */

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
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

    private CuratorRecipeBench() {}

    static int run(CuratorFramework client, String connectString, String path, String recipe, String mode,
            Map<String, String> opts) throws Exception {
        double seconds = CuratorRecipeWorker.doubleOpt(opts, "seconds", 5.0);
        String id = opts.getOrDefault("id", "curator-" + CuratorRecipeWorker.PID);
        byte[] data = id.getBytes(StandardCharsets.UTF_8);
        if (mode.equals("throughput")) {
            if (!recipe.equals("semaphore")) {
                throw new IllegalArgumentException("throughput is a semaphore mode");
            }
            return throughput(client, connectString, path, seconds, opts);
        }
        Cycle cycle;
        String name = recipe;
        if (recipe.equals("rwlock")) {
            String side = opts.get("side");
            if (!"read".equals(side) && !"write".equals(side)) {
                throw new IllegalArgumentException("rwlock bench needs --side=read|write");
            }
            InterProcessReadWriteLock rw = new InterProcessReadWriteLock(client, path, data);
            InterProcessMutex lock = side.equals("write") ? rw.writeLock() : rw.readLock();
            name = "rwlock-" + side;
            cycle = () -> {
                lock.acquire();
                lock.release();
            };
        } else if (recipe.equals("semaphore")) {
            InterProcessSemaphoreV2 semaphore = new InterProcessSemaphoreV2(client, path,
                    CuratorRecipeWorker.intOpt(opts, "maxLeases", 3));
            semaphore.setNodeData(data);
            cycle = () -> semaphore.returnLease(semaphore.acquire());
        } else {
            cycle = () -> {
                LeaderLatch latch = new LeaderLatch(client, path, id);
                latch.start();
                latch.await();
                latch.close();
            };
        }
        long warmupEnd = System.nanoTime() + 1_000_000_000L;
        while (System.nanoTime() < warmupEnd) {
            cycle.run();
        }
        RecipeMarkers.emit("{\"event\":\"timed\"}");
        long start = System.nanoTime();
        long end = start + (long) (seconds * 1e9);
        long cycles = 0;
        long now = start;
        while (now < end) {
            cycle.run();
            cycles++;
            now = System.nanoTime();
        }
        double elapsed = (now - start) / 1e9;
        RecipeMarkers.emit("{\"impl\":\"curator\",\"recipe\":\"" + name + "\",\"cycles\":" + cycles + ",\"seconds\":"
                + RecipeMarkers.num(elapsed) + ",\"cyclesPerSecond\":"
                + RecipeMarkers.num(elapsed > 0 ? cycles / elapsed : 0) + "}");
        return 0;
    }

    private static int throughput(CuratorFramework first, String connectString, String path, double seconds,
            Map<String, String> opts) throws Exception {
        int contenders = CuratorRecipeWorker.intOpt(opts, "contenders", 8);
        int maxLeases = CuratorRecipeWorker.intOpt(opts, "maxLeases", 3);
        long holdMs = CuratorRecipeWorker.intOpt(opts, "holdMs", 0);
        List<CuratorFramework> clients = new ArrayList<>();
        clients.add(first);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger holders = new AtomicInteger();
        AtomicInteger peak = new AtomicInteger();
        AtomicLongArray counts = new AtomicLongArray(contenders);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<Thread> threads = new ArrayList<>();
        try {
            for (int i = 1; i < contenders; i++) {
                clients.add(CuratorRecipeWorker.newClient(connectString, opts));
            }
            for (int i = 0; i < contenders; i++) {
                int index = i;
                InterProcessSemaphoreV2 semaphore = new InterProcessSemaphoreV2(clients.get(i), path, maxLeases);
                semaphore.setNodeData(("curator-" + CuratorRecipeWorker.PID + "-" + i).getBytes(StandardCharsets.UTF_8));
                Thread t = new Thread(() -> {
                    try {
                        while (!stop.get()) {
                            Lease lease = semaphore.acquire(200, TimeUnit.MILLISECONDS);
                            if (lease == null) {
                                continue;
                            }
                            peak.accumulateAndGet(holders.incrementAndGet(), Math::max);
                            CuratorRecipeWorker.sleep(holdMs);
                            holders.decrementAndGet();
                            semaphore.returnLease(lease);
                            counts.incrementAndGet(index);
                        }
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    }
                }, "contender-" + i);
                t.setDaemon(true);
                threads.add(t);
            }
            for (Thread t : threads) {
                t.start();
            }
            Thread.sleep(1000);
            long[] before = snapshot(counts);
            long start = System.nanoTime();
            Thread.sleep((long) (seconds * 1000));
            long[] after = snapshot(counts);
            double elapsed = (System.nanoTime() - start) / 1e9;
            stop.set(true);
            for (Thread t : threads) {
                t.join(10_000);
            }
            if (failure.get() != null) {
                throw new Exception("contender failed", failure.get());
            }
            long total = 0;
            StringBuilder per = new StringBuilder();
            for (int i = 0; i < contenders; i++) {
                long n = after[i] - before[i];
                total += n;
                per.append(i == 0 ? "" : ",").append(n);
            }
            RecipeMarkers.emit("{\"impl\":\"curator\",\"recipe\":\"semaphore\",\"contenders\":" + contenders
                    + ",\"maxLeases\":" + maxLeases + ",\"holdMs\":" + holdMs + ",\"acquires\":" + total
                    + ",\"seconds\":" + RecipeMarkers.num(elapsed) + ",\"acquiresPerSecond\":"
                    + RecipeMarkers.num(total / elapsed) + ",\"peakHolders\":" + peak.get() + ",\"perContender\":["
                    + per + "]}");
            return 0;
        } finally {
            for (int i = 1; i < clients.size(); i++) {
                try {
                    clients.get(i).close();
                } catch (Throwable ignored) {
                    // exiting anyway
                }
            }
        }
    }

    private static long[] snapshot(AtomicLongArray counts) {
        long[] out = new long[counts.length()];
        for (int i = 0; i < out.length; i++) {
            out[i] = counts.get(i);
        }
        return out;
    }
}
