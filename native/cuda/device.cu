// CUDA device facts: compiled-in architectures, GPU count and names.
// The runtime is linked statically, so this library loads on machines with no driver at all;
// there cudaGetDeviceCount fails and we report why instead of crashing.
#include <cuda_runtime.h>

#include <cstring>

#include "lady_internal.h"

#ifndef LADY_CUDA_ARCHS
#define LADY_CUDA_ARCHS ""
#endif

extern "C" int32_t lady_cuda_compiled(void) { return 1; }

extern "C" const char* lady_cuda_architectures(void) { return LADY_CUDA_ARCHS; }

extern "C" int32_t lady_cuda_device_count(int32_t* count) {
    if (count == nullptr) return lady_fail(LADY_ERR_INVALID_ARGUMENT, "cuda_device_count: null output");
    int n = 0;
    cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess) {
        *count = 0;
        cudaGetLastError();  // clear the sticky error
        return lady_fail(LADY_ERR_NO_CUDA, "no usable GPU: %s", cudaGetErrorString(err));
    }
    *count = n;
    if (n == 0) return lady_fail(LADY_ERR_NO_CUDA, "no usable GPU: the CUDA runtime sees 0 devices");
    return lady_ok();
}

extern "C" int32_t lady_cuda_device_name(int32_t device, char* buf, int32_t len) {
    if (buf == nullptr || len <= 0) return lady_fail(LADY_ERR_INVALID_ARGUMENT, "cuda_device_name: bad buffer");
    cudaDeviceProp prop;
    cudaError_t err = cudaGetDeviceProperties(&prop, device);
    if (err != cudaSuccess) {
        buf[0] = '\0';
        cudaGetLastError();
        return lady_fail(LADY_ERR_NO_CUDA, "GPU %d: %s", device, cudaGetErrorString(err));
    }
    std::strncpy(buf, prop.name, (size_t)len - 1);
    buf[len - 1] = '\0';
    return lady_ok();
}
