package lady.onnx;

import java.util.Map;

import org.junit.jupiter.api.Tag;

/**
 * {@link PyTorchExportChecks} and {@link PyTorchPermutationChecks} on torchvision's DenseNet121 (64 x 64 inputs,
 * 10 classes; 28 MB per export, 120 groups): a few minutes on 2 cores, so tagged slow.
 */
@Tag("slow")
class DenseNetOnnxExportTest extends PyTorchPermutationChecks {
    @Override
    Map<String, Integer> models() {
        return Map.of("densenet121", 64);
    }
}
