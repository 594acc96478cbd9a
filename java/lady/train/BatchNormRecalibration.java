package lady.train;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BatchNorm2dImpl;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.StringSharedModuleDict;
import org.bytedeco.pytorch.Tensor;

import lady.LadyException;
import lady.attack.AttackResult;
import lady.attack.BatchNormRecalibrator;
import lady.checkpoint.StateDict;
import lady.data.Batch;
import lady.data.BatchLoader;
import lady.data.Dataset;
import lady.model.Model;
import lady.model.Models;
import lady.paper.Paper;
import lady.progress.ProgressListener;

/**
 * Batch-norm recalibration after an attack (what a real attacker does, at no cost): the running mean
 * and variance of every batch norm are re-estimated from {@code batches} batches of training images
 * (the training loader: shuffled and augmented as in training, seeded), in train mode, without labels
 * and without gradient. No weight changes.
 *
 * <p>Decision: every batch norm's statistics are reset first and then averaged over the batches with
 * equal weights (the cumulative average of PyTorch's {@code momentum=None} after
 * {@code reset_running_stats()}), so the result depends only on the attacked weights and the batches,
 * not on the unattacked network's statistics or on a momentum; {@code num_batches_tracked} becomes the
 * number of batches. Other layers run in train mode too (dropout is active; in the architectures here
 * no batch norm follows a dropout, so it does not reach the statistics).
 */
public final class BatchNormRecalibration implements BatchNormRecalibrator {
    /** Default number of batches (ours: 20 x 128 = 2560 images, about a quarter of the built-in digits' training set;
     * the test error settles well before, see bench/RESULTS.md). */
    public static final int DEFAULT_BATCHES = 20;
    /** libtorch's type name of a 2-d batch norm module. */
    private static final String BATCH_NORM_2D = "torch::nn::BatchNorm2d";

    private final Dataset train;
    private final String arch;
    private final int batches;
    private final int batchSize;

    /**
     * @param train   the (unlabeled use of the) training images
     * @param arch    the architecture, or null to infer it from the state dict
     * @param batches forward passes, >= 1
     */
    public BatchNormRecalibration(Dataset train, String arch, int batches) {
        this.train = Objects.requireNonNull(train, "train");
        this.arch = arch;
        if (batches < 1) {
            throw new LadyException(LadyException.Kind.USAGE, "batch-norm recalibration needs at least 1 batch, got " + batches);
        }
        this.batches = batches;
        this.batchSize = Math.min(Paper.TRAIN_BATCH_SIZE, train.size());
    }

    public int batches() {
        return batches;
    }

    @Override
    @SuppressWarnings("try")
    public AttackResult recalibrate(StateDict state, long seed, ProgressListener progress) {
        Model model = Models.fromStateDict(state, arch);
        List<BatchNorm2dImpl> norms = new ArrayList<>();
        List<String> names = new ArrayList<>();
        StringSharedModuleDict modules = model.module().named_modules();
        for (long i = 0; i < modules.size(); i++) {
            Module m = modules.get(i).value();
            if (m.name().getString().startsWith(BATCH_NORM_2D)) {
                norms.add(m.asBatchNorm2d());
                names.add(modules.get(i).key().getString());
            }
        }
        if (norms.isEmpty()) {
            return null;
        }
        for (BatchNorm2dImpl bn : norms) {
            bn.reset_running_stats();
            bn.options().momentum().reset(); // cumulative average over the batches
        }
        BatchLoader loader = BatchLoader.builder(train).mode(BatchLoader.Mode.TRAIN).batchSize(batchSize).seed(seed)
                .build();
        progress.start("recalibrate batch norm", batches, "batches");
        boolean wasTraining = model.module().is_training();
        model.train(true);
        int done = 0;
        try (NoGradGuard noGrad = new NoGradGuard()) {
            for (int epoch = 0; done < batches; epoch++) {
                for (Batch b : loader.epoch(epoch)) {
                    if (done == batches) {
                        break;
                    }
                    try (PointerScope scope = new PointerScope()) {
                        model.forward(b.images());
                    }
                    done++;
                    progress.advance(1);
                }
            }
        } finally {
            model.train(wasTraining);
            progress.finish();
        }
        List<String> changed = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : model.stateDict()) {
            for (String bn : names) {
                String prefix = bn + ".";
                if (e.getKey().equals(prefix + "running_mean") || e.getKey().equals(prefix + "running_var")
                        || e.getKey().equals(prefix + "num_batches_tracked")) {
                    state.put(e.getKey(), e.getValue());
                    changed.add(e.getKey());
                }
            }
        }
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("batches", batches);
        d.put("batch_size", batchSize);
        d.put("images", (long) batches * batchSize);
        d.put("batch_norms", norms.size());
        d.put("statistics", "reset, then the cumulative average over the batches (train mode, no labels, no gradient)");
        return new AttackResult("recalibrate-bn:" + batches, changed, d);
    }
}
