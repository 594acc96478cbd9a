// cuda_check.h: turning CUDA runtime errors into Lady statuses, and RAII device buffers.
#ifndef LADY_CUDA_CHECK_H
#define LADY_CUDA_CHECK_H

#include <cuda_runtime.h>

#include "lady_internal.h"

#define LADY_CUDA_TRY(call)                                                                      \
    do {                                                                                         \
        cudaError_t lady_err_ = (call);                                                          \
        if (lady_err_ != cudaSuccess) {                                                          \
            cudaGetLastError();                                                                  \
            return lady_fail(lady_err_ == cudaErrorMemoryAllocation ? LADY_ERR_OUT_OF_MEMORY     \
                                                                    : LADY_ERR_CUDA,             \
                             "%s:%d %s: %s", __FILE__, __LINE__, #call,                          \
                             cudaGetErrorString(lady_err_));                                     \
        }                                                                                        \
    } while (0)

namespace lady {

// A device allocation freed when it goes out of scope (also on every early error return).
struct DeviceBuffer {
    void* ptr = nullptr;
    DeviceBuffer() = default;
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;
    ~DeviceBuffer() {
        if (ptr) cudaFree(ptr);
    }
    cudaError_t alloc(size_t bytes) { return cudaMalloc(&ptr, bytes == 0 ? 1 : bytes); }
    template <class T>
    T* as() const { return static_cast<T*>(ptr); }
};

// Fails with LADY_ERR_NO_CUDA when no GPU is usable (before any allocation).
inline int32_t require_gpu() {
    int n = 0;
    cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess || n == 0) {
        cudaGetLastError();
        return lady_fail(LADY_ERR_NO_CUDA, "no usable GPU: %s",
                         err != cudaSuccess ? cudaGetErrorString(err) : "0 devices");
    }
    return LADY_OK;
}

}  // namespace lady

#endif
