// bench.h: the shared pieces of lady_bench, the native benchmark driver (llm.c dev/cuda style).
//
// Each kernel module (bench_<kernel>.cpp) does, for each case of the chosen size set:
//   1. check: run every version (cpu; cuda when a GPU is usable) and compare it with the
//      reference on the same inputs (exact for bytes and indices, a named tolerance for floats);
//   2. time: warm-up, then `reps` timed calls; print median / min time, the throughput (GB/s for
//      memory-bound kernels, GFLOP/s for compute-bound ones) and the fraction of this machine's
//      ceiling measured in the same run (memcpy bandwidth, FMA peak; PCIe copies for CUDA).
// A module returns the number of failures; main exits non-zero when there was any.
#ifndef LADY_BENCH_H
#define LADY_BENCH_H

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "lady.h"

namespace bench {

enum class SizeSet { Small, Paper, Large };

struct Options {
    SizeSet sizes = SizeSet::Paper;
    int reps = 5;        // timed calls per case and version
    int warmup = 1;      // untimed calls first
    int threads = 0;     // CPU kernel threads (0: lady's default, all cores)
    bool cuda = true;    // run the CUDA versions when a GPU is usable
    bool time_ref = true;
    std::string only;    // run only kernels whose name contains this
};

struct Ceilings {
    double memcpy_gbs = 0;       // all threads, bytes read + written per second
    double memcpy1_gbs = 0;      // one thread
    double fma_gflops = 0;       // all threads, register-only FMA loop
    double fma1_gflops = 0;      // one thread
    double bf16_gflops = 0;      // all threads, register-only vdpbf16ps loop (0: no AVX512-BF16)
    double cuda_copy_gbs = 0;    // pageable host -> device -> host, bytes both ways per second (0: none)
    double cuda_dmemcpy_gbs = 0; // device to device cudaMemcpy, read + write (0: none)
    double cuda_fma_gflops = 0;  // GPU register-only fp32 FMA loop, all SMs (0: none)
};

struct Context {
    Options opt;
    Ceilings ceil;
    bool gpu = false;        // a usable GPU and a library built with CUDA
    int failures = 0;
    int checks = 0;
    bool size_at_least(SizeSet s) const { return (int)opt.sizes >= (int)s; }
};

struct Stats {
    double median_ms = 0, min_ms = 0;
    int reps = 0;              // timed calls actually made
    int32_t status = LADY_OK;  // first non-OK status seen
};

inline double now_ms() {
    using namespace std::chrono;
    return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

// Times `call` (which returns a lady status): `warmup` untimed calls, then `reps` timed ones.
// Slow calls (the references on the big cases) get fewer timed calls: at most about
// `budget_ms` in all, at least one; the count is printed next to the times.
// `before` (optional) runs untimed before each call, e.g. to restore an input.
inline Stats time_calls(const std::function<int32_t()>& call, int warmup, int reps,
                        const std::function<void()>& before = nullptr, double budget_ms = 2000) {
    Stats s;
    std::vector<double> t;
    size_t wanted = (size_t)reps;
    for (int i = 0;; ++i) {
        if (before) before();
        const double t0 = now_ms();
        const int32_t st = call();
        const double dt = now_ms() - t0;
        if (st != LADY_OK && s.status == LADY_OK) s.status = st;
        const bool warm = i < warmup;
        if (!warm) t.push_back(dt);
        if (i == 0 && dt * (warmup + reps) > budget_ms) {  // slow: fewer calls
            if (warm) {  // the cold first call counts as a timed one
                t.push_back(dt);
                warmup = 0;
            }
            wanted = (size_t)std::max(1, std::min(reps, (int)(budget_ms / dt)));
        }
        if (i + 1 >= warmup && t.size() >= wanted) break;
    }
    s.reps = (int)t.size();
    std::sort(t.begin(), t.end());
    if (!t.empty()) {
        s.min_ms = t.front();
        s.median_ms = t.size() % 2 ? t[t.size() / 2] : 0.5 * (t[t.size() / 2 - 1] + t[t.size() / 2]);
    }
    return s;
}

inline std::string human_bytes(double b) {
    char buf[32];
    if (b >= 1e9) std::snprintf(buf, sizeof buf, "%.2f GB", b / 1e9);
    else if (b >= 1e6) std::snprintf(buf, sizeof buf, "%.1f MB", b / 1e6);
    else if (b >= 1e3) std::snprintf(buf, sizeof buf, "%.1f kB", b / 1e3);
    else std::snprintf(buf, sizeof buf, "%.0f B", b);
    return buf;
}

// Table rows. Throughput unit: "GB/s" (work = bytes moved) or "GFLOP/s" (work = flops).
inline void print_header(const char* kernel, const char* unit, const char* ceiling_name) {
    std::printf("\n== %s ==\n", kernel);
    std::printf("%-58s %-5s %-6s %4s %11s %11s %10s %9s  (%% of %s)\n", "case", "ver", "check", "reps",
                "median ms", "min ms", unit, "%ceiling", ceiling_name);
}

inline void print_row(const std::string& name, const char* version, const char* check, const Stats& s,
                      double work, double unit_scale, double ceiling) {
    const double rate = s.median_ms > 0 ? work / (s.median_ms * 1e-3) / unit_scale : 0;
    char frac[16] = "-";
    if (ceiling > 0) std::snprintf(frac, sizeof frac, "%.0f%%", 100.0 * rate / ceiling);
    char reps[16] = "-";
    if (s.reps > 0) std::snprintf(reps, sizeof reps, "%d", s.reps);
    std::printf("%-58s %-5s %-6s %4s %11.3f %11.3f %10.2f %9s\n", name.c_str(), version, check, reps,
                s.median_ms, s.min_ms, rate, frac);
}

// Records a failed check (or a failed call) and prints why, with the kernel's own message.
inline void report_failure(Context& ctx, const std::string& what) {
    ++ctx.failures;
    std::printf("FAILED: %s%s%s\n", what.c_str(), lady_last_error()[0] ? ": " : "", lady_last_error());
}

// Kernel modules: each returns after printing its table; failures are counted in ctx.
void bench_permute(Context& ctx);
void bench_permute_tensors(Context& ctx);
void bench_similarity(Context& ctx);
void bench_ranking(Context& ctx);
void bench_assign(Context& ctx);
void bench_convert(Context& ctx);

// CUDA ceilings (bench_cuda.cu when CUDA is compiled, stubs otherwise). Return 0 when unusable.
double cuda_host_roundtrip_gbs(size_t bytes, int reps);
double cuda_device_memcpy_gbs(size_t bytes, int reps);
double cuda_fma_peak_gflops(int reps);

}  // namespace bench

#endif
