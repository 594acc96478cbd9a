// Optimized CPU whole-network permutation (two axes per tensor, whole batch in one call).
//
// Design: in place, each byte read once and written once, like a plain copy.
//  - Axis 0 is permuted by following the cycles of p0: row i receives old row p0[i], so walking a
//    cycle i0 -> p0[i0] -> ... each row is read (gathered along axis 1 by p1 on the way) straight
//    into its destination before that source row is itself overwritten. Only the cycle's first
//    row must be saved beforehand.
//  - Long cycles are cut into segments of about `target` bytes so that one big tensor (VGG16's
//    4096 x 25088 classifier.0, 411 MB, whose p0 usually has one huge cycle) is spread over all
//    threads: phase 1 saves the head row of every segment into a side buffer (a few rows in all),
//    phase 2 runs the segments in parallel; a segment's last row reads the next segment's head from
//    the side buffer.
//  - Rows that stay in place (no p0, or a fixed point of p0) but have a p1 are permuted along axis
//    1 through a one-row scratch per thread, which stays in the caches.
//  - Phase 2 tasks are split over threads in contiguous ranges of equal byte count.
// Measured (2-core machine, heavily loaded, 2026-11-25): all 15 groups of torchvision VGG16
// (553 MB, 32 tensors) in 0.32-0.37 s vs 0.24-0.25 s for a single-threaded memcpy of the same
// bytes (ratio 1.25-1.55); from Java (Permuter.applyInPlace) 0.39-0.59 s vs 0.47-0.57 s for
// libtorch copy_ of every tensor (ratio 0.84-1.04). Target: within 2x of a plain copy.
#include <algorithm>
#include <cstring>
#include <new>
#include <vector>

#include "lady_common.h"
#include "parallel.h"
#include "permute_tensors_internal.h"

namespace {

constexpr int64_t kMinTaskBytes = int64_t(1) << 20;

struct Task {
    int32_t tensor;
    bool chain;         // a cycle segment (true) or rows permuted in place along axis 1 (false)
    int64_t first;      // rows are rows_list[first, last)
    int64_t last;
    int64_t own_head;   // chain: byte offset in the head buffer of this segment's first row
    int64_t next_head;  // chain: byte offset of the row the segment's last row receives
    int64_t bytes;
};

template <int64_t U>
inline void gather_units_fixed(char* dst, const char* src, int64_t n1, const int64_t* p1) {
    for (int64_t j = 0; j < n1; ++j) std::memcpy(dst + j * U, src + lady_permuted_index(j, p1) * U, (size_t)U);
}

// dst row = src row gathered along axis 1 by p1 (a plain copy when p1 is null). dst != src.
inline void gather_row(char* dst, const char* src, const lady::Tensor2& t) {
    if (t.p1 == nullptr) {
        std::memcpy(dst, src, (size_t)t.row_bytes);
        return;
    }
    switch (t.unit_bytes) {
        case 4: gather_units_fixed<4>(dst, src, t.n1, t.p1); return;      // Linear consumers, float
        case 8: gather_units_fixed<8>(dst, src, t.n1, t.p1); return;
        case 36: gather_units_fixed<36>(dst, src, t.n1, t.p1); return;    // 3x3 conv consumers, float
        default:
            for (int64_t j = 0; j < t.n1; ++j)
                std::memcpy(dst + j * t.unit_bytes, src + lady_permuted_index(j, t.p1) * t.unit_bytes,
                            (size_t)t.unit_bytes);
    }
}

}  // namespace

extern "C" int32_t lady_permute_tensors_cpu(int32_t count, const int64_t* addresses, const int64_t* dims,
                                            const int64_t* perm_offsets, const int64_t* perms,
                                            int64_t perms_length) {
    std::vector<lady::Tensor2> tensors;
    int32_t st = lady::validate_permute_tensors("permute_tensors_cpu", count, addresses, dims, perm_offsets, perms,
                                                perms_length, tensors);
    if (st != LADY_OK) return st;
    if (tensors.empty()) return lady_ok();
    try {
        int64_t total_bytes = 0;
        for (const auto& t : tensors) total_bytes += t.bytes();
        const int32_t threads = lady::threads_for_bytes(2 * total_bytes);
        const int64_t target = std::max(kMinTaskBytes, total_bytes / (int64_t(threads) * 8));

        // ---- plan: cycle segments and in-place runs ----
        std::vector<Task> tasks;
        std::vector<int64_t> rows_list;
        int64_t head_bytes = 0, scratch_bytes = 0;
        std::vector<unsigned char> visited;
        std::vector<int64_t> cycle;
        for (int32_t ti = 0; ti < (int32_t)tensors.size(); ++ti) {
            const lady::Tensor2& t = tensors[(size_t)ti];
            const int64_t per_task = std::max<int64_t>(1, target / t.row_bytes);
            auto add_local = [&](int64_t row) {  // a row permuted in place along axis 1
                if (t.p1 == nullptr) return;
                if (tasks.empty() || tasks.back().tensor != ti || tasks.back().chain ||
                    tasks.back().last - tasks.back().first >= per_task) {
                    tasks.push_back({ti, false, (int64_t)rows_list.size(), (int64_t)rows_list.size(), -1, -1, 0});
                }
                rows_list.push_back(row);
                tasks.back().last++;
                tasks.back().bytes += t.row_bytes;
                scratch_bytes = std::max(scratch_bytes, t.row_bytes);
            };
            if (t.p0 == nullptr) {
                for (int64_t i = 0; i < t.rows; ++i) add_local(i);
                continue;
            }
            visited.assign((size_t)t.rows, 0);
            for (int64_t i0 = 0; i0 < t.rows; ++i0) {
                if (visited[(size_t)i0]) continue;
                if (t.p0[i0] == i0) {
                    visited[(size_t)i0] = 1;
                    add_local(i0);
                    continue;
                }
                cycle.clear();
                for (int64_t i = i0; !visited[(size_t)i]; i = t.p0[i]) {
                    visited[(size_t)i] = 1;
                    cycle.push_back(i);
                }
                const int64_t len = (int64_t)cycle.size();
                const size_t first_task = tasks.size();
                for (int64_t a = 0; a < len; a += per_task) {
                    const int64_t b = std::min(len, a + per_task);
                    const int64_t at = (int64_t)rows_list.size();
                    rows_list.insert(rows_list.end(), cycle.begin() + a, cycle.begin() + b);
                    tasks.push_back({ti, true, at, at + (b - a), head_bytes, -1, (b - a) * t.row_bytes});
                    head_bytes += t.row_bytes;
                }
                for (size_t k = first_task; k < tasks.size(); ++k)
                    tasks[k].next_head = (k + 1 < tasks.size() ? tasks[k + 1] : tasks[first_task]).own_head;
            }
        }
        if (tasks.empty()) return lady_ok();

        std::vector<char> heads((size_t)head_bytes);
        std::vector<int64_t> chain_tasks;
        for (int64_t k = 0; k < (int64_t)tasks.size(); ++k)
            if (tasks[(size_t)k].chain) chain_tasks.push_back(k);

        // ---- phase 1: save the head row of every cycle segment ----
        lady::parallel_ranges((int64_t)chain_tasks.size(), lady::threads_for_bytes(2 * head_bytes),
                              [&](int32_t, int64_t begin, int64_t end) {
                                  for (int64_t c = begin; c < end; ++c) {
                                      const Task& k = tasks[(size_t)chain_tasks[(size_t)c]];
                                      const lady::Tensor2& t = tensors[(size_t)k.tensor];
                                      std::memcpy(heads.data() + k.own_head,
                                                  t.base + rows_list[(size_t)k.first] * t.row_bytes,
                                                  (size_t)t.row_bytes);
                                  }
                              });

        // ---- phase 2: every task, split over threads by equal byte counts ----
        std::vector<int64_t> byte_starts(tasks.size() + 1, 0);
        for (size_t k = 0; k < tasks.size(); ++k) byte_starts[k + 1] = byte_starts[k] + tasks[k].bytes;
        const int64_t all = byte_starts.back();
        const int32_t parts = (int32_t)std::min<int64_t>(threads, (int64_t)tasks.size());
        lady::parallel_ranges(parts, parts, [&](int32_t, int64_t pbegin, int64_t pend) {
            std::vector<char> scratch((size_t)scratch_bytes);
            for (int64_t part = pbegin; part < pend; ++part) {
                const int64_t lo = all * part / parts, hi = all * (part + 1) / parts;
                // tasks whose first byte lies in [lo, hi)
                size_t k = (size_t)(std::lower_bound(byte_starts.begin(), byte_starts.end() - 1, lo) - byte_starts.begin());
                for (; k < tasks.size() && byte_starts[k] < hi; ++k) {
                    const Task& task = tasks[k];
                    const lady::Tensor2& t = tensors[(size_t)task.tensor];
                    if (task.chain) {
                        for (int64_t r = task.first; r < task.last; ++r) {
                            char* dst = t.base + rows_list[(size_t)r] * t.row_bytes;
                            const char* src = r + 1 < task.last ? t.base + rows_list[(size_t)r + 1] * t.row_bytes
                                                                : heads.data() + task.next_head;
                            gather_row(dst, src, t);
                        }
                    } else {
                        for (int64_t r = task.first; r < task.last; ++r) {
                            char* row = t.base + rows_list[(size_t)r] * t.row_bytes;
                            std::memcpy(scratch.data(), row, (size_t)t.row_bytes);
                            gather_row(row, scratch.data(), t);
                        }
                    }
                }
            }
        });
    } catch (const std::bad_alloc&) {
        return lady_fail(LADY_ERR_OUT_OF_MEMORY, "permute_tensors_cpu: out of host memory for the plan or scratch");
    } catch (const std::exception& e) {
        return lady_fail(LADY_ERR_INTERNAL, "permute_tensors_cpu: %s", e.what());
    }
    return lady_ok();
}
