// Optimized CPU batched permutation.
//
// Design: every tensor [outer, n, row] is cut into tasks (tensor t, outer slice o, column chunk c).
// A task copies the chunk's n pieces (each `w` bytes wide) into a per-thread scratch buffer, then
// writes them back gathered: row j <- scratch[perm[j]]. Each byte is read once and written once,
// which is the minimum for an in-place permutation; the scratch (n * w bytes, at most
// kScratchBytes) stays in the caches. Chunks make the work parallel even for a single huge
// tensor (4096 x 25088 rows of torchvision VGG16's classifier) and keep the strided passes few:
// w is at least kMinChunkBytes wide so that each row visit moves whole cache lines.
// Long rows (at least kCycleRowBytes, e.g. conv and Linear producer rows) take another path: the
// permutation's cycles are followed (row j <- row perm[j] along each cycle, the cycle's first row
// saved aside), one column chunk per task, so every row is moved by one contiguous memcpy from its
// source to its destination: no scratch round trip, no strided 2 KiB pieces over 100 KB rows.
// Threads take tasks from a shared counter (tasks differ in size: a weight chunk vs a bias).
#include <algorithm>
#include <atomic>
#include <cstring>
#include <new>
#include <vector>

#include "lady_common.h"
#include "lady_internal.h"
#include "parallel.h"

namespace {

constexpr int64_t kScratchBytes = int64_t(8) << 20;  // per thread
constexpr int64_t kMinChunkBytes = 256;
constexpr int64_t kCycleRowBytes = 4096;      // rows at least this long follow the cycles
constexpr int64_t kCycleChunkBytes = 64 << 10;  // column chunk of one cycle task (at most)

struct Plan {
    int32_t tensor;
    int64_t chunk_bytes;  // w
    int64_t chunks;       // per outer slice
    int64_t tasks;        // outer * chunks
    bool cycles;          // follow the cycles of perm (long rows) instead of the scratch gather
};

// Columns [off, off + w) of outer slice o: for each cycle (leader l, l -> perm[l] -> ...), row j
// receives row perm[j] before that row is itself overwritten; the leader's row waits in `tmp`.
inline void cycle_chunk(char* base, int64_t o, int64_t n, int64_t rb, int64_t off, int64_t w, const int64_t* perm,
                        const std::vector<int64_t>& leaders, char* tmp) {
    for (int64_t l : leaders) {
        std::memcpy(tmp, base + lady_row_offset(o, l, n, rb) + off, (size_t)w);
        int64_t j = l;
        while (perm[j] != l) {
            std::memcpy(base + lady_row_offset(o, j, n, rb) + off, base + lady_row_offset(o, perm[j], n, rb) + off,
                        (size_t)w);
            j = perm[j];
        }
        std::memcpy(base + lady_row_offset(o, j, n, rb) + off, tmp, (size_t)w);
    }
}

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
    const int64_t max_threads = lady_get_num_threads();
    for (int32_t t = 0; t < count; ++t) {
        const int64_t rb = row_bytes[t];
        if (outer[t] == 0 || rb == 0) continue;
        if (rb >= kCycleRowBytes) {
            // enough equal column chunks for every thread, each at most kCycleChunkBytes
            int64_t chunks = std::max((rb + kCycleChunkBytes - 1) / kCycleChunkBytes, outer[t] >= max_threads ? 1 : max_threads);
            int64_t w = ((rb + chunks - 1) / chunks + 63) / 64 * 64;
            chunks = (rb + w - 1) / w;
            plans.push_back({t, w, chunks, outer[t] * chunks, true});
            starts.push_back(starts.back() + outer[t] * chunks);
            total_bytes += outer[t] * n * rb;
            continue;
        }
        int64_t w = std::max(kMinChunkBytes, kScratchBytes / n);
        if (w >= rb) {
            w = rb;
        } else {
            w = (w / 64) * 64;  // whole cache lines
        }
        const int64_t chunks = (rb + w - 1) / w;
        plans.push_back({t, w, chunks, outer[t] * chunks, false});
        starts.push_back(starts.back() + outer[t] * chunks);
        total_bytes += outer[t] * n * rb;
    }
    if (plans.empty()) return lady_ok();
    const int64_t total_tasks = starts.back();
    const int32_t threads = lady::threads_for_bytes(total_bytes);
    int64_t max_w = 0, max_cycle_w = 0;
    for (const Plan& p : plans) {
        if (p.cycles) max_cycle_w = std::max(max_cycle_w, p.chunk_bytes);
        else max_w = std::max(max_w, p.chunk_bytes);
    }
    const int64_t scratch_bytes = std::max(n * max_w, max_cycle_w);

    try {
        // cycle leaders (smallest index of each cycle of length >= 2), for the long-row path
        std::vector<int64_t> leaders;
        if (max_cycle_w > 0) {
            std::vector<char> seen((size_t)n, 0);
            for (int64_t i = 0; i < n; ++i) {
                if (seen[(size_t)i]) continue;
                int64_t j = i, len = 0;
                do {
                    seen[(size_t)j] = 1;
                    j = perm[j];
                    ++len;
                } while (j != i);
                if (len > 1) leaders.push_back(i);
            }
        }
        std::atomic<int64_t> next{0};
        lady::parallel_ranges(threads, threads, [&](int32_t, int64_t, int64_t) {
            std::vector<char> scratch((size_t)scratch_bytes);
            for (int64_t g = next.fetch_add(1); g < total_tasks; g = next.fetch_add(1)) {
                const int32_t s = lady_find_segment(starts.data(), (int32_t)plans.size(), g);
                const Plan& p = plans[(size_t)s];
                const int64_t local = g - starts[(size_t)s];
                const int64_t o = local / p.chunks, c = local % p.chunks;
                const int64_t rb = row_bytes[p.tensor];
                const int64_t off = c * p.chunk_bytes;
                const int64_t w = std::min(p.chunk_bytes, rb - off);
                char* base = reinterpret_cast<char*>(addresses[p.tensor]);
                if (p.cycles) cycle_chunk(base, o, n, rb, off, w, perm, leaders, scratch.data());
                else gather_chunk(base, o, n, rb, off, w, perm, scratch.data());
            }
        });
    } catch (const std::bad_alloc&) {
        return lady_fail(LADY_ERR_OUT_OF_MEMORY, "permute_cpu: cannot allocate %lld bytes of scratch per thread",
                         (long long)scratch_bytes);
    } catch (const std::exception& e) {
        return lady_fail(LADY_ERR_INTERNAL, "permute_cpu: %s", e.what());
    }
    return lady_ok();
}
