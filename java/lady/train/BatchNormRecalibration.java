package lady.train;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BatchNorm2dImpl;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.StringSharedModuleDict;

import lady.LadyException;
import lady.attack.AttackResult;
import lady.attack.BatchNormRecalibrator;
import lady.checkpoint.StateDict;
import lady.data.Batch;
import lady.data.BatchLoader;
import lady.data.Dataset;
import lady.graph.Node;
import lady.graph.Op;
import lady.model.Model;
import lady.model.ModelConfig;
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
    /** libtorch's type name of a 2-d batch norm module (GraphNetwork's module of a BATCH_NORM node). */
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
        ModelConfig config = Models.infer(state, arch);
        List<Node> nodes = config.description().graph().nodes(Op.BATCH_NORM);
        if (nodes.isEmpty()) {
            return null;
        }
        Model model = config.create(); // the one interpreter of the graph (GraphNetwork)
        model.load(state);
        Map<String, Node> byModule = new HashMap<>();
        nodes.forEach(n -> byModule.put(n.name(), n));
        List<BatchNorm2dImpl> norms = new ArrayList<>();
        StringSharedModuleDict modules = model.module().named_modules();
        for (long i = 0; i < modules.size(); i++) {
            org.bytedeco.javacpp.BytePointer key = modules.get(i).key(); // null for the root's empty path
            Module m = modules.get(i).value();
            if (key != null && byModule.containsKey(key.getString()) && m.name().getString().startsWith(BATCH_NORM_2D)) {
                norms.add(m.asBatchNorm2d());
            }
        }
        if (norms.size() != nodes.size()) {
            throw new LadyException(LadyException.Kind.INTERNAL, config.architecture() + ": " + nodes.size()
                    + " batch norms in the graph, " + norms.size() + " in the network");
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
        StateDict after = model.stateDict();
        for (Node n : nodes) {
            for (String role : List.of("running_mean", "running_var", "num_batches_tracked")) {
                if (n.has(role)) {
                    state.put(n.param(role), after.get(n.param(role)));
                    changed.add(n.param(role));
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
