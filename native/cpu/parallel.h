// parallel.h: the one parallel-for of the CPU kernels (std::thread; no OpenMP, so no second
// libgomp beside libtorch's). Work is split into contiguous index ranges of roughly equal cost.
#ifndef LADY_PARALLEL_H
#define LADY_PARALLEL_H

#include <cstdint>
#include <exception>
#include <thread>
#include <vector>

#include "lady.h"

namespace lady {

// Runs body(thread_index, begin, end) over [0, total) split into `parts` contiguous ranges, on
// up to lady_get_num_threads() threads; runs inline when there is one part. Exceptions from a
// worker are rethrown on the caller's thread.
template <class Body>
void parallel_ranges(int64_t total, int32_t parts, Body body) {
    if (total <= 0) return;
    if (parts > total) parts = (int32_t)total;
    if (parts <= 1) {
        body(0, (int64_t)0, total);
        return;
    }
    std::vector<std::thread> threads;
    std::vector<std::exception_ptr> errors((size_t)parts);
    threads.reserve((size_t)parts - 1);
    for (int32_t p = 1; p < parts; ++p) {
        threads.emplace_back([&, p] {
            try {
                body(p, total * p / parts, total * (p + 1) / parts);
            } catch (...) {
                errors[(size_t)p] = std::current_exception();
            }
        });
    }
    try {
        body(0, (int64_t)0, total / parts);
    } catch (...) {
        errors[0] = std::current_exception();
    }
    for (auto& th : threads) th.join();
    for (auto& e : errors)
        if (e) std::rethrow_exception(e);
}

// Threads to use for `work_bytes` of memory traffic: one per ~1 MiB, at most the configured count.
inline int32_t threads_for_bytes(int64_t work_bytes) {
    const int64_t per_thread = int64_t(1) << 20;
    int64_t t = work_bytes / per_thread;
    int32_t max = lady_get_num_threads();
    if (t < 1) t = 1;
    return t > max ? max : (int32_t)t;
}

}  // namespace lady

#endif
