package lady.cli;

import java.nio.file.Path;

import picocli.CommandLine.Option;

/**
 * The checkpoint a command reads ({@code --model}) and its architecture ({@code --arch}), as one picocli
 * mixin: {@code @Mixin ModelInput input;}. What each command accepts beyond PyTorch zip and safetensors
 * (ONNX models, Hugging Face folders) its own description says.
 */
final class ModelInput {

    @Option(names = "--model", required = true, paramLabel = "FILE",
            description = "Input checkpoint: PyTorch zip or safetensors (ONNX models and Hugging Face folders where "
                    + "the command's description says so).")
    Path model;

    @Option(names = "--arch", paramLabel = "ARCH", description = "Architecture (default: inferred from the checkpoint).")
    String arch;
}
