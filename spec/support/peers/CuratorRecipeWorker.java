/*
 * Peer worker: real Apache Curator 5.4 recipes (InterProcessReadWriteLock, InterProcessSemaphoreV2,
 * LeaderLatch), driven by spec/support/peers/recipes.ts for the recipe interop tests and bench/.
 * Compiled at run time with RecipeMarkers.java and CuratorRecipeBench.java against the Debian jars;
 * never commit .class files.
 *
 * Usage: CuratorRecipeWorker <connectString> <path> <rwlock|semaphore|latch> <mode> [--key=value ...]
 *
 * Modes (markers: the file-marker protocol of RecipeMarkers.java, in --dir):
 *   loop  --iterations=N --dir=DIR [--holdMs=H (10)] [--acquireTimeoutMs=T (60000)]
 *         rwlock [--writeRatio=R (0.3)] [--seed=S]: N times: a write with probability R, else a read;
 *           acquire, markers, hold H ms, markers off, release.
 *         semaphore --maxLeases=M: N times: acquire a lease, markers, hold H ms, markers off, return it.
 *         latch: N times: start a new LeaderLatch, await leadership, markers, lead H ms, markers off,
 *           close it (a closed Curator latch cannot start again).
 *         Prints {"impl":"curator","recipe":..,"iterations":N,"reads":..,"writes":..,"violations":V,
 *         "peakReaders":..,"readsBesideOthers":..,"peakHolders":..,"lostLeadership":..}; exit 0, or 2 on
 *         violations. readsBesideOthers: reads that saw an R-* file of a non-Curator reader (tag not c...).
 *   hold  [--dir=DIR] rwlock --side=read|write | semaphore --maxLeases=M | latch
 *         rwlock/semaphore: acquire, print {"event":"acquired","at":EPOCH_MS,"node":FULL_PATH,"violation":B}, hold
 *         until stdin closes or a line "release" arrives, release, print {"event":"released"}, exit 0.
 *         stdin closing before the acquire: close the session, exit 1.
 *         latch: start, print {"event":"started","node":..}, then {"event":"isLeader","at":EPOCH_MS} /
 *         {"event":"notLeader"} as it changes (markers while leading); "release" or EOF: close the
 *         latch, print {"event":"closed"}, exit 0.
 *   bench, throughput: see CuratorRecipeBench.java.
 *
 * Common options: --id=ID (node data; default curator-<pid>) --sessionTimeoutMs=MS (10000)
 *   --connectTimeoutMs=MS (15000) --watchStdin=1 (loop/bench: exit 1 on stdin EOF)
 *   --waitForGo=1 (loop/bench: print {"event":"ready"} once connected, start on a line "go").
 *   Other stdin lines of loop/bench/throughput go to COMMANDS (CuratorRecipeBench's burst commands).
 * stdout carries JSON lines only (slf4j-nop); diagnostics go to stderr. Exit 1 on errors.
 */

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderLatchListener;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.locks.InterProcessReadWriteLock;
import org.apache.curator.framework.recipes.locks.InterProcessSemaphoreV2;
import org.apache.curator.framework.recipes.locks.Lease;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.zookeeper.data.Stat;

public final class CuratorRecipeWorker {
    static final long PID = ProcessHandle.current().pid();
    static final CountDownLatch GO = new CountDownLatch(1);
    /** Other stdin lines of loop/bench/throughput modes (the bench modes' burst commands). */
    static final BlockingQueue<String> COMMANDS = new LinkedBlockingQueue<>();
    private static final CountDownLatch RELEASE = new CountDownLatch(1);
    /** Hold mode: set once acquired; stdin closing before that closes the session and exits 1. */
    private static volatile boolean holding;
    private static volatile CuratorFramework mainClient;

    private CuratorRecipeWorker() {}

    public static void main(String[] args) {
        int code;
        try {
            code = run(args);
        } catch (Throwable t) {
            System.err.println("CuratorRecipeWorker error: " + t);
            t.printStackTrace(System.err);
            code = 1;
        }
        System.out.flush();
        System.err.flush();
        Runtime.getRuntime().halt(code); // Curator/ZooKeeper threads must not keep the JVM alive
    }

    private static int run(String[] args) throws Exception {
        if (args.length < 4) {
            System.err.println("usage: CuratorRecipeWorker <connectString> <path> <rwlock|semaphore|latch> "
                    + "<loop|hold|bench|throughput> [--key=value ...]");
            return 1;
        }
        String connectString = args[0];
        String path = args[1];
        String recipe = args[2];
        String mode = args[3];
        if (!recipe.matches("rwlock|semaphore|latch") || !mode.matches("loop|hold|bench|throughput")) {
            System.err.println("unknown recipe or mode: " + recipe + " " + mode);
            return 1;
        }
        Map<String, String> opts = new HashMap<>();
        for (int i = 4; i < args.length; i++) {
            String a = args[i];
            int eq = a.indexOf('=');
            if (!a.startsWith("--") || eq < 0) {
                System.err.println("bad option: " + a);
                return 1;
            }
            opts.put(a.substring(2, eq), a.substring(eq + 1));
        }
        boolean hold = mode.equals("hold");
        boolean waitForGo = !hold && "1".equals(opts.get("waitForGo"));
        if (hold || waitForGo || "1".equals(opts.get("watchStdin"))) {
            startStdinControl(hold);
        }
        CuratorFramework client = newClient(connectString, opts);
        mainClient = client;
        try {
            if (hold) {
                return hold(client, path, recipe, opts);
            }
            if (waitForGo) {
                RecipeMarkers.emit("{\"event\":\"ready\",\"impl\":\"curator\"}");
                GO.await();
            }
            if (mode.equals("loop")) {
                return loop(client, path, recipe, opts);
            }
            return CuratorRecipeBench.run(client, connectString, path, recipe, mode, opts);
        } finally {
            try {
                client.close();
            } catch (Throwable ignored) {
                // exiting anyway
            }
        }
    }

    /** A started, connected client (one session). */
    static CuratorFramework newClient(String connectString, Map<String, String> opts) throws Exception {
        int sessionTimeoutMs = intOpt(opts, "sessionTimeoutMs", 10000);
        int connectTimeoutMs = intOpt(opts, "connectTimeoutMs", 15000);
        CuratorFramework client = CuratorFrameworkFactory.builder()
                .connectString(connectString)
                .sessionTimeoutMs(sessionTimeoutMs)
                .connectionTimeoutMs(Math.min(connectTimeoutMs, sessionTimeoutMs))
                .retryPolicy(new ExponentialBackoffRetry(100, 3))
                .build();
        client.start();
        if (!client.blockUntilConnected(connectTimeoutMs, TimeUnit.MILLISECONDS)) {
            client.close();
            throw new Exception("could not connect to " + connectString + " within " + connectTimeoutMs + " ms");
        }
        return client;
    }

    private static int loop(CuratorFramework client, String path, String recipe, Map<String, String> opts)
            throws Exception {
        int iterations = intOpt(opts, "iterations", -1);
        String dir = opts.get("dir");
        if (iterations < 0 || dir == null) {
            throw new IllegalArgumentException("loop needs --iterations=N and --dir=DIR");
        }
        long holdMs = intOpt(opts, "holdMs", 10);
        long timeoutMs = intOpt(opts, "acquireTimeoutMs", 60000);
        int maxLeases = intOpt(opts, "maxLeases", 1);
        double writeRatio = doubleOpt(opts, "writeRatio", 0.3);
        Random random = new Random(opts.containsKey("seed") ? Long.parseLong(opts.get("seed")) : PID);
        String id = opts.getOrDefault("id", "curator-" + PID);
        RecipeMarkers markers = new RecipeMarkers(dir, "c" + PID);
        InterProcessReadWriteLock rw = new InterProcessReadWriteLock(client, path, id.getBytes(StandardCharsets.UTF_8));
        InterProcessSemaphoreV2 semaphore = new InterProcessSemaphoreV2(client, path, maxLeases);
        semaphore.setNodeData(id.getBytes(StandardCharsets.UTF_8));
        int reads = 0;
        int writes = 0;
        int lostLeadership = 0;
        for (int i = 0; i < iterations; i++) {
            if (recipe.equals("rwlock")) {
                boolean write = random.nextDouble() < writeRatio;
                InterProcessMutex lock = write ? rw.writeLock() : rw.readLock();
                if (!lock.acquire(timeoutMs, TimeUnit.MILLISECONDS)) {
                    throw new Exception((write ? "write" : "read") + " lock not acquired within " + timeoutMs + " ms");
                }
                try {
                    RecipeMarkers.Held held = write ? markers.enterWrite() : markers.enterRead();
                    sleep(holdMs);
                    held.release();
                } finally {
                    lock.release();
                }
                if (write) {
                    writes++;
                } else {
                    reads++;
                }
            } else if (recipe.equals("semaphore")) {
                Lease lease = semaphore.acquire(timeoutMs, TimeUnit.MILLISECONDS);
                if (lease == null) {
                    throw new Exception("no lease within " + timeoutMs + " ms");
                }
                try {
                    RecipeMarkers.Held held = markers.enterSemaphore(maxLeases);
                    sleep(holdMs);
                    held.release();
                } finally {
                    semaphore.returnLease(lease);
                }
            } else {
                LeaderLatch latch = new LeaderLatch(client, path, id);
                latch.start();
                try {
                    if (!latch.await(timeoutMs, TimeUnit.MILLISECONDS)) {
                        throw new Exception("no leadership within " + timeoutMs + " ms");
                    }
                    RecipeMarkers.Held held = markers.enterLatch("curator");
                    sleep(holdMs);
                    if (!latch.hasLeadership()) {
                        lostLeadership++;
                    }
                    held.release();
                } finally {
                    latch.close();
                }
            }
        }
        int violations = markers.violations.get();
        RecipeMarkers.emit("{\"impl\":\"curator\",\"recipe\":\"" + recipe + "\",\"iterations\":" + iterations
                + ",\"reads\":" + reads + ",\"writes\":" + writes + ",\"violations\":" + violations
                + ",\"peakReaders\":" + markers.peakReaders.get() + ",\"readsBesideOthers\":"
                + markers.readsBesideOthers.get() + ",\"peakHolders\":" + markers.peakHolders.get()
                + ",\"lostLeadership\":" + lostLeadership + "}");
        return violations > 0 ? 2 : 0;
    }

    private static int hold(CuratorFramework client, String path, String recipe, Map<String, String> opts)
            throws Exception {
        String id = opts.getOrDefault("id", "curator-" + PID);
        byte[] data = id.getBytes(StandardCharsets.UTF_8);
        String dir = opts.get("dir");
        RecipeMarkers markers = dir == null ? null : new RecipeMarkers(dir, "c" + PID);
        if (recipe.equals("latch")) {
            return holdLatch(client, path, id, markers);
        }
        String node;
        String acquiredAt;
        RecipeMarkers.Held held = null;
        Runnable release;
        if (recipe.equals("rwlock")) {
            boolean write = "write".equals(opts.get("side"));
            if (!write && !"read".equals(opts.get("side"))) {
                throw new IllegalArgumentException("rwlock hold needs --side=read|write");
            }
            InterProcessReadWriteLock rw = new InterProcessReadWriteLock(client, path, data);
            InterProcessMutex lock = write ? rw.writeLock() : rw.readLock();
            lock.acquire();
            acquiredAt = RecipeMarkers.epochMs();
            holding = true;
            node = ownNode(client, path, write ? "__WRIT__" : "__READ__");
            if (markers != null) {
                held = write ? markers.enterWrite() : markers.enterRead();
            }
            release = () -> {
                try {
                    lock.release();
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            };
        } else {
            int maxLeases = intOpt(opts, "maxLeases", 1);
            InterProcessSemaphoreV2 semaphore = new InterProcessSemaphoreV2(client, path, maxLeases);
            semaphore.setNodeData(data);
            Lease lease = semaphore.acquire();
            acquiredAt = RecipeMarkers.epochMs();
            holding = true;
            node = path + "/leases/" + lease.getNodeName();
            if (markers != null) {
                held = markers.enterSemaphore(maxLeases);
            }
            release = () -> semaphore.returnLease(lease);
        }
        RecipeMarkers.emit("{\"event\":\"acquired\",\"impl\":\"curator\",\"at\":" + acquiredAt + ",\"node\":"
                + RecipeMarkers.jsonString(node)
                + ",\"violation\":" + (held != null && held.violation) + "}");
        RELEASE.await();
        if (held != null) {
            held.release();
        }
        release.run();
        RecipeMarkers.emit("{\"event\":\"released\",\"impl\":\"curator\"}");
        return 0;
    }

    private static int holdLatch(CuratorFramework client, String path, String id, RecipeMarkers markers)
            throws Exception {
        LeaderLatch latch = new LeaderLatch(client, path, id);
        Object lock = new Object();
        RecipeMarkers.Held[] held = new RecipeMarkers.Held[1];
        latch.addListener(new LeaderLatchListener() {
            @Override
            public void isLeader() {
                synchronized (lock) {
                    String at = RecipeMarkers.epochMs();
                    boolean violation = false;
                    if (markers != null) {
                        try {
                            held[0] = markers.enterLatch("curator");
                            violation = held[0].violation;
                        } catch (Exception e) {
                            e.printStackTrace(System.err);
                        }
                    }
                    RecipeMarkers.emit("{\"event\":\"isLeader\",\"impl\":\"curator\",\"at\":" + at
                            + ",\"violation\":" + violation + "}");
                }
            }

            @Override
            public void notLeader() {
                synchronized (lock) {
                    releaseQuietly(held);
                    RecipeMarkers.emit("{\"event\":\"notLeader\",\"impl\":\"curator\"}");
                }
            }
        });
        latch.start();
        holding = true;
        String node = null;
        for (int i = 0; i < 500 && node == null; i++) {
            node = latch.getOurPath();
            if (node == null) {
                Thread.sleep(10);
            }
        }
        RecipeMarkers.emit("{\"event\":\"started\",\"impl\":\"curator\",\"node\":"
                + (node == null ? "null" : RecipeMarkers.jsonString(node)) + "}");
        RELEASE.await();
        synchronized (lock) {
            releaseQuietly(held);
            latch.close();
        }
        RecipeMarkers.emit("{\"event\":\"closed\",\"impl\":\"curator\"}");
        return 0;
    }

    private static void releaseQuietly(RecipeMarkers.Held[] held) {
        if (held[0] == null) {
            return;
        }
        try {
            held[0].release();
        } catch (Exception e) {
            e.printStackTrace(System.err);
        }
        held[0] = null;
    }

    /** Our lock node (Curator exposes none): the child with the suffix whose ephemeral owner is our session. */
    private static String ownNode(CuratorFramework client, String path, String suffix) throws Exception {
        long sessionId = client.getZookeeperClient().getZooKeeper().getSessionId();
        for (String child : client.getChildren().forPath(path)) {
            if (!child.matches(".*" + suffix + "\\d{10}$")) {
                continue;
            }
            String full = path.endsWith("/") ? path + child : path + "/" + child;
            Stat stat = client.checkExists().forPath(full);
            if (stat != null && stat.getEphemeralOwner() == sessionId) {
                return full;
            }
        }
        throw new Exception("acquired, but found no " + suffix + " node of session 0x" + Long.toHexString(sessionId));
    }

    /** go releases GO; "release" or EOF releases RELEASE in hold mode (before holding: exit 1); EOF exits otherwise. */
    private static void startStdinControl(boolean hold) {
        Thread t = new Thread(() -> {
            try {
                BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
                String line;
                while ((line = in.readLine()) != null) {
                    String command = line.trim();
                    if (command.equals("go")) {
                        GO.countDown();
                    } else if (hold && command.equals("release")) {
                        break;
                    } else if (!hold && !command.isEmpty()) {
                        COMMANDS.offer(command);
                    }
                }
            } catch (Throwable ignored) {
                // treat as EOF
            }
            if (hold && holding) {
                RELEASE.countDown();
                return;
            }
            System.err.println("CuratorRecipeWorker: stdin closed" + (hold ? " before acquiring" : "") + ", exiting");
            try {
                if (mainClient != null) {
                    mainClient.close(); // our nodes go at once
                }
            } catch (Throwable ignored) {
                // exiting anyway
            }
            System.err.flush();
            Runtime.getRuntime().halt(1);
        }, "stdin-control");
        t.setDaemon(true);
        t.start();
    }

    static void sleep(long ms) throws InterruptedException {
        if (ms > 0) {
            Thread.sleep(ms);
        }
    }

    static int intOpt(Map<String, String> opts, String key, int dflt) {
        String v = opts.get(key);
        return v == null ? dflt : Integer.parseInt(v);
    }

    static double doubleOpt(Map<String, String> opts, String key, double dflt) {
        String v = opts.get(key);
        return v == null ? dflt : Double.parseDouble(v);
    }
}
