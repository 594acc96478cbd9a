package lady.kernels;

import java.util.List;

/**
 * Facts about the loaded native library.
 *
 * @param version           native library version
 * @param cpuFeatures       what the CPU supports and what the kernels were compiled for
 * @param threads           threads used by the CPU kernels
 * @param cudaCompiled      whether the CUDA kernels were compiled in (false for the stub)
 * @param cudaArchitectures compiled CUDA architectures, e.g. [80, 90]
 * @param gpuCount          usable GPUs
 * @param gpuNames          their names
 * @param noGpuReason       why there is no usable GPU ("" when there is one)
 */
public record NativeInfo(String version, String cpuFeatures, int threads, boolean cudaCompiled,
        List<String> cudaArchitectures, int gpuCount, List<String> gpuNames, String noGpuReason) {}
