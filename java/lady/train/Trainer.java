package lady.train;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.OptimizerParamGroupVector;
import org.bytedeco.pytorch.SGD;
import org.bytedeco.pytorch.SGDOptions;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import lady.LadyException;
import lady.data.Batch;
import lady.data.BatchLoader;
import lady.data.Dataset;
import lady.model.Model;
import lady.progress.ProgressListener;
import lady.torch.Torch;
import lady.util.Seeds;

/**
 * Trains a {@link Model} on libtorch: SGD with momentum and weight decay, StepLR (per epoch),
 * cross-entropy plus optional {@link LossTerm}s, the seeded {@link BatchLoader} (shuffle and
 * augmentation derived from the seed and the epoch).
 *
 * <p>Reproducibility: the data order and augmentation come from the seed, and libtorch's generator
 * (dropout) is re-seeded from it at the start of {@link #train}. The model's random initialization
 * happens when it is built: call {@link #seedLibtorch(long)} before {@code Models.create}. By default
 * ({@link #deterministic(boolean) deterministic}) training runs on one libtorch thread (the thread count is
 * restored afterwards), and the result is bit-identical run after run. On several threads it is not
 * always: oneDNN's multi-threaded backward pass sums in an order that depends on the kernels it picks
 * for the CPU (measured here, libtorch 2.10, oneDNN 3.7.1, AVX-512, 2 threads: two trainings of VGG16
 * at width 0.125 differ in every tensor after 16 steps, also with {@code setDeterministicMkldnn(true)},
 * while at width 0.25 they agreed; which layer shapes are affected on another CPU is not known in
 * advance), so the one-thread rule holds for every model on every CPU. {@link #deterministic(boolean)
 * deterministic(false)} keeps every thread, for speed over reproducibility; {@code TrainerTest} checks
 * the weight bytes.
 *
 * <p>The next batch is assembled (crop, flip, normalization) on a background thread while the current step
 * trains ({@link BatchLoader.Epoch#prefetch()}): the step waits only for the copy into tensors. The batches
 * are the same bytes as without it.
 *
 * <p>Every step runs with libtorch's allocator zero fill on ({@link Torch#zeroFillWhileTraining()}: oneDNN's
 * backward pass can read padding it never wrote, which turns into NaN on recycled memory on some CPUs).
 *
 * <p>Each step runs inside a {@link PointerScope}: the batch, the autograd graph and every
 * temporary are freed when the step ends, not when the garbage collector gets to them. Gradients
 * are reset with {@code set_to_none} (no memset, no extra kernel).
 *
 * <p>Training never goes on with a broken model: a non-finite loss, a non-finite gradient (checked
 * before the update) or a parameter made non-finite by the update stops it with a
 * {@link LadyException} (INVALID_INPUT) naming the epoch, the step and the tensor.
 *
 * <p>Progress: one task per epoch ({@code "train epoch e/E"}, unit "img") with the metrics
 * {@code loss}, each extra term by name, {@code img/s} and {@code lr}.
 */
public final class Trainer {
    private final TrainConfig config;
    private final List<LossTerm> terms = new ArrayList<>();
    private ProgressListener progress = ProgressListener.NONE;
    private boolean deterministic = true;
    private boolean prefetch = true;

    public Trainer(TrainConfig config) {
        this.config = Objects.requireNonNull(config, "config");
    }

    public TrainConfig config() {
        return config;
    }

    /** Adds an extra loss term (e.g. a watermark regularizer). */
    public Trainer lossTerm(LossTerm term) {
        String name = Objects.requireNonNull(term, "term").name();
        if (name == null || name.isBlank() || name.equals("loss") || name.equals("ce")
                || terms.stream().anyMatch(t -> t.name().equals(name))) {
            throw new LadyException(LadyException.Kind.USAGE, "loss term name must be unique and not 'loss' or 'ce', got '" + name + "'");
        }
        terms.add(term);
        return this;
    }

    public Trainer progress(ProgressListener listener) {
        this.progress = Objects.requireNonNull(listener, "listener");
        return this;
    }

    /** Bit-identical results for a given seed (the default): training runs on one libtorch thread (see the
     * class comment); {@code false} keeps every thread. */
    public Trainer deterministic(boolean on) {
        this.deterministic = on;
        return this;
    }

    /** Whether the next batch is assembled on a background thread while a step runs (the default; the same
     * bytes either way: {@code false} only serves to measure what it saves, see lady.bench). */
    public Trainer prefetch(boolean on) {
        this.prefetch = on;
        return this;
    }

    /** Whether {@link #train} will run on one libtorch thread (instead of libtorch's current count) to stay
     * bit-reproducible. */
    public boolean oneThread() {
        Torch.init();
        return deterministic && torch.get_num_threads() > 1;
    }

    /** Seeds libtorch's global generator from {@code seed} (weight initialization, dropout). */
    public static void seedLibtorch(long seed) {
        Torch.init();
        torch.manual_seed(Seeds.derive(seed, "torch.init"));
    }

    /** The training loader for {@code data} under this configuration. */
    public BatchLoader loader(Dataset data) {
        BatchLoader.Builder builder = BatchLoader.builder(data).mode(BatchLoader.Mode.TRAIN)
                .batchSize(config.batchSize()).seed(config.seed());
        if (config.limit() > 0) {
            builder.limit(config.limit());
        }
        return builder.build();
    }

    /** Trains {@code model} in place on {@code data}; returns one {@link EpochStats} per epoch. */
    @SuppressWarnings("try")
    public List<EpochStats> train(Model model, Dataset data) {
        Torch.init();
        BatchLoader loader = loader(data);
        List<EpochStats> history = new ArrayList<>();
        if (config.epochs() == 0) {
            return history;
        }
        torch.manual_seed(Seeds.derive(config.seed(), "torch.train"));
        boolean wasTraining = model.module().is_training();
        SGDOptions options = new SGDOptions(config.lr());
        options.momentum().put(config.momentum());
        options.weight_decay().put(config.weightDecay());
        SGD sgd = new SGD(model.module().parameters(), options);
        int threads = torch.get_num_threads();
        boolean oneThread = oneThread();
        if (oneThread) {
            torch.set_num_threads(1);
        }
        try (Torch.ZeroFill fill = Torch.zeroFillWhileTraining()) {
            model.train(true);
            for (int e = 0; e < config.epochs(); e++) {
                double lr = config.lrAt(e);
                setLr(sgd, lr);
                history.add(epoch(model, sgd, loader.epoch(e), e, lr));
            }
        } finally {
            if (oneThread) {
                torch.set_num_threads(threads);
            }
            model.train(wasTraining);
            sgd.close();
            options.close();
        }
        return history;
    }

    private static void setLr(SGD sgd, double lr) {
        try (PointerScope scope = new PointerScope()) {
            OptimizerParamGroupVector groups = sgd.param_groups();
            for (long i = 0; i < groups.size(); i++) {
                groups.get(i).options().set_lr(lr);
            }
        }
    }

    /**
     * Fails when a gradient ({@code grads}) or a parameter is NaN or infinite, naming the first
     * such tensor and the step: training must never go on silently with a broken model.
     */
    private void checkFinite(Map<String, Tensor> params, boolean grads, String where) {
        // fast path, one synchronization: the sum of every element of every tensor is finite when all are (NaN
        // and infinities propagate through a sum); only a failure (or a finite overflow) looks tensor by tensor
        Tensor total = null;
        for (Tensor p : params.values()) {
            Tensor t = grads ? p.grad() : p;
            if (t.defined()) {
                Tensor s = t.sum();
                total = total == null ? s : total.add(s);
            }
        }
        if (total == null || total.isfinite().item_bool()) {
            return;
        }
        for (Map.Entry<String, Tensor> p : params.entrySet()) {
            Tensor t = grads ? p.getValue().grad() : p.getValue();
            if (t.defined() && !t.isfinite().all().item_bool()) {
                throw diverged(grads
                        ? "the gradient of '" + p.getKey() + "' is not finite at " + where
                                + " (the loss was finite; the weights are left as they were before this step)"
                        : "parameter '" + p.getKey() + "' became non-finite in the update of " + where
                                + " (its gradient was finite: the step overflowed)");
            }
        }
    }

    private static LadyException diverged(String what) {
        return LadyException.invalidInput("training diverged: " + what + " (try a lower learning rate)");
    }

    private String termsText(float[] values) {
        StringBuilder b = new StringBuilder();
        for (int t = 0; t < values.length; t++) {
            b.append(", ").append(terms.get(t).name()).append(' ').append(values[t]);
        }
        return b.toString();
    }

    @SuppressWarnings("try")
    private EpochStats epoch(Model model, SGD sgd, BatchLoader.Epoch plan, int e, double lr) {
        int batches = plan.batches();
        long start = System.nanoTime();
        double ceSum = 0;
        double lossSum = 0;
        long wrong = 0;
        int images = 0;
        double[] termSums = new double[terms.size()];
        String task = "train epoch " + (e + 1) + "/" + config.epochs();
        progress.start(task, (long) Math.min(plan.order().length, (long) batches * config.batchSize()), "img");
        Map<String, Tensor> params = Torch.namedParameters(model.module());
        BatchLoader.Prefetch ahead = prefetch ? plan.prefetch() : null;
        try {
            for (int b = 0; b < batches; b++) {
                int n;
                float ce;
                float total;
                float[] termValues = new float[terms.size()];
                String where = "epoch " + (e + 1) + ", step " + (b + 1);
                try (PointerScope scope = new PointerScope()) {
                    Batch batch = ahead != null ? ahead.next() : plan.batch(b);
                    n = batch.size();
                    sgd.zero_grad(true);
                    Tensor logits = model.forward(batch.images());
                    Tensor ceLoss = torch.cross_entropy(logits, batch.labels());
                    ce = ceLoss.item_float();
                    Tensor loss = ceLoss;
                    for (int t = 0; t < terms.size(); t++) {
                        Tensor extra = terms.get(t).compute(model);
                        loss = loss.add(extra);
                        termValues[t] = extra.item_float();
                    }
                    total = terms.isEmpty() ? ce : loss.item_float();
                    if (!Float.isFinite(total)) {
                        throw diverged("the loss is " + total + " (cross-entropy " + ce + termsText(termValues)
                                + ") at " + where + ", before its update");
                    }
                    loss.backward();
                    checkFinite(params, true, where);
                    sgd.step();
                    checkFinite(params, false, where);
                    wrong += n - logits.argmax(new org.bytedeco.pytorch.LongOptional(1), false)
                            .eq(batch.labels()).sum().item_long();
                }
                images += n;
                ceSum += (double) ce * n;
                lossSum += (double) total * n;
                for (int t = 0; t < termSums.length; t++) {
                    termSums[t] += termValues[t];
                }
                double seconds = (System.nanoTime() - start) / 1e9;
                Map<String, Object> metrics = new LinkedHashMap<>();
                metrics.put("loss", total);
                for (int t = 0; t < terms.size(); t++) {
                    metrics.put(terms.get(t).name(), termValues[t]);
                }
                metrics.put("img/s", seconds > 0 ? images / seconds : 0.0);
                metrics.put("lr", lr);
                progress.advance(n, metrics);
            }
        } finally {
            if (ahead != null) {
                ahead.close();
            }
            progress.finish();
        }
        Map<String, Double> termMeans = new LinkedHashMap<>();
        for (int t = 0; t < terms.size(); t++) {
            termMeans.put(terms.get(t).name(), batches == 0 ? 0.0 : termSums[t] / batches);
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        return new EpochStats(e + 1, lr, images, images == 0 ? 0 : lossSum / images, images == 0 ? 0 : ceSum / images,
                termMeans, images == 0 ? 0 : 100.0 * wrong / images, seconds);
    }
}
