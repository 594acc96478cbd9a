// CUDA ranking: per-row argmax with second best, per-row top-k, canonical sort.
//
// Versions (llm.c style; the shipped ones are marked):
//   argmax_top2_v1  one warp per row: lanes stride over the columns (coalesced), each keeps a
//                   lady_top2 (shared with the CPU code), then a shuffle-tree merge with
//                   lady_top2_merge; 8 rows per 256-thread block                           <- shipped
//   topk            CUB cub::DeviceSegmentedSort::StableSortPairsDescending, one segment per row,
//                   keys = values (lady_sort_key: -0.0 as +0.0), values = column indices; the first k
//                   of each segment are gathered with their original values               <- shipped
//                   (a per-row selection would move less memory for small k; not needed yet)
//   sort_desc       CUB cub::DeviceRadixSort::SortPairsDescending (a stable LSD radix sort, so ties
//                   keep the lower index first, as the reference's stable sort)            <- shipped
// Resources (nvcc 13.0 -Xptxas -v, sm_80 and sm_90): argmax_top2_v1 20 registers, 0 spill, no
// shared memory; the helper kernels (keys, offsets, gather) are as small; CUB's kernels: no spill.
// Not yet run on a GPU in this session; ranking_cuda_test and the @Tag("gpu") tests check them.
#include <cuda_runtime.h>

#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_segmented_sort.cuh>

#include "cuda_check.h"
#include "resync_common.h"
#include "resync_internal.h"

namespace {

constexpr int kWarp = 32;
constexpr int kRowsPerBlock = 8;
constexpr int kThreads = 256;

__global__ void __launch_bounds__(kWarp * kRowsPerBlock) argmax_top2_v1(const float* __restrict__ s, int64_t n, int64_t m,
                                                                         int32_t* __restrict__ index,
                                                                         float* __restrict__ best,
                                                                         float* __restrict__ second) {
    const int lane = threadIdx.x % kWarp;
    const int64_t row = (int64_t)blockIdx.x * kRowsPerBlock + threadIdx.x / kWarp;
    if (row >= n) return;  // whole warps leave together
    const float* r = s + row * m;
    lady_top2 t = lady_top2_empty();
    for (int64_t j = lane; j < m; j += kWarp) t = lady_top2_push(t, r[j], j);
#pragma unroll
    for (int offset = kWarp / 2; offset > 0; offset >>= 1) {
        lady_top2 o;
        o.best = __shfl_down_sync(0xffffffffu, t.best, offset);
        o.second = __shfl_down_sync(0xffffffffu, t.second, offset);
        o.index = __shfl_down_sync(0xffffffffu, t.index, offset);
        t = lady_top2_merge(t, o);
    }
    if (lane == 0) {
        index[row] = (int32_t)t.index;
        best[row] = t.best;
        second[row] = t.second;
    }
}

__global__ void keys_and_columns(const float* __restrict__ s, float* __restrict__ keys, int32_t* __restrict__ cols,
                                 int64_t total, int64_t m) {
    for (int64_t g = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; g < total; g += (int64_t)gridDim.x * blockDim.x) {
        keys[g] = lady_sort_key(s[g]);
        cols[g] = (int32_t)(g % m);
    }
}

__global__ void segment_offsets(int64_t* __restrict__ offsets, int64_t n, int64_t m) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i <= n; i += (int64_t)gridDim.x * blockDim.x)
        offsets[i] = i * m;
}

__global__ void gather_topk(const float* __restrict__ s, const int32_t* __restrict__ sorted_cols, int64_t n, int64_t m,
                            int64_t k, int32_t* __restrict__ indices, float* __restrict__ values) {
    for (int64_t g = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; g < n * k; g += (int64_t)gridDim.x * blockDim.x) {
        const int64_t i = g / k, t = g % k;
        const int32_t j = sorted_cols[i * m + t];
        indices[g] = j;
        values[g] = s[i * m + j];
    }
}

// Enough blocks for a grid-stride loop over `total` items.
constexpr int64_t kMaxBlocks = 65535;
unsigned blocks_for(int64_t total) {
    int64_t b = (total + kThreads - 1) / kThreads;
    return (unsigned)(b < 1 ? 1 : (b > kMaxBlocks ? kMaxBlocks : b));
}

}  // namespace

extern "C" int32_t lady_argmax_top2_cuda(int64_t s, int64_t n, int64_t m, int64_t index, int64_t best,
                                         int64_t second) {
    int32_t st = lady_validate_argmax("argmax_top2_cuda", s, n, m, index, best, second);
    if (st != LADY_OK) return st;
    st = lady::require_gpu();
    if (st != LADY_OK) return st;
    if (n == 0) return lady_ok();
    lady::DeviceBuffer ds, di, db, d2;
    LADY_CUDA_TRY(ds.alloc(sizeof(float) * (size_t)(n * m)));
    LADY_CUDA_TRY(di.alloc(sizeof(int32_t) * (size_t)n));
    LADY_CUDA_TRY(db.alloc(sizeof(float) * (size_t)n));
    LADY_CUDA_TRY(d2.alloc(sizeof(float) * (size_t)n));
    LADY_CUDA_TRY(cudaMemcpy(ds.ptr, reinterpret_cast<const void*>(s), sizeof(float) * (size_t)(n * m),
                             cudaMemcpyHostToDevice));
    const int64_t blocks = (n + kRowsPerBlock - 1) / kRowsPerBlock;
    argmax_top2_v1<<<(unsigned)blocks, kWarp * kRowsPerBlock>>>(ds.as<float>(), n, m, di.as<int32_t>(), db.as<float>(),
                                                               d2.as<float>());
    LADY_CUDA_TRY(cudaGetLastError());
    LADY_CUDA_TRY(cudaMemcpy(reinterpret_cast<void*>(index), di.ptr, sizeof(int32_t) * (size_t)n, cudaMemcpyDeviceToHost));
    LADY_CUDA_TRY(cudaMemcpy(reinterpret_cast<void*>(best), db.ptr, sizeof(float) * (size_t)n, cudaMemcpyDeviceToHost));
    LADY_CUDA_TRY(cudaMemcpy(reinterpret_cast<void*>(second), d2.ptr, sizeof(float) * (size_t)n, cudaMemcpyDeviceToHost));
    return lady_ok();
}

extern "C" int32_t lady_topk_cuda(int64_t s, int64_t n, int64_t m, int64_t k, int64_t indices, int64_t values) {
    int32_t st = lady_validate_topk("topk_cuda", s, n, m, k, indices, values);
    if (st != LADY_OK) return st;
    st = lady::require_gpu();
    if (st != LADY_OK) return st;
    if (n == 0) return lady_ok();
    const int64_t total = n * m;
    lady::DeviceBuffer ds, keys_in, keys_out, cols_in, cols_out, offsets, temp, di, dv;
    LADY_CUDA_TRY(ds.alloc(sizeof(float) * (size_t)total));
    LADY_CUDA_TRY(keys_in.alloc(sizeof(float) * (size_t)total));
    LADY_CUDA_TRY(keys_out.alloc(sizeof(float) * (size_t)total));
    LADY_CUDA_TRY(cols_in.alloc(sizeof(int32_t) * (size_t)total));
    LADY_CUDA_TRY(cols_out.alloc(sizeof(int32_t) * (size_t)total));
    LADY_CUDA_TRY(offsets.alloc(sizeof(int64_t) * (size_t)(n + 1)));
    LADY_CUDA_TRY(di.alloc(sizeof(int32_t) * (size_t)(n * k)));
    LADY_CUDA_TRY(dv.alloc(sizeof(float) * (size_t)(n * k)));
    LADY_CUDA_TRY(cudaMemcpy(ds.ptr, reinterpret_cast<const void*>(s), sizeof(float) * (size_t)total, cudaMemcpyHostToDevice));
    keys_and_columns<<<blocks_for(total), kThreads>>>(ds.as<float>(), keys_in.as<float>(), cols_in.as<int32_t>(), total, m);
    LADY_CUDA_TRY(cudaGetLastError());
    segment_offsets<<<blocks_for(n + 1), kThreads>>>(offsets.as<int64_t>(), n, m);
    LADY_CUDA_TRY(cudaGetLastError());
    size_t temp_bytes = 0;
    LADY_CUDA_TRY(cub::DeviceSegmentedSort::StableSortPairsDescending(
        nullptr, temp_bytes, keys_in.as<float>(), keys_out.as<float>(), cols_in.as<int32_t>(), cols_out.as<int32_t>(),
        total, n, offsets.as<int64_t>(), offsets.as<int64_t>() + 1));
    LADY_CUDA_TRY(temp.alloc(temp_bytes));
    LADY_CUDA_TRY(cub::DeviceSegmentedSort::StableSortPairsDescending(
        temp.ptr, temp_bytes, keys_in.as<float>(), keys_out.as<float>(), cols_in.as<int32_t>(), cols_out.as<int32_t>(),
        total, n, offsets.as<int64_t>(), offsets.as<int64_t>() + 1));
    gather_topk<<<blocks_for(n * k), kThreads>>>(ds.as<float>(), cols_out.as<int32_t>(), n, m, k, di.as<int32_t>(),
                                                  dv.as<float>());
    LADY_CUDA_TRY(cudaGetLastError());
    LADY_CUDA_TRY(cudaMemcpy(reinterpret_cast<void*>(indices), di.ptr, sizeof(int32_t) * (size_t)(n * k),
                             cudaMemcpyDeviceToHost));
    LADY_CUDA_TRY(cudaMemcpy(reinterpret_cast<void*>(values), dv.ptr, sizeof(float) * (size_t)(n * k),
                             cudaMemcpyDeviceToHost));
    return lady_ok();
}

extern "C" int32_t lady_sort_desc_cuda(int64_t scores, int64_t n, int64_t order) {
    int32_t st = lady_validate_sort("sort_desc_cuda", scores, n, order);
    if (st != LADY_OK) return st;
    st = lady::require_gpu();
    if (st != LADY_OK) return st;
    if (n == 0) return lady_ok();
    lady::DeviceBuffer ds, keys_in, keys_out, idx_in, idx_out, temp;
    LADY_CUDA_TRY(ds.alloc(sizeof(float) * (size_t)n));
    LADY_CUDA_TRY(keys_in.alloc(sizeof(float) * (size_t)n));
    LADY_CUDA_TRY(keys_out.alloc(sizeof(float) * (size_t)n));
    LADY_CUDA_TRY(idx_in.alloc(sizeof(int32_t) * (size_t)n));
    LADY_CUDA_TRY(idx_out.alloc(sizeof(int32_t) * (size_t)n));
    LADY_CUDA_TRY(cudaMemcpy(ds.ptr, reinterpret_cast<const void*>(scores), sizeof(float) * (size_t)n, cudaMemcpyHostToDevice));
    // one "row" of n columns: column index = position
    keys_and_columns<<<blocks_for(n), kThreads>>>(ds.as<float>(), keys_in.as<float>(), idx_in.as<int32_t>(), n, n);
    LADY_CUDA_TRY(cudaGetLastError());
    size_t temp_bytes = 0;
    LADY_CUDA_TRY(cub::DeviceRadixSort::SortPairsDescending(nullptr, temp_bytes, keys_in.as<float>(), keys_out.as<float>(),
                                                            idx_in.as<int32_t>(), idx_out.as<int32_t>(), n));
    LADY_CUDA_TRY(temp.alloc(temp_bytes));
    LADY_CUDA_TRY(cub::DeviceRadixSort::SortPairsDescending(temp.ptr, temp_bytes, keys_in.as<float>(), keys_out.as<float>(),
                                                            idx_in.as<int32_t>(), idx_out.as<int32_t>(), n));
    LADY_CUDA_TRY(cudaMemcpy(reinterpret_cast<void*>(order), idx_out.ptr, sizeof(int32_t) * (size_t)n,
                             cudaMemcpyDeviceToHost));
    return lady_ok();
}
