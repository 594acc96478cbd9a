package lady.onnx;

import java.util.Map;

import org.junit.jupiter.api.Tag;

/**
 * {@link PyTorchExportChecks} on torchvision's DenseNet121 (64 x 64 inputs, 10 classes; 28 MB per export):
 * about 40 s on 2 cores, so tagged slow.
 */
@Tag("slow")
class DenseNetOnnxExportTest extends PyTorchExportChecks {
    @Override
    Map<String, Integer> models() {
        return Map.of("densenet121", 64);
    }
}
