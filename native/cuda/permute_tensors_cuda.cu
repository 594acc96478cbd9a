// CUDA whole-network permutation (two axes per tensor), the whole batch in ONE launch.
//
// Versions (llm.c style; the shipped one is the last, and it is the one the tests check):
//   v1  one warp per (tensor, row, 4 KiB piece of the row), 4-byte words, one launch   <- shipped
// Design: the host copies every tensor of the batch end to end (16-byte aligned) into one device
// buffer `src`, the permutation pool and a descriptor table go alongside, and one launch writes
// `dst`: global item g is found in its tensor by binary search over the items prefix
// (lady_find_segment), then the warp's lanes copy consecutive words of the output piece, each
// from the source offset given by lady_permute2_source_offset (the arithmetic the reference and
// the CPU tests use), so stores are coalesced and loads are coalesced within each axis-1 unit.
// Out of place on the device, in place for the caller: `dst` goes back over the host tensors.
// Rows or units whose size is not a multiple of 4 bytes use a byte loop in the same kernel.
// Resources (nvcc -Xptxas -v, sm_90): 56 registers, 0 bytes spilled, no shared memory.
// Not yet measured on a GPU (none was available when it was written); the ctest and the JUnit
// gpu-tagged test compare it with the reference bit for bit wherever a GPU is present.
#include <cuda_runtime.h>

#include <algorithm>
#include <vector>

#include "cuda_check.h"
#include "lady_common.h"
#include "permute_tensors_internal.h"

namespace {

struct Segment2 {
    int64_t byte_offset;  // of the tensor in src/dst
    int64_t row_bytes;
    int64_t unit_bytes;
    int64_t pieces;       // per row
    int64_t p0_offset;    // in the device permutation pool, -1 for none
    int64_t p1_offset;
};

constexpr int kWarpsPerBlock2 = 8;
constexpr int64_t kPieceBytes = 4096;

__global__ void permute_tensors_v1(const char* __restrict__ src, char* __restrict__ dst,
                                   const Segment2* __restrict__ segs, const int64_t* __restrict__ item_starts,
                                   int32_t count, const int64_t* __restrict__ perms, int64_t total_items) {
    const int lane = threadIdx.x & 31;
    const int64_t warp = (int64_t)blockIdx.x * kWarpsPerBlock2 + (threadIdx.x >> 5);
    const int64_t warps = (int64_t)gridDim.x * kWarpsPerBlock2;
    for (int64_t g = warp; g < total_items; g += warps) {
        const int32_t s = lady_find_segment(item_starts, count, g);
        const Segment2 seg = segs[s];
        const int64_t local = g - item_starts[s];
        const int64_t i = local / seg.pieces, c = local % seg.pieces;
        const int64_t* p0 = seg.p0_offset >= 0 ? perms + seg.p0_offset : nullptr;
        const int64_t* p1 = seg.p1_offset >= 0 ? perms + seg.p1_offset : nullptr;
        const int64_t b0 = c * kPieceBytes;
        const int64_t b1 = b0 + kPieceBytes < seg.row_bytes ? b0 + kPieceBytes : seg.row_bytes;
        const char* from = src + seg.byte_offset;
        char* to = dst + seg.byte_offset + i * seg.row_bytes;
        if ((seg.unit_bytes & 3) == 0) {  // row_bytes is then a multiple of 4 too
            for (int64_t b = b0 + 4 * lane; b < b1; b += 128)
                *reinterpret_cast<int32_t*>(to + b) = *reinterpret_cast<const int32_t*>(
                    from + lady_permute2_source_offset(i, b, seg.row_bytes, seg.unit_bytes, p0, p1));
        } else {
            for (int64_t b = b0 + lane; b < b1; b += 32)
                to[b] = from[lady_permute2_source_offset(i, b, seg.row_bytes, seg.unit_bytes, p0, p1)];
        }
    }
}

}  // namespace

extern "C" int32_t lady_permute_tensors_cuda(int32_t count, const int64_t* addresses, const int64_t* dims,
                                             const int64_t* perm_offsets, const int64_t* perms,
                                             int64_t perms_length) {
    std::vector<lady::Tensor2> tensors;
    int32_t st = lady::validate_permute_tensors("permute_tensors_cuda", count, addresses, dims, perm_offsets, perms,
                                                perms_length, tensors);
    if (st != LADY_OK) return st;
    st = lady::require_gpu();
    if (st != LADY_OK) return st;
    if (tensors.empty()) return lady_ok();

    std::vector<Segment2> segs;
    std::vector<int64_t> item_starts(1, 0);
    int64_t total_bytes = 0;
    for (const lady::Tensor2& t : tensors) {
        total_bytes = (total_bytes + 15) & ~int64_t(15);
        const int64_t pieces = (t.row_bytes + kPieceBytes - 1) / kPieceBytes;
        segs.push_back({total_bytes, t.row_bytes, t.unit_bytes, pieces, t.p0 ? (int64_t)(t.p0 - perms) : -1,
                        t.p1 ? (int64_t)(t.p1 - perms) : -1});
        item_starts.push_back(item_starts.back() + t.rows * pieces);
        total_bytes += t.bytes();
    }
    const int32_t nseg = (int32_t)segs.size();

    lady::DeviceBuffer src, dst, d_segs, d_starts, d_perms;
    LADY_CUDA_TRY(src.alloc((size_t)total_bytes));
    LADY_CUDA_TRY(dst.alloc((size_t)total_bytes));
    LADY_CUDA_TRY(d_segs.alloc(sizeof(Segment2) * segs.size()));
    LADY_CUDA_TRY(d_starts.alloc(sizeof(int64_t) * item_starts.size()));
    LADY_CUDA_TRY(d_perms.alloc(sizeof(int64_t) * (size_t)perms_length));
    for (int32_t s = 0; s < nseg; ++s) {
        const lady::Tensor2& t = tensors[(size_t)s];
        LADY_CUDA_TRY(cudaMemcpy(src.as<char>() + segs[(size_t)s].byte_offset, t.base, (size_t)t.bytes(),
                                 cudaMemcpyHostToDevice));
    }
    LADY_CUDA_TRY(cudaMemcpy(d_segs.ptr, segs.data(), sizeof(Segment2) * segs.size(), cudaMemcpyHostToDevice));
    LADY_CUDA_TRY(cudaMemcpy(d_starts.ptr, item_starts.data(), sizeof(int64_t) * item_starts.size(),
                             cudaMemcpyHostToDevice));
    if (perms_length > 0)
        LADY_CUDA_TRY(cudaMemcpy(d_perms.ptr, perms, sizeof(int64_t) * (size_t)perms_length, cudaMemcpyHostToDevice));

    const int64_t total_items = item_starts.back();
    int64_t blocks = (total_items + kWarpsPerBlock2 - 1) / kWarpsPerBlock2;
    blocks = std::min<int64_t>(blocks, 65535LL * 8);
    permute_tensors_v1<<<(unsigned)blocks, kWarpsPerBlock2 * 32>>>(src.as<char>(), dst.as<char>(),
                                                                   d_segs.as<Segment2>(), d_starts.as<int64_t>(),
                                                                   nseg, d_perms.as<int64_t>(), total_items);
    LADY_CUDA_TRY(cudaGetLastError());
    LADY_CUDA_TRY(cudaDeviceSynchronize());
    for (int32_t s = 0; s < nseg; ++s) {
        const lady::Tensor2& t = tensors[(size_t)s];
        LADY_CUDA_TRY(cudaMemcpy(t.base, dst.as<char>() + segs[(size_t)s].byte_offset, (size_t)t.bytes(),
                                 cudaMemcpyDeviceToHost));
    }
    return lady_ok();
}
