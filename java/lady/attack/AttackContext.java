package lady.attack;

import java.util.List;

import lady.LadyException;
import lady.progress.ProgressListener;
import lady.structure.NetworkView;

/**
 * What an attack needs besides the state dict.
 *
 * @param layer      name of the attacked weight tensor (noise, prune), e.g. "features.17.weight", or several
 *                   joined by {@link #LAYER_SEPARATOR} (each attacked in turn, in that order: {@link #layers});
 *                   may be null for attacks that do not use it (quant, finetune)
 * @param weights    names of every Conv2d and Linear weight of the network (quant), from the
 *                   model's architecture, never guessed from names; may be empty otherwise
 * @param seed       the only source of randomness
 * @param fineTuner  trains the network (finetune); null when no training is available
 * @param progress   progress of long attacks (finetune)
 * @param recalibrator re-estimates the batch-norm statistics after the chain ({@link Attacks#apply}); null: none
 * @param architecture the architecture of the attacked checkpoint, for the structural attacks (scale, dummy,
 *                   split, nso), which read its graph; null: recognized from the checkpoint
 * @param groups     the groups the structural attacks act on (names); empty: every group
 * @param lineages   what the structural attacks of the chain did so far (shared by the chain, mutable)
 * @param views      how the structural attacks see a state dict's network: null for its family's graph
 *                   ({@link NetworkView#of(lady.checkpoint.StateDict, String)}); an ONNX model's graph with the state
 *                   dict's widths ({@link NetworkView#sized})
 */
public record AttackContext(String layer, List<String> weights, long seed, FineTuner fineTuner,
                            ProgressListener progress, BatchNormRecalibrator recalibrator,
                            String architecture, List<String> groups, Lineages lineages,
                            java.util.function.Function<lady.checkpoint.StateDict, NetworkView> views) {
    public AttackContext {
        weights = weights == null ? List.of() : List.copyOf(weights);
        progress = progress == null ? ProgressListener.NONE : progress;
        groups = groups == null ? List.of() : List.copyOf(groups);
        lineages = lineages == null ? new Lineages() : lineages;
    }

    /** A context without batch-norm recalibration nor structural settings. */
    public AttackContext(String layer, List<String> weights, long seed, FineTuner fineTuner, ProgressListener progress) {
        this(layer, weights, seed, fineTuner, progress, null, null, List.of(), null, null);
    }

    /** A context attacking {@code layer} with {@code seed} (no weight list, no fine-tuner). */
    public static AttackContext of(String layer, long seed) {
        return new AttackContext(layer, List.of(), seed, null, ProgressListener.NONE);
    }

    public AttackContext withLayer(String l) {
        return new AttackContext(l, weights, seed, fineTuner, progress, recalibrator, architecture, groups, lineages, views);
    }

    public AttackContext withWeights(List<String> w) {
        return new AttackContext(layer, w, seed, fineTuner, progress, recalibrator, architecture, groups, lineages, views);
    }

    public AttackContext withSeed(long s) {
        return new AttackContext(layer, weights, s, fineTuner, progress, recalibrator, architecture, groups, lineages, views);
    }

    public AttackContext withFineTuner(FineTuner f) {
        return new AttackContext(layer, weights, seed, f, progress, recalibrator, architecture, groups, lineages, views);
    }

    public AttackContext withProgress(ProgressListener p) {
        return new AttackContext(layer, weights, seed, fineTuner, p, recalibrator, architecture, groups, lineages, views);
    }

    /** Re-estimate the batch-norm statistics after the chain with {@code r} (null: not). */
    public AttackContext withRecalibrator(BatchNormRecalibrator r) {
        return new AttackContext(layer, weights, seed, fineTuner, progress, r, architecture, groups, lineages, views);
    }

    /** The structural attacks read the graph of {@code arch} (null: recognized) and act on {@code g} (empty: all). */
    public AttackContext withStructure(String arch, List<String> g) {
        return new AttackContext(layer, weights, seed, fineTuner, progress, recalibrator, arch, g, lineages, views);
    }

    /** The structural attacks see each state dict's network through {@code v} ({@link #views}). */
    public AttackContext withViews(java.util.function.Function<lady.checkpoint.StateDict, NetworkView> v) {
        return new AttackContext(layer, weights, seed, fineTuner, progress, recalibrator, architecture, groups, lineages, v);
    }

    /** What joins the names of several attacked weights in {@code layer}. */
    public static final String LAYER_SEPARATOR = ",";

    /** The names joined into one {@code layer} value ({@link #LAYER_SEPARATOR}). */
    public static String joinLayers(List<String> names) {
        return String.join(LAYER_SEPARATOR, names);
    }

    /** The attacked weights' names, in order; a clear error when the caller gave none. */
    List<String> requireLayers(String attack) {
        if (layer == null || layer.isBlank()) {
            throw new LadyException(LadyException.Kind.USAGE, "the " + attack
                    + " attack needs the name of the attacked weight tensor (e.g. features.17.weight)");
        }
        return List.of(layer.split(LAYER_SEPARATOR));
    }
}
