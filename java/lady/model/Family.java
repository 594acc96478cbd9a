package lady.model;

import java.util.List;
import java.util.Map;

/**
 * A family of networks Lady recognizes and builds as a {@link lady.graph.Graph}: a few lines per layer
 * kind, reading every size through {@link Dims} so that the same code describes a new model and any
 * checkpoint of the family (any number of classes, any width, per-layer widths included).
 */
interface Family {
    /** The architecture names it builds, in a stable order. */
    List<String> names();

    /** Whether it builds architecture {@code name}: one of {@link #names()}, or a name of a pattern they follow. */
    default boolean builds(String name) {
        return names().contains(name);
    }

    /**
     * The Hugging Face model types (config.json's model_type) it reads: its names, and the types it reads under another
     * name (XLM-RoBERTa as RoBERTa); empty for the families that read no Hugging Face folder.
     */
    default List<String> modelTypes() {
        return List.of();
    }

    /**
     * The name of the architecture a checkpoint with these tensors is, or null when it is not of this
     * family. Recognition reads names and shapes only; the built graph is then compared with the
     * checkpoint tensor by tensor.
     */
    String recognize(Map<String, long[]> shapes);

    /**
     * As {@link #recognize(Map)} with the checkpoint's configuration (a Hugging Face folder's config.json,
     * empty when there is none), for families whose variants only the configuration names.
     */
    default String recognize(Map<String, long[]> shapes, Map<String, ?> config) {
        return recognize(shapes);
    }

    /** The options that describe a checkpoint of architecture {@code name} (classes, width, input). */
    ModelOptions options(String name, Map<String, long[]> shapes);

    /** Architecture {@code name} with the sizes of {@code dims}. */
    Architecture build(String name, Dims dims);

    /**
     * The configuration of a checkpoint of architecture {@code name} whose widths an edit changed (a structural
     * attack or undo): {@code config} with every width it records set to the checkpoint's {@code shapes}. Families
     * whose configuration records no width return it as it is.
     */
    default Map<String, Object> configFor(String name, Map<String, long[]> shapes, Map<String, Object> config) {
        return config;
    }

    /** Refuses building {@code name} when it is not one of {@link #names()}: a usage error listing them. */
    default void requireKnown(String name) {
        if (!names().contains(name)) {
            throw new lady.LadyException(lady.LadyException.Kind.USAGE, "unknown network '" + name + "'; known: "
                    + names());
        }
    }

    /** Refuses a classifier hidden width (an option of VGG's head only) for architecture {@code name}. */
    static void requireNoHidden(String name, ModelOptions options) {
        if (options.hidden() != 0) {
            throw new lady.LadyException(lady.LadyException.Kind.USAGE, name
                    + " has no classifier hidden width to set (VGG only)");
        }
    }

    /**
     * The options of a checkpoint whose classes are the rows of {@code classifier} and whose input channels
     * are the columns of {@code first}; default input size (the family pools adaptively).
     */
    static ModelOptions options(Map<String, long[]> shapes, String classifier, String first) {
        ModelOptions d = ModelOptions.defaults();
        return new ModelOptions((int) dim(shapes, classifier, 0, d.numClasses()), 1.0, 0,
                (int) dim(shapes, first, 1, d.inputChannels()), d.inputSize());
    }

    /** The value of a tensor shape at {@code axis}, or {@code fallback} when the tensor is absent. */
    static long dim(Map<String, long[]> shapes, String tensor, int axis, long fallback) {
        long[] s = shapes.get(tensor);
        return s != null && axis < s.length ? s[axis] : fallback;
    }
}
