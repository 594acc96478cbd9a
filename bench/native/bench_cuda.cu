// CUDA ceilings of lady_bench (compiled when the library is built with CUDA):
//   pageable host -> device -> host round trip: what the *_cuda kernels do around their launch
//   (they take host memory), counted as bytes moved both ways;
//   device-to-device cudaMemcpy: the device-memory ceiling (bytes read + written);
//   fp32 FMA peak: a register-only loop of independent FMA chains on every SM (the FLOP ceiling the
//   similarity product is measured against; its CUDA times include the transfers, so the fraction is
//   of the whole call, not of the kernel alone).
#include <cuda_runtime.h>

#include <chrono>
#include <cstring>
#include <vector>

#include "bench.h"

namespace bench {

namespace {
// The fastest of `reps` timed runs of `work` on the default stream (CUDA events), after one untimed run.
template <typename Work>
float best_event_ms(int reps, Work work) {
    cudaEvent_t start, stop;
    cudaEventCreate(&start);
    cudaEventCreate(&stop);
    float best = 1e30f;
    for (int r = 0; r < reps + 1; ++r) {
        cudaEventRecord(start);
        work();
        cudaEventRecord(stop);
        cudaEventSynchronize(stop);
        float ms = 0;
        cudaEventElapsedTime(&ms, start, stop);
        if (r > 0 && ms < best) best = ms;
    }
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    return best;
}
}  // namespace

double cuda_host_roundtrip_gbs(size_t bytes, int reps) {
    std::vector<char> host(bytes, 1);
    void* dev = nullptr;
    if (cudaMalloc(&dev, bytes) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    double best = 1e30;
    for (int r = 0; r < reps + 1; ++r) {
        const double t0 = now_ms();
        if (cudaMemcpy(dev, host.data(), bytes, cudaMemcpyHostToDevice) != cudaSuccess ||
            cudaMemcpy(host.data(), dev, bytes, cudaMemcpyDeviceToHost) != cudaSuccess) {
            cudaFree(dev);
            cudaGetLastError();
            return 0;
        }
        const double t1 = now_ms();
        if (r > 0 && t1 - t0 < best) best = t1 - t0;
    }
    cudaFree(dev);
    return 2.0 * (double)bytes / (best * 1e-3) / 1e9;
}

double cuda_device_memcpy_gbs(size_t bytes, int reps) {
    void *a = nullptr, *b = nullptr;
    if (cudaMalloc(&a, bytes) != cudaSuccess || cudaMalloc(&b, bytes) != cudaSuccess) {
        if (a) cudaFree(a);
        cudaGetLastError();
        return 0;
    }
    cudaMemset(a, 1, bytes);
    const float best = best_event_ms(reps, [&] { cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice); });
    cudaFree(a);
    cudaFree(b);
    if (cudaGetLastError() != cudaSuccess) return 0;
    return 2.0 * (double)bytes / ((double)best * 1e-3) / 1e9;
}

namespace {
constexpr int kFmaChains = 8;     // independent accumulators per thread: hides the FMA latency
constexpr int kFmaIters = 4096;   // loop trips per launch
constexpr int kFmaThreads = 256;  // per block
constexpr int kFmaBlocksPerSm = 8;

__global__ void fma_peak_kernel(float* out, float a, float b) {
    float acc[kFmaChains];
#pragma unroll
    for (int c = 0; c < kFmaChains; ++c) acc[c] = (float)(threadIdx.x + c);
    for (int i = 0; i < kFmaIters; ++i) {
#pragma unroll
        for (int c = 0; c < kFmaChains; ++c) acc[c] = fmaf(acc[c], a, b);
    }
    float sum = 0;
#pragma unroll
    for (int c = 0; c < kFmaChains; ++c) sum += acc[c];
    if (sum == 12345.0f) out[0] = sum;  // keeps the loop alive; never true for these inputs
}
}  // namespace

double cuda_fma_peak_gflops(int reps) {
    int device = 0, sms = 0;
    if (cudaGetDevice(&device) != cudaSuccess ||
        cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    float* out = nullptr;
    if (cudaMalloc(&out, sizeof(float)) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    const int blocks = sms * kFmaBlocksPerSm;
    const float best = best_event_ms(reps, [&] { fma_peak_kernel<<<blocks, kFmaThreads>>>(out, 0.999f, 0.001f); });
    cudaFree(out);
    if (cudaGetLastError() != cudaSuccess) return 0;
    const double flops = 2.0 * (double)blocks * kFmaThreads * kFmaIters * kFmaChains;
    return flops / ((double)best * 1e-3) / 1e9;
}

}  // namespace bench
