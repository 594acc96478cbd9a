/*
 * Soak check: many whole `lady resync` runs of a small model in one JVM, the process's resident memory
 * (VmRSS) sampled along the way. A leak of native memory (tensors, JavaCPP pointers, file channels, kernel
 * buffers, temporaries of the output policy) shows as RSS that keeps growing after the warm-up; the verdict
 * compares the median RSS of the second half with that of the first half after the warm-up (single samples
 * swing by 100 MB with malloc's arenas), and a line is fitted through the second half.
 *
 * Each iteration is the real command line in-process (lady.cli.Main.run): read both checkpoints, infer the
 * architecture, resync every group, write the restored checkpoint and the JSON report through the output
 * policy. The first and the last report are checked (Psi 100).
 *
 * Run (single-file source launch; bench/soak/run.sh does this):
 *   java -cp "$BUILD/classes:$(cat $BUILD/classpath.txt)" bench/soak/Soak.java [options]
 * Options: --iterations N (1000) --arch A (vgg16_bn_cifar) --width W (0.125) --every K (50: RSS sampled every K
 *          iterations) --warmup F (0.1: the fraction of iterations before the reference sample)
 *          --max-growth-mb M (32) --csv FILE (samples, optional)
 * Prints one JSON line with the samples' summary; exit code 1 when RSS grew by more than --max-growth-mb.
 */

import java.io.PrintWriter;
import java.io.Writer;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryUsage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.bytedeco.javacpp.Pointer;

import lady.checkpoint.Checkpoints;
import lady.cli.Main;
import lady.model.ModelOptions;
import lady.model.Models;
import lady.report.Json;
import lady.torch.Torch;
import lady.train.Trainer;

public class Soak {
    public static void main(String[] args) throws Exception {
        int iterations = 1000;
        String arch = "vgg16_bn_cifar";
        double width = 0.125;
        int every = 50;
        double warmup = 0.1;
        double maxGrowthMb = 32;
        Path csv = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--iterations" -> iterations = Integer.parseInt(args[++i]);
                case "--arch" -> arch = args[++i];
                case "--width" -> width = Double.parseDouble(args[++i]);
                case "--every" -> every = Integer.parseInt(args[++i]);
                case "--warmup" -> warmup = Double.parseDouble(args[++i]);
                case "--max-growth-mb" -> maxGrowthMb = Double.parseDouble(args[++i]);
                case "--csv" -> csv = Path.of(args[++i]);
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        Torch.init();
        // memory (/dev/shm) where there is one: the run measures Lady, not the disk's fsync
        Path shm = Path.of("/dev/shm");
        Path dir = Files.isDirectory(shm) && Files.isWritable(shm) ? Files.createTempDirectory(shm, "lady-soak")
                : Files.createTempDirectory("lady-soak");
        Path ref = dir.resolve("ref.pt");
        Path sus = dir.resolve("sus.pt");
        Path secret = dir.resolve("secret.json");
        Path out = dir.resolve("out.pt");
        Path report = dir.resolve("report.json");
        Trainer.seedLibtorch(1);
        Checkpoints.write(ref, Models.create(arch, ModelOptions.defaults().withWidth(width)).stateDict(),
                Checkpoints.Format.TORCH_ZIP);
        PrintWriter quiet = new PrintWriter(Writer.nullWriter());
        PrintWriter err = new PrintWriter(System.err, true);
        int code = Main.run(new String[] {"permute", "--model", ref.toString(), "--seed", "3", "--out", sus.toString(),
                "--secret", secret.toString(), "--quiet"}, quiet, err);
        if (code != 0) {
            throw new IllegalStateException("permute failed: " + code);
        }
        String[] resync = {"resync", "--reference", ref.toString(), "--suspect", sus.toString(), "--secret",
                secret.toString(), "--out", out.toString(), "--report", report.toString(), "--quiet"};
        List<double[]> samples = new ArrayList<>(); // iteration, RSS MB, heap used MB, heap committed MB, JavaCPP MB
        int reference = Math.max(1, (int) Math.round(iterations * warmup));
        long start = System.nanoTime();
        double firstPsi = Double.NaN;
        for (int i = 1; i <= iterations; i++) {
            code = Main.run(resync, quiet, err);
            if (code != 0) {
                throw new IllegalStateException("resync " + i + " failed with exit code " + code);
            }
            if (i == 1) {
                firstPsi = psi(report);
            }
            if (i % every == 0 || i == reference || i == iterations) {
                System.gc();
                MemoryUsage heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
                samples.add(new double[] {i, rssMb(), heap.getUsed() / 1048576.0, heap.getCommitted() / 1048576.0,
                        Pointer.physicalBytes() / 1048576.0});
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        double lastPsi = psi(report);
        double[] last = samples.get(samples.size() - 1);
        // RSS swings by 100 MB or more from one sample to the next (malloc's arenas grow and shrink): compare the
        // median of the second half of the run with the median of the first half after the warm-up
        double middle = iterations / 2.0;
        double early = median(samples.stream().filter(s -> s[0] >= reference && s[0] < middle).mapToDouble(s -> s[1])
                .toArray());
        double late = median(samples.stream().filter(s -> s[0] >= middle).mapToDouble(s -> s[1]).toArray());
        double growth = late - early;
        // least-squares slope of RSS over the second half of the run, in MB per 100 iterations
        List<double[]> half = samples.stream().filter(s -> s[0] >= middle).toList();
        double mx = half.stream().mapToDouble(s -> s[0]).average().orElse(0);
        double my = half.stream().mapToDouble(s -> s[1]).average().orElse(0);
        double sxy = 0;
        double sxx = 0;
        for (double[] s : half) {
            sxy += (s[0] - mx) * (s[1] - my);
            sxx += (s[0] - mx) * (s[0] - mx);
        }
        double slope = sxx == 0 ? 0 : 100 * sxy / sxx;
        if (csv != null) {
            StringBuilder b = new StringBuilder("iteration,rss_mb,heap_used_mb,heap_committed_mb,javacpp_physical_mb\n");
            for (double[] s : samples) {
                b.append(String.format(java.util.Locale.ROOT, "%d,%.1f,%.1f,%.1f,%.1f%n", (long) s[0], s[1], s[2], s[3], s[4]));
            }
            Files.writeString(csv, b);
        }
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("iterations", iterations);
        r.put("model", arch + " width " + width + ", " + Files.size(ref) + " bytes");
        r.put("seconds", seconds);
        r.put("seconds_per_resync", seconds / iterations);
        r.put("psi_first", firstPsi);
        r.put("psi_last", lastPsi);
        r.put("rss_mb_median_first_half", early);
        r.put("rss_mb_median_second_half", late);
        r.put("rss_growth_mb", growth);
        r.put("rss_mb_min", samples.stream().mapToDouble(s -> s[1]).min().orElse(0));
        r.put("rss_slope_mb_per_100_second_half", slope);
        r.put("rss_mb_max", samples.stream().mapToDouble(s -> s[1]).max().orElse(0));
        r.put("heap_committed_mb_at_end", last[3]);
        r.put("javacpp_physical_mb_at_end", last[4]);
        r.put("max_growth_mb", maxGrowthMb);
        r.put("verdict", growth <= maxGrowthMb ? "no growth" : "RSS GREW");
        r.put("every", every);
        System.out.println(Json.write(r));
        try (var files = Files.list(dir)) {
            for (Path p : files.toList()) {
                Files.delete(p);
            }
        }
        Files.delete(dir);
        System.exit(growth <= maxGrowthMb && lastPsi == 100.0 && firstPsi == 100.0 ? 0 : 1);
    }

    private static double median(double[] v) {
        if (v.length == 0) {
            return Double.NaN;
        }
        double[] s = v.clone();
        java.util.Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : 0.5 * (s[s.length / 2 - 1] + s[s.length / 2]);
    }

    private static double psi(Path report) throws Exception {
        Object v = ((Map<?, ?>) Json.parse(Files.readString(report))).get("psi");
        return v instanceof Number n ? n.doubleValue() : Double.NaN;
    }

    /** VmRSS of this process in MB (Linux). */
    private static double rssMb() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024.0;
            }
        }
        return Double.NaN;
    }
}
