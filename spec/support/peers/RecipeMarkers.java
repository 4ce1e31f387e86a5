/*
 * The file-marker protocol of the recipe interop tests, Java side (the Node side is
 * spec/support/recipe-markers.ts: same names, same checks, so both count violations together).
 * Clock-free: every holder leaves a file in one shared directory while it holds, and looks for
 * the files of holders that must not exist at the same time.
 *
 *   writer      after acquiring: create <dir>/W exclusively (already there = violation), then list
 *               <dir>: any R-* = violation. Deletes W (if it created it) before releasing.
 *   reader      after acquiring: create <dir>/R-<tag>-<n>, then <dir>/W exists = violation; the
 *               number of R-* files is the readers seen at once (peak). Deletes its file before releasing.
 *   semaphore   after acquiring: create <dir>/S-<tag>-<n>, count S-* (> maxLeases = violation; peak).
 *               Deletes its file before returning the lease.
 *   latch       on leadership: create <dir>/L exclusively (already there = violation) and append
 *               "<impl> <tag> <n>" to <dir>/leaders.log (the order in which leaders took over).
 *               Deletes L before giving leadership up.
 *
 * A violation counts once per hold (each hold prints {"event":"violation",...} with the details).
 * Also the JSON output helpers of the recipe workers.
 */

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

final class RecipeMarkers {
    static final String WRITER = "W";
    static final String LEADER = "L";
    static final String LEADERS_LOG = "leaders.log";

    private final Path dir;
    private final String tag;
    private final AtomicInteger seq = new AtomicInteger();
    final AtomicInteger violations = new AtomicInteger();
    final AtomicInteger peakReaders = new AtomicInteger();
    final AtomicInteger peakHolders = new AtomicInteger();
    /** Reads that saw the R-* file of a reader of another implementation (tags not starting with "c"). */
    final AtomicInteger readsBesideOthers = new AtomicInteger();

    /** A marker held by one hold; release() deletes what this hold created. */
    static final class Held {
        final Path created;
        final boolean violation;

        Held(Path created, boolean violation) {
            this.created = created;
            this.violation = violation;
        }

        void release() throws IOException {
            if (created != null) {
                Files.deleteIfExists(created);
            }
        }
    }

    RecipeMarkers(String dir, String tag) {
        this.dir = Paths.get(dir);
        this.tag = tag;
    }

    Held enterWrite() throws IOException {
        Path w = dir.resolve(WRITER);
        List<String> problems = new ArrayList<>();
        Path created = null;
        try {
            Files.createFile(w);
            created = w;
        } catch (FileAlreadyExistsException e) {
            problems.add("writer found W");
        }
        List<String> readers = list("R-");
        if (!readers.isEmpty()) {
            problems.add("writer found readers " + readers);
        }
        return new Held(created, report("write", problems));
    }

    Held enterRead() throws IOException {
        Path r = dir.resolve("R-" + tag + "-" + seq.incrementAndGet());
        Files.createFile(r);
        List<String> problems = new ArrayList<>();
        if (Files.exists(dir.resolve(WRITER))) {
            problems.add("reader found W");
        }
        List<String> readers = list("R-");
        peakReaders.accumulateAndGet(readers.size(), Math::max);
        if (readers.stream().anyMatch(name -> !name.startsWith("R-c"))) {
            readsBesideOthers.incrementAndGet();
        }
        return new Held(r, report("read", problems));
    }

    Held enterSemaphore(int maxLeases) throws IOException {
        Path s = dir.resolve("S-" + tag + "-" + seq.incrementAndGet());
        Files.createFile(s);
        List<String> holders = list("S-");
        peakHolders.accumulateAndGet(holders.size(), Math::max);
        List<String> problems = new ArrayList<>();
        if (holders.size() > maxLeases) {
            problems.add(holders.size() + " holders > maxLeases " + maxLeases + ": " + holders);
        }
        return new Held(s, report("semaphore", problems));
    }

    Held enterLatch(String impl) throws IOException {
        Path l = dir.resolve(LEADER);
        List<String> problems = new ArrayList<>();
        Path created = null;
        try {
            Files.createFile(l);
            created = l;
        } catch (FileAlreadyExistsException e) {
            problems.add("leader found L");
        }
        String line = impl + " " + tag + " " + seq.incrementAndGet() + "\n";
        Files.write(dir.resolve(LEADERS_LOG), line.getBytes(StandardCharsets.UTF_8), StandardOpenOption.CREATE,
                StandardOpenOption.APPEND, StandardOpenOption.WRITE);
        return new Held(created, report("latch", problems));
    }

    private List<String> list(String prefix) throws IOException {
        List<String> names = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir, prefix + "*")) {
            for (Path entry : entries) {
                names.add(entry.getFileName().toString());
            }
        }
        return names;
    }

    private boolean report(String role, List<String> problems) {
        if (problems.isEmpty()) {
            return false;
        }
        violations.incrementAndGet();
        emit("{\"event\":\"violation\",\"impl\":\"curator\",\"role\":\"" + role + "\",\"detail\":"
                + jsonString(String.join("; ", problems)) + "}");
        return true;
    }

    // -------------------------------------------------------------------------------------------
    // JSON output

    static void emit(String jsonLine) {
        synchronized (System.out) {
            System.out.println(jsonLine);
            System.out.flush();
        }
    }

    /** Now as epoch ms (fractional, the clock Date.now() reads), for comparing with the driver's times. */
    static String epochMs() {
        java.time.Instant now = java.time.Instant.now();
        return num(now.getEpochSecond() * 1000.0 + now.getNano() / 1e6);
    }

    static String num(double d) {
        if (Double.isNaN(d) || Double.isInfinite(d)) {
            return "null";
        }
        return String.format(java.util.Locale.ROOT, "%.3f", d);
    }

    static String jsonString(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.append('"').toString();
    }
}
