package lady.checkpoint;

import java.util.ArrayList;
import java.util.List;

/**
 * A mixture of experts whose experts share one 3-D tensor per layer and projection, as transformers 5 can save them
 * and some releases ship (Qwen3.5-MoE): {@code <module>.experts.gate_up_proj} [E, 2I, D] (each expert's gate rows, then
 * its up rows) and {@code <module>.experts.down_proj} [E, D, I]. Lady reads each as one tensor per expert, a view of
 * its slice ({@code <module>.experts.<e>.gate_up_proj} [2I, D], {@code <module>.experts.<e>.down_proj} [D, I]), so that
 * an expert is a neuron whose tensors move whole, as in the per-expert layout; the writers store them fused again
 * ({@link StateDict#storageNames}).
 */
final class FusedExperts {
    private FusedExperts() {}

    /** The stored names' endings that hold every expert of a layer, and the name of one expert's part. */
    private static final List<String> SUFFIXES = List.of("gate_up_proj", "down_proj");
    private static final String EXPERTS = ".experts.";

    /** Splits every fused experts tensor of {@code sd} into its experts ({@link StateDict#split}). */
    static void split(StateDict sd) {
        for (String name : new ArrayList<>(sd.names())) {
            for (String suffix : SUFFIXES) {
                if (!name.endsWith(EXPERTS + suffix) || sd.shape(name).length != 3 || sd.shape(name)[0] < 1 || sd.isLazy(name)) {
                    continue;
                }
                String module = name.substring(0, name.length() - suffix.length());
                List<String> parts = new ArrayList<>();
                for (long e = 0; e < sd.shape(name)[0]; e++) {
                    parts.add(module + e + "." + suffix);
                }
                sd.split(name, parts);
            }
        }
    }
}
