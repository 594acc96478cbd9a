package lady.train;

import java.util.Map;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import lady.LadyException;
import lady.data.Batch;
import lady.data.BatchLoader;
import lady.data.Dataset;
import lady.model.Model;
import lady.paper.Paper;
import lady.progress.ProgressListener;
import lady.torch.Torch;

/**
 * Top-1 error of a model on a dataset: evaluation mode (dropout off, batch-norm running
 * statistics), no autograd, batches in dataset order without augmentation. The model's
 * training/evaluation mode is restored afterwards. Any other classifier (an ONNX model) is evaluated
 * on the same batches through {@link #evaluate(java.util.function.UnaryOperator, Dataset)}.
 */
public final class Evaluator {
    private final int batchSize;
    private int limit = -1;
    private boolean keepLogits;
    private ProgressListener progress = ProgressListener.NONE;

    /** An evaluator with the training batch size of the paper. */
    public Evaluator() {
        this(Paper.TRAIN_BATCH_SIZE);
    }

    public Evaluator(int batchSize) {
        if (batchSize < 1) {
            throw new LadyException(LadyException.Kind.USAGE, "batch size must be >= 1, got " + batchSize);
        }
        this.batchSize = batchSize;
    }

    /** Evaluate only the first {@code n} images ({@code n < 0}: all). */
    public Evaluator limit(int n) {
        if (n == 0) {
            throw new LadyException(LadyException.Kind.USAGE, "limit must be positive (or absent), got 0");
        }
        this.limit = n;
        return this;
    }

    /** Also return the logits ({@link EvalResult#logits()}). */
    public Evaluator keepLogits(boolean keep) {
        this.keepLogits = keep;
        return this;
    }

    public Evaluator progress(ProgressListener listener) {
        this.progress = listener;
        return this;
    }

    /** Top-1 error of {@code model} in evaluation mode (its training/evaluation mode is restored afterwards). */
    public EvalResult evaluate(Model model, Dataset data) {
        boolean wasTraining = model.module().is_training();
        model.train(false);
        try {
            return evaluate(model::forward, data);
        } finally {
            model.train(wasTraining);
        }
    }

    /**
     * Top-1 error of any classifier, e.g. an ONNX model run by ONNX Runtime: {@code classifier} maps a batch of
     * N normalized images to N x classes logits (called with no autograd, inside a pointer scope per batch).
     */
    @SuppressWarnings("try")
    public EvalResult evaluate(java.util.function.UnaryOperator<Tensor> classifier, Dataset data) {
        Torch.init();
        BatchLoader.Builder builder = BatchLoader.builder(data).mode(BatchLoader.Mode.EVAL).batchSize(batchSize);
        if (limit > 0) {
            builder.limit(limit);
        }
        BatchLoader loader = builder.build();
        int total = loader.size();
        if (total == 0) {
            throw LadyException.invalidInput("dataset '" + data.name() + "' has no images to evaluate");
        }
        long wrong = 0;
        double lossSum = 0;
        int done = 0;
        int classes = -1;
        float[] logits = null;
        long start = System.nanoTime();
        progress.start("evaluate " + data.name(), total, "img");
        BatchLoader.Epoch plan = loader.epoch(0);
        try (NoGradGuard noGrad = new NoGradGuard(); BatchLoader.Prefetch ahead = plan.prefetch()) {
            for (int b = 0; b < plan.batches(); b++) {
                int n;
                try (PointerScope scope = new PointerScope()) {
                    Batch batch = ahead.next(); // the next one is assembled meanwhile
                    n = batch.size();
                    Tensor out = classifier.apply(batch.images());
                    long[] shape = out.sizes().vec().get();
                    if (shape.length != 2 || shape[0] != n) {
                        throw new LadyException(LadyException.Kind.INTERNAL, "model output has shape "
                                + java.util.Arrays.toString(shape) + ", expected " + n + " x classes");
                    }
                    if (classes < 0) {
                        classes = (int) shape[1];
                        if (data.classes() > classes) {
                            throw LadyException.invalidInput("the model has " + classes + " outputs but dataset '"
                                    + data.name() + "' has " + data.classes() + " classes");
                        }
                        if (keepLogits) {
                            logits = new float[Math.multiplyExact(total, classes)];
                        }
                    }
                    lossSum += torch.cross_entropy(out, batch.labels()).item_double() * n;
                    wrong += n - out.argmax(new LongOptional(1), false).eq(batch.labels()).sum().item_long();
                    if (logits != null) {
                        Tensor c = out.contiguous();
                        new FloatPointer(c.data_ptr_float()).get(logits, done * classes, n * classes);
                    }
                }
                done += n;
                double seconds = (System.nanoTime() - start) / 1e9;
                progress.advance(n, Map.of("img/s", seconds > 0 ? done / seconds : 0.0));
            }
        } finally {
            progress.finish();
        }
        return new EvalResult(done, (int) wrong, 100.0 * wrong / done, lossSum / done, classes, logits);
    }
}
