/*
 * Training and inference throughput of Lady (JavaCPP libtorch 2.10) against PyTorch (Debian's
 * python3-torch) on the same work, measured back to back in one run: VGG16 with the CIFAR head
 * (vgg16_cifar, no batch norm), batch 128 of 3 x 32 x 32, SGD lr 0.01 momentum 0.9 wd 5e-4,
 * cross-entropy; inference in eval mode without autograd. Median of N batches after warm-up.
 *
 * Lady's side runs the real library code (lady.train.Trainer and lady.train.Evaluator, with their
 * batch loader) on a synthetic dataset and times each batch through the progress listener. The
 * PyTorch side (pytorch_train_bench.py beside this file) feeds one fixed tensor, so it does slightly
 * less work per step (no batch assembly).
 *
 * Run (single-file source launch; bench/train/run.sh does this):
 *   java -cp "$BUILD/classes:$(cat $BUILD/classpath.txt)" bench/train/TrainBench.java [options]
 * Options: --rounds R (3) --batches N (11) --warmup W (2) --width X (1.0) --threads T (2)
 *          --python PATH (/usr/bin/python3) --no-python
 */

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import lady.data.Dataset;
import lady.model.Model;
import lady.model.ModelOptions;
import lady.model.Models;
import lady.progress.ProgressListener;
import lady.report.Json;
import lady.torch.Torch;
import lady.train.Evaluator;
import lady.train.TrainConfig;
import lady.train.Trainer;

public class TrainBench {
    static int rounds = 3, batches = 11, warmup = 2, threads = 2, batch = 128;
    static double width = 1.0;
    static String python = "/usr/bin/python3";
    static boolean withPython = true;

    public static void main(String[] args) throws Exception {
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                case "--batches" -> batches = Integer.parseInt(args[++i]);
                case "--warmup" -> warmup = Integer.parseInt(args[++i]);
                case "--width" -> width = Double.parseDouble(args[++i]);
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--python" -> python = args[++i];
                case "--no-python" -> withPython = false;
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        Torch.setThreads(threads);
        System.out.printf("vgg16_cifar width %s, batch %d, %d threads, median of %d batches after %d warm-up; %d rounds%n",
                width, batch, threads, batches, warmup, rounds);
        System.out.printf("machine: %d cores, load average %s; OPENBLAS_NUM_THREADS=%s THP_MEM_ALLOC_ENABLE=%s%n",
                Runtime.getRuntime().availableProcessors(), loadAverage(), System.getenv("OPENBLAS_NUM_THREADS"),
                System.getenv("THP_MEM_ALLOC_ENABLE"));
        List<Double> pyTrain = new ArrayList<>(), pyInfer = new ArrayList<>();
        List<Double> ladyTrain = new ArrayList<>(), ladyInfer = new ArrayList<>();
        for (int r = 1; r <= rounds; r++) {
            if (withPython) {
                Map<?, ?> py = runPython();
                pyTrain.add(((Number) py.get("train_img_s")).doubleValue());
                pyInfer.add(((Number) py.get("infer_img_s")).doubleValue());
                System.out.printf("round %d  pytorch %-10s train %6.1f img/s  infer %6.1f img/s  (load %s)%n", r,
                        py.get("engine").toString().replace("pytorch ", ""), pyTrain.get(r - 1), pyInfer.get(r - 1), loadAverage());
            }
            double[] lady = runLady();
            ladyTrain.add(lady[0]);
            ladyInfer.add(lady[1]);
            System.out.printf("round %d  lady    %-10s train %6.1f img/s  infer %6.1f img/s  (load %s)%n", r,
                    Torch.presetsVersion(), lady[0], lady[1], loadAverage());
        }
        System.out.printf("median  lady    train %6.1f img/s  infer %6.1f img/s%n", median(ladyTrain), median(ladyInfer));
        if (withPython) {
            System.out.printf("median  pytorch train %6.1f img/s  infer %6.1f img/s%n", median(pyTrain), median(pyInfer));
            System.out.printf("ratio lady/pytorch (median of per-round ratios): train %.2f  infer %.2f%n",
                    medianRatio(ladyTrain, pyTrain), medianRatio(ladyInfer, pyInfer));
        }
    }

    /** Lady: images per second of training and of inference, median over timed batches. */
    static double[] runLady() {
        int n = batch * (warmup + batches);
        SplittableRandom rnd = new SplittableRandom(42);
        byte[] pixels = new byte[n * Dataset.IMAGE_BYTES];
        int[] labels = new int[n];
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] = (byte) rnd.nextInt(256);
        }
        for (int i = 0; i < n; i++) {
            labels[i] = rnd.nextInt(10);
        }
        Dataset data = new Dataset("bench", pixels, labels, 10, false);
        Trainer.seedLibtorch(0);
        Model model = Models.create("vgg16_cifar", ModelOptions.defaults().withWidth(width));
        BatchTimer t = new BatchTimer();
        // every thread, as PyTorch's side (deterministic training would run on one: lady.train.Trainer)
        new Trainer(TrainConfig.paper(1).withBatchSize(batch)).deterministic(false).progress(t).train(model, data);
        double train = t.imagesPerSecond();
        BatchTimer e = new BatchTimer();
        new Evaluator(batch).progress(e).evaluate(model, data);
        return new double[] {train, e.imagesPerSecond()};
    }

    /** Times each batch (between consecutive progress calls); median after the warm-up. */
    static final class BatchTimer implements ProgressListener {
        final List<Double> seconds = new ArrayList<>();
        long last;

        @Override
        public void start(String task, long total, String unit) {
            last = System.nanoTime();
        }

        @Override
        public void advance(long units, Map<String, ?> metrics) {
            long now = System.nanoTime();
            seconds.add((now - last) / 1e9);
            last = now;
        }

        @Override
        public void finish() {}

        double imagesPerSecond() {
            return batch / median(seconds.subList(warmup, seconds.size()));
        }
    }

    static Map<?, ?> runPython() throws Exception {
        Path script = Path.of("bench", "train", "pytorch_train_bench.py");
        ProcessBuilder pb = new ProcessBuilder(python, script.toString(), "--threads", "" + threads, "--batch", "" + batch,
                "--batches", "" + batches, "--warmup", "" + warmup, "--width", "" + width);
        pb.redirectError(ProcessBuilder.Redirect.INHERIT);
        Process p = pb.start();
        String last = null;
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                last = line;
            }
        }
        if (p.waitFor() != 0 || last == null) {
            throw new IllegalStateException("the PyTorch benchmark failed (exit " + p.exitValue() + ")");
        }
        return (Map<?, ?>) Json.parse(last);
    }

    static double median(List<Double> v) {
        double[] a = v.stream().mapToDouble(Double::doubleValue).toArray();
        Arrays.sort(a);
        return a.length % 2 == 1 ? a[a.length / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
    }

    static double medianRatio(List<Double> a, List<Double> b) {
        List<Double> r = new ArrayList<>();
        for (int i = 0; i < a.size(); i++) {
            r.add(a.get(i) / b.get(i));
        }
        return median(r);
    }

    static String loadAverage() {
        try {
            return java.nio.file.Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
        } catch (Exception e) {
            return "?";
        }
    }
}
