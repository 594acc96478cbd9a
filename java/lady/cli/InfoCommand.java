package lady.cli;

import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

import lady.BuildInfo;
import lady.kernels.Kernels;
import lady.kernels.NativeInfo;
import lady.report.Json;
import lady.torch.Torch;

/** {@code lady info}: versions, native library, CPU features, CUDA and GPUs. */
@Command(name = "info", mixinStandardHelpOptions = true,
        description = "Show versions, the native library, CPU features, CUDA kernels and GPUs.")
final class InfoCommand implements Callable<Integer> {

    @Spec CommandSpec spec;

    @Mixin FormatOption format;

    @Override
    public Integer call() {
        Torch.init();
        NativeInfo ni = Kernels.info();
        Map<String, Object> facts = new LinkedHashMap<>();
        facts.put("version", BuildInfo.version());
        facts.put("commit", BuildInfo.commit());
        facts.put("java", System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
        facts.put("libtorch", "JavaCPP PyTorch presets " + Torch.presetsVersion() + " (CPU build)");
        facts.put("libtorch_threads", org.bytedeco.pytorch.global.torch.get_num_threads());
        facts.put("native_library", Kernels.libraryLocation());
        facts.put("native_version", ni.version());
        facts.put("cpu_features", ni.cpuFeatures());
        facts.put("kernel_threads", ni.threads());
        facts.put("cuda_kernels_compiled", ni.cudaCompiled());
        facts.put("cuda_architectures", ni.cudaArchitectures().stream().map(a -> "sm_" + a).toList());
        facts.put("gpu_count", ni.gpuCount());
        facts.put("gpus", ni.gpuNames());
        if (ni.gpuCount() == 0) {
            facts.put("no_gpu_reason", ni.noGpuReason());
        }
        PrintWriter out = spec.commandLine().getOut();
        if (format.json()) {
            out.println(Json.write(facts));
        } else {
            facts.forEach((k, v) -> out.printf("%-22s %s%n", k.replace('_', ' '), v));
        }
        return 0;
    }
}
