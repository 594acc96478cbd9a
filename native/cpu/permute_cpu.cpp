// Optimized CPU batched permutation.
//
// Design: every tensor [outer, n, row] is cut into tasks (tensor t, outer slice o, column chunk c).
// A task copies the chunk's n pieces (each `w` bytes wide) into a per-thread scratch buffer, then
// writes them back gathered: row j <- scratch[perm[j]]. Each byte is read once and written once,
// which is the minimum for an in-place permutation; the scratch (n * w bytes, at most
// kScratchBytes) stays in the caches. Chunks make the work parallel even for a single huge
// tensor (4096 x 25088 rows of torchvision VGG16's classifier) and keep the strided passes few:
// w is at least kMinChunkBytes wide so that each row visit moves whole cache lines.
// Tasks are split over threads in contiguous ranges of equal byte count.
#include <algorithm>
#include <cstring>
#include <new>
#include <vector>

#include "lady_common.h"
#include "lady_internal.h"
#include "parallel.h"

namespace {

constexpr int64_t kScratchBytes = int64_t(8) << 20;  // per thread
constexpr int64_t kMinChunkBytes = 256;

struct Plan {
    int32_t tensor;
    int64_t chunk_bytes;  // w
    int64_t chunks;       // per outer slice
    int64_t tasks;        // outer * chunks
};

inline void gather_chunk(char* base, int64_t o, int64_t n, int64_t rb, int64_t off, int64_t w,
                         const int64_t* perm, char* scratch) {
    for (int64_t j = 0; j < n; ++j)
        std::memcpy(scratch + j * w, base + lady_row_offset(o, j, n, rb) + off, (size_t)w);
    if (w == 4) {  // vectors of a single float: bias, BN statistics
        for (int64_t j = 0; j < n; ++j)
            std::memcpy(base + lady_row_offset(o, j, n, rb) + off, scratch + perm[j] * 4, 4);
    } else {
        for (int64_t j = 0; j < n; ++j)
            std::memcpy(base + lady_row_offset(o, j, n, rb) + off, scratch + perm[j] * w, (size_t)w);
    }
}

}  // namespace

extern "C" int32_t lady_permute_cpu(int32_t count, const int64_t* addresses, const int64_t* outer,
                                    const int64_t* row_bytes, const int64_t* perm, int64_t n) {
    int32_t st = lady_validate_permute(count, addresses, outer, row_bytes, perm, n);
    if (st != LADY_OK) return st;
    if (n <= 1) return lady_ok();

    std::vector<Plan> plans;
    std::vector<int64_t> starts(1, 0);  // prefix of tasks
    int64_t total_bytes = 0;
    for (int32_t t = 0; t < count; ++t) {
        const int64_t rb = row_bytes[t];
        if (outer[t] == 0 || rb == 0) continue;
        int64_t w = std::max(kMinChunkBytes, kScratchBytes / n);
        if (w >= rb) {
            w = rb;
        } else {
            w = (w / 64) * 64;  // whole cache lines
        }
        const int64_t chunks = (rb + w - 1) / w;
        plans.push_back({t, w, chunks, outer[t] * chunks});
        starts.push_back(starts.back() + outer[t] * chunks);
        total_bytes += outer[t] * n * rb;
    }
    if (plans.empty()) return lady_ok();
    const int64_t total_tasks = starts.back();
    const int32_t threads = lady::threads_for_bytes(total_bytes);
    int64_t max_w = 0;
    for (const Plan& p : plans) max_w = std::max(max_w, p.chunk_bytes);

    try {
        lady::parallel_ranges(total_tasks, threads, [&](int32_t, int64_t begin, int64_t end) {
            std::vector<char> scratch((size_t)(n * max_w));
            for (int64_t g = begin; g < end; ++g) {
                const int32_t s = lady_find_segment(starts.data(), (int32_t)plans.size(), g);
                const Plan& p = plans[(size_t)s];
                const int64_t local = g - starts[(size_t)s];
                const int64_t o = local / p.chunks, c = local % p.chunks;
                const int64_t rb = row_bytes[p.tensor];
                const int64_t off = c * p.chunk_bytes;
                const int64_t w = std::min(p.chunk_bytes, rb - off);
                gather_chunk(reinterpret_cast<char*>(addresses[p.tensor]), o, n, rb, off, w, perm, scratch.data());
            }
        });
    } catch (const std::bad_alloc&) {
        return lady_fail(LADY_ERR_OUT_OF_MEMORY, "permute_cpu: cannot allocate %lld bytes of scratch per thread",
                         (long long)(n * max_w));
    } catch (const std::exception& e) {
        return lady_fail(LADY_ERR_INTERNAL, "permute_cpu: %s", e.what());
    }
    return lady_ok();
}
