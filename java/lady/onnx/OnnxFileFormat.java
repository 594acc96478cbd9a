package lady.onnx;

import java.nio.file.Path;

import lady.checkpoint.GraphFileFormat;
import lady.checkpoint.StateDict;

/** ONNX files as {@link GraphFileFormat}: what {@link lady.checkpoint.Checkpoints} calls for {@code .onnx} models. */
public final class OnnxFileFormat implements GraphFileFormat {
    @Override
    public StateDict read(Path path) {
        return Onnx.read(path).stateDict();
    }

    @Override
    public void write(Path path, StateDict weights, Path like) {
        Onnx.write(path, Onnx.read(like), weights);
    }
}
