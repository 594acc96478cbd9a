// CUDA similarity: row normalization and the cosine matrix S = U_a * U_b^T (no cuBLAS here).
//
// Versions (llm.c style; the shipped one is the last, and it is the one the tests check):
//   v1  one thread per output, dot product from global memory   (dropped: d loads per output)
//   v2  shared-memory tiled product, 128 x 128 block tile, depth 16, 8 x 8 outputs per thread  <- shipped
// Design:
//  - normalize_rows_v1: one block per row; block reductions in double for the mean (centered form)
//    and the sum of squares, then u = (x - mean) * 1 / max(||x - mean||, 1e-12) (lady_inv_norm,
//    shared with the CPU code). Both row sets are normalized on the device before the product.
//  - cosine_tiled_v2: "NT" product C[i, j] = sum_k Ua[i, k] * Ub[j, k], both operands row-major with
//    the depth contiguous. Each 256-thread block computes a 128 x 128 tile of C; per depth step of 16
//    it loads a 128 x 16 slice of Ua and of Ub, consecutive threads reading consecutive k of a row
//    (64-byte coalesced segments), and stores them transposed (k-major) in shared memory, padded by
//    4 floats per line against bank conflicts on the transposing store. Each thread then keeps an
//    8 x 8 accumulator block in registers and reads its 8 + 8 operands per k as float4 from shared
//    memory (64 FMAs per 4 shared loads). Edges are zero-filled on load and masked on store.
//  - The host versions move a, b to the device and S back (the ABI takes host memory).
// Resources (nvcc 13.0 -Xptxas -v, from the build log native-build.build.log):
//   cosine_tiled_v2      sm_80: 134 registers, 0 bytes spill, 16896 bytes smem (2 x 16 x 132 floats)
//                        sm_90: 130 registers, 0 bytes spill, 16896 bytes smem
//                        -> 134 x 256 = 34 K of the SM's 64 K registers: one block (8 warps) per
//                        SM, register bound; latency is hidden by the 64 independent FMAs per
//                        thread per k (a next version: 128 registers via __launch_bounds__(256, 2),
//                        double-buffered smem, or TF32 tensor cores via WMMA)
//   normalize_rows_v1    27 registers, 0 spill, 2048 bytes smem (double reduction buffer)
// Not yet measured on a GPU (this session had none): correctness is covered by
// similarity_cuda_test (ctest) and the @Tag("gpu") JUnit tests, which skip without a GPU.
#include <cuda_runtime.h>

#include <algorithm>

#include "cuda_check.h"
#include "resync_common.h"
#include "resync_internal.h"

namespace {

constexpr int kNormThreads = 256;
constexpr int kTileM = 128, kTileN = 128, kTileK = 16;
constexpr int kThreadM = 8, kThreadN = 8;
constexpr int kGemmThreads = (kTileM / kThreadM) * (kTileN / kThreadN);  // 256
constexpr int kPad = 4;  // floats of padding per shared-memory line (bank conflicts, float4 alignment)

__device__ double block_sum(double v, double* shared) {
    shared[threadIdx.x] = v;
    __syncthreads();
    for (int stride = blockDim.x / 2; stride > 0; stride >>= 1) {
        if ((int)threadIdx.x < stride) shared[threadIdx.x] += shared[threadIdx.x + stride];
        __syncthreads();
    }
    const double total = shared[0];
    __syncthreads();
    return total;
}

__global__ void __launch_bounds__(kNormThreads) normalize_rows_v1(const float* __restrict__ in, float* __restrict__ out,
                                                                   int64_t d, int centered) {
    __shared__ double shared[kNormThreads];
    const float* r = in + (int64_t)blockIdx.x * d;
    float* o = out + (int64_t)blockIdx.x * d;
    double mean = 0.0;
    if (centered) {
        double s = 0.0;
        for (int64_t k = threadIdx.x; k < d; k += blockDim.x) s += r[k];
        mean = d > 0 ? block_sum(s, shared) / (double)d : 0.0;
    }
    double ss = 0.0;
    for (int64_t k = threadIdx.x; k < d; k += blockDim.x) {
        const double t = r[k] - mean;
        ss += t * t;
    }
    const double inv = lady_inv_norm(block_sum(ss, shared));
    const float fm = (float)mean, fi = (float)inv;
    for (int64_t k = threadIdx.x; k < d; k += blockDim.x) o[k] = (r[k] - fm) * fi;
}

__global__ void __launch_bounds__(kGemmThreads) cosine_tiled_v2(const float* __restrict__ ua, const float* __restrict__ ub,
                                                                float* __restrict__ c, int64_t n, int64_t m, int64_t d) {
    __shared__ __align__(16) float as[kTileK][kTileM + kPad];
    __shared__ __align__(16) float bs[kTileK][kTileN + kPad];
    const int tid = threadIdx.x;
    const int tx = tid % (kTileN / kThreadN), ty = tid / (kTileN / kThreadN);
    const int64_t row0 = (int64_t)blockIdx.y * kTileM, col0 = (int64_t)blockIdx.x * kTileN;
    float acc[kThreadM][kThreadN];
#pragma unroll
    for (int i = 0; i < kThreadM; ++i)
#pragma unroll
        for (int j = 0; j < kThreadN; ++j) acc[i][j] = 0.f;

    for (int64_t k0 = 0; k0 < d; k0 += kTileK) {
        // 128 x 16 slices of Ua and Ub: 2048 floats each, 8 per thread, k fastest across threads
#pragma unroll
        for (int l = 0; l < (kTileM * kTileK) / kGemmThreads; ++l) {
            const int idx = tid + l * kGemmThreads;
            const int r = idx / kTileK, k = idx % kTileK;
            const int64_t gk = k0 + k;
            const int64_t ga = row0 + r, gb = col0 + r;
            as[k][r] = (ga < n && gk < d) ? ua[ga * d + gk] : 0.f;
            bs[k][r] = (gb < m && gk < d) ? ub[gb * d + gk] : 0.f;
        }
        __syncthreads();
#pragma unroll
        for (int k = 0; k < kTileK; ++k) {
            float a[kThreadM], b[kThreadN];
            const float4 a0 = *reinterpret_cast<const float4*>(&as[k][ty * kThreadM]);
            const float4 a1 = *reinterpret_cast<const float4*>(&as[k][ty * kThreadM + 4]);
            const float4 b0 = *reinterpret_cast<const float4*>(&bs[k][tx * kThreadN]);
            const float4 b1 = *reinterpret_cast<const float4*>(&bs[k][tx * kThreadN + 4]);
            a[0] = a0.x; a[1] = a0.y; a[2] = a0.z; a[3] = a0.w;
            a[4] = a1.x; a[5] = a1.y; a[6] = a1.z; a[7] = a1.w;
            b[0] = b0.x; b[1] = b0.y; b[2] = b0.z; b[3] = b0.w;
            b[4] = b1.x; b[5] = b1.y; b[6] = b1.z; b[7] = b1.w;
#pragma unroll
            for (int i = 0; i < kThreadM; ++i)
#pragma unroll
                for (int j = 0; j < kThreadN; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < kThreadM; ++i) {
        const int64_t gi = row0 + ty * kThreadM + i;
        if (gi >= n) continue;
#pragma unroll
        for (int j = 0; j < kThreadN; ++j) {
            const int64_t gj = col0 + tx * kThreadN + j;
            if (gj < m) c[gi * m + gj] = acc[i][j];
        }
    }
}

// Normalizes rows [rows x d] from host `in` into the device buffer `dst`.
int32_t normalize_to_device(const float* in, int64_t rows, int64_t d, int32_t centered, lady::DeviceBuffer& dst) {
    lady::DeviceBuffer src;
    const size_t bytes = sizeof(float) * (size_t)(rows * d);
    LADY_CUDA_TRY(src.alloc(bytes));
    LADY_CUDA_TRY(dst.alloc(bytes));
    LADY_CUDA_TRY(cudaMemcpy(src.ptr, in, bytes, cudaMemcpyHostToDevice));
    if (rows > 0) {
        normalize_rows_v1<<<(unsigned)rows, kNormThreads>>>(src.as<float>(), dst.as<float>(), d, centered);
        LADY_CUDA_TRY(cudaGetLastError());
    }
    LADY_CUDA_TRY(cudaDeviceSynchronize());
    return LADY_OK;
}

// bfloat16 rows widened to float32 and multiplied by their inverse norms: u[i, k] = x[i, k] * inv[i].
__global__ void widen_bf16_v1(const unsigned short* __restrict__ in, const double* __restrict__ inv,
                              float* __restrict__ out, int64_t rows, int64_t d) {
    const int64_t total = rows * d;
    for (int64_t g = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; g < total; g += (int64_t)gridDim.x * blockDim.x)
        out[g] = __uint_as_float((unsigned)in[g] << 16) * (float)inv[g / d];
}

// Copies bfloat16 rows [rows x d] and their inverse norms from the host and widens them into `dst`.
int32_t widen_to_device(const uint16_t* in, const double* inv, int64_t rows, int64_t d, lady::DeviceBuffer& dst) {
    lady::DeviceBuffer src, norms;
    const size_t count = (size_t)(rows * d);
    LADY_CUDA_TRY(src.alloc(sizeof(uint16_t) * count));
    LADY_CUDA_TRY(norms.alloc(sizeof(double) * (size_t)rows));
    LADY_CUDA_TRY(dst.alloc(sizeof(float) * count));
    LADY_CUDA_TRY(cudaMemcpy(src.ptr, in, sizeof(uint16_t) * count, cudaMemcpyHostToDevice));
    LADY_CUDA_TRY(cudaMemcpy(norms.ptr, inv, sizeof(double) * (size_t)rows, cudaMemcpyHostToDevice));
    if (count > 0) {
        const int64_t blocks = std::min<int64_t>((int64_t)(count + kNormThreads - 1) / kNormThreads, 65535);
        widen_bf16_v1<<<(unsigned)blocks, kNormThreads>>>(src.as<unsigned short>(), norms.as<double>(), dst.as<float>(),
                                                          rows, d);
        LADY_CUDA_TRY(cudaGetLastError());
    }
    LADY_CUDA_TRY(cudaDeviceSynchronize());
    return LADY_OK;
}

// Grid dimensions are limited to 65535 in y (and int32 rows are validated already).
constexpr int64_t kMaxGridY = 65535;

}  // namespace

extern "C" int32_t lady_normalize_rows_cuda(int64_t in, int64_t out, int64_t rows, int64_t d, int32_t centered) {
    int32_t st = lady_validate_normalize("normalize_rows_cuda", in, out, rows, d);
    if (st != LADY_OK) return st;
    st = lady::require_gpu();
    if (st != LADY_OK) return st;
    if (rows == 0 || d == 0) return lady_ok();
    lady::DeviceBuffer u;
    st = normalize_to_device(reinterpret_cast<const float*>(in), rows, d, centered, u);
    if (st != LADY_OK) return st;
    LADY_CUDA_TRY(cudaMemcpy(reinterpret_cast<void*>(out), u.ptr, sizeof(float) * (size_t)(rows * d),
                             cudaMemcpyDeviceToHost));
    return lady_ok();
}

// out[n x m] (host) = ua[n x d] * ub[m x d]^T of two normalized device matrices (the tiled product).
static int32_t product_to_host(lady::DeviceBuffer& ua, lady::DeviceBuffer& ub, int64_t n, int64_t m, int64_t d, int64_t grid_x,
                               int64_t grid_y, int64_t out) {
    lady::DeviceBuffer c;
    LADY_CUDA_TRY(c.alloc(sizeof(float) * (size_t)(n * m)));
    const dim3 grid((unsigned)grid_x, (unsigned)grid_y);
    cosine_tiled_v2<<<grid, kGemmThreads>>>(ua.as<float>(), ub.as<float>(), c.as<float>(), n, m, d);
    LADY_CUDA_TRY(cudaGetLastError());
    LADY_CUDA_TRY(cudaDeviceSynchronize());
    LADY_CUDA_TRY(cudaMemcpy(reinterpret_cast<void*>(out), c.ptr, sizeof(float) * (size_t)(n * m),
                             cudaMemcpyDeviceToHost));
    return lady_ok();
}

extern "C" int32_t lady_cosine_similarity_cuda(int64_t a, int64_t b, int64_t n, int64_t m, int64_t d,
                                               int32_t centered, int64_t out) {
    int32_t st = lady_validate_similarity("cosine_similarity_cuda", a, b, n, m, d, out);
    if (st != LADY_OK) return st;
    st = lady::require_gpu();
    if (st != LADY_OK) return st;
    if (n == 0 || m == 0) return lady_ok();
    const int64_t grid_y = (n + kTileM - 1) / kTileM, grid_x = (m + kTileN - 1) / kTileN;
    if (grid_y > kMaxGridY)
        return lady_fail(LADY_ERR_INVALID_ARGUMENT, "cosine_similarity_cuda: %lld rows exceed the grid limit of %lld",
                         (long long)n, (long long)(kMaxGridY * kTileM));
    lady::DeviceBuffer ua, ub;
    st = normalize_to_device(reinterpret_cast<const float*>(a), n, d, centered, ua);
    if (st != LADY_OK) return st;
    st = normalize_to_device(reinterpret_cast<const float*>(b), m, d, centered, ub);
    if (st != LADY_OK) return st;
    return product_to_host(ua, ub, n, m, d, grid_x, grid_y, out);
}

extern "C" int32_t lady_cosine_similarity_bf16_cuda(int64_t a, int64_t b, int64_t n, int64_t m, int64_t d,
                                                    int64_t inv_a, int64_t inv_b, int64_t out) {
    int32_t st = lady_validate_similarity_bf16("cosine_similarity_bf16_cuda", a, b, n, m, d, inv_a, inv_b, out);
    if (st != LADY_OK) return st;
    st = lady::require_gpu();
    if (st != LADY_OK) return st;
    if (n == 0 || m == 0) return lady_ok();
    const int64_t grid_y = (n + kTileM - 1) / kTileM, grid_x = (m + kTileN - 1) / kTileN;
    if (grid_y > kMaxGridY)
        return lady_fail(LADY_ERR_INVALID_ARGUMENT,
                         "cosine_similarity_bf16_cuda: %lld rows exceed the grid limit of %lld", (long long)n,
                         (long long)(kMaxGridY * kTileM));
    lady::DeviceBuffer ua, ub;
    st = widen_to_device(reinterpret_cast<const uint16_t*>(a), reinterpret_cast<const double*>(inv_a), n, d, ua);
    if (st != LADY_OK) return st;
    st = widen_to_device(reinterpret_cast<const uint16_t*>(b), reinterpret_cast<const double*>(inv_b), m, d, ub);
    if (st != LADY_OK) return st;
    return product_to_host(ua, ub, n, m, d, grid_x, grid_y, out);
}
