package lady.checkpoint;

import java.nio.file.Path;
import java.util.ServiceLoader;

import lady.LadyException;

/**
 * A model file whose weights live inside a graph (ONNX): read its weights as a {@link StateDict} and write
 * them back into a copy of the graph. {@link Checkpoints} reaches the implementation (lady.onnx) through
 * {@link ServiceLoader}, so that the checkpoint package does not depend on the packages above it.
 */
public interface GraphFileFormat {
    /** The weights (initializers) of the model at {@code path}. */
    StateDict read(Path path);

    /** Writes the model at {@code like} to {@code path} with its weights replaced by {@code weights}. */
    void write(Path path, StateDict weights, Path like);

    /** The implementation on the class path. */
    static GraphFileFormat get() {
        return ServiceLoader.load(GraphFileFormat.class).findFirst().orElseThrow(() -> new LadyException(
                LadyException.Kind.INTERNAL, "no ONNX support on the class path (lady.onnx missing)"));
    }
}
