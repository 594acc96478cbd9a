// lady_bench: native benchmark driver of Lady's kernels (llm.c dev/cuda style).
//
//   lady_bench [--sizes small|paper|large] [--reps N] [--warmup N] [--threads N] [--no-cuda]
//              [--no-ref-timing] [--only KERNEL]
//
// For every kernel of lady.h: every version is first checked against the reference on the
// benchmark sizes, then timed; throughput is printed next to the fraction of this machine's
// ceilings, measured at start in the same run:
//   memory: a large memcpy (all threads and one thread), counted as bytes read + written;
//   compute: a register-only FMA loop (AVX-512 / AVX2 / scalar, best available), all threads;
//   CUDA: pageable host -> device -> host copies (what the *_cuda kernels do around their
//         launch) and a device-to-device cudaMemcpy.
// Exit status: 0 when every check passed, 1 when any version disagreed with the reference or
// failed, 2 on bad command-line flags.
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "bench.h"

namespace {

using namespace bench;

void usage(std::FILE* out) {
    std::fprintf(out,
                 "usage: lady_bench [--sizes small|paper|large] [--reps N] [--warmup N] [--threads N]\n"
                 "                  [--no-cuda] [--no-ref-timing] [--only KERNEL]\n"
                 "  --sizes     small: smoke test (seconds); paper (default): VGG16 / ResNet18 layers,\n"
                 "              torchvision VGG16 classifier.0 (4096 x 25088), an 11008-wide layer;\n"
                 "              large: paper plus LLaMA-7B-sized MLP groups\n"
                 "  --reps      timed calls per case and version (default 5; median and min printed)\n"
                 "  --warmup    untimed calls before timing (default 1)\n"
                 "  --threads   threads of the *_cpu kernels (default: all cores)\n"
                 "  --no-cuda   skip the CUDA versions even when a GPU is usable\n"
                 "  --no-ref-timing  check against the reference but do not time it\n"
                 "  --only      run only the kernels whose name contains KERNEL: permute, permute_tensors,\n"
                 "              similarity, ranking, assign, convert\n"
                 "exit status: 0 all checks passed, 1 a version disagreed with the reference, 2 usage\n");
}

bool parse_int(const char* s, int& out) {
    char* end = nullptr;
    long v = std::strtol(s, &end, 10);
    if (end == s || *end != '\0' || v < 0 || v > 1000000) return false;
    out = (int)v;
    return true;
}

std::string cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("model name", 0) == 0) {
            auto p = line.find(':');
            if (p != std::string::npos) return line.substr(p + 2);
        }
    }
    return "unknown";
}

// ---- memory ceiling: a large memcpy split over threads ----------------------------------------
double memcpy_gbs(size_t bytes, int threads, int reps) {
    std::vector<char> src(bytes), dst(bytes);
    std::memset(src.data(), 1, bytes);
    std::memset(dst.data(), 2, bytes);  // touch every page before timing
    double best = 1e30;
    for (int r = 0; r < reps + 1; ++r) {
        const double t0 = now_ms();
        std::vector<std::thread> pool;
        for (int t = 1; t < threads; ++t)
            pool.emplace_back([&, t] {
                size_t b = bytes * (size_t)t / (size_t)threads, e = bytes * (size_t)(t + 1) / (size_t)threads;
                std::memcpy(dst.data() + b, src.data() + b, e - b);
            });
        std::memcpy(dst.data(), src.data(), bytes / (size_t)threads);
        for (auto& th : pool) th.join();
        const double t1 = now_ms();
        if (r > 0) best = std::min(best, t1 - t0);
    }
    if (dst[bytes / 2] != 1) std::printf("memcpy ceiling: copy did not happen?\n");
    return 2.0 * (double)bytes / (best * 1e-3) / 1e9;
}

// ---- compute ceiling: independent FMA chains in registers --------------------------------------
// 16 accumulators hide the FMA latency (4-5 cycles) on 2 pipes. Returns flops done.
#if defined(__x86_64__)
__attribute__((target("avx512f"))) double fma_loop_avx512(int64_t iters, float* sink) {
    __m512 acc[16];
    for (int i = 0; i < 16; ++i) acc[i] = _mm512_set1_ps(0.001f * (float)i);
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    for (int64_t k = 0; k < iters; ++k)
        for (int i = 0; i < 16; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    __m512 s = acc[0];
    for (int i = 1; i < 16; ++i) s = _mm512_add_ps(s, acc[i]);
    float v[16];
    _mm512_storeu_ps(v, s);
    *sink = v[0] + v[15];
    return (double)iters * 16 * 16 * 2;
}
__attribute__((target("avx2,fma"))) double fma_loop_avx2(int64_t iters, float* sink) {
    __m256 acc[12];
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(0.001f * (float)i);
    const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    for (int64_t k = 0; k < iters; ++k)
        for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    __m256 s = acc[0];
    for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, acc[i]);
    float v[8];
    _mm256_storeu_ps(v, s);
    *sink = v[0] + v[7];
    return (double)iters * 12 * 8 * 2;
}
// vdpbf16ps: 2 multiply-adds per float lane (64 flops per zmm instruction).
__attribute__((target("avx512f,avx512bf16"))) double bf16_loop_avx512(int64_t iters, float* sink) {
    __m512 acc[16];
    for (int i = 0; i < 16; ++i) acc[i] = _mm512_set1_ps(0.001f * (float)i);
    const __m512bh a = (__m512bh)_mm512_set1_epi16(0x3f80), b = (__m512bh)_mm512_set1_epi16(0x3380);  // 1, 2^-24
    for (int64_t k = 0; k < iters; ++k)
        for (int i = 0; i < 16; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
    __m512 s = acc[0];
    for (int i = 1; i < 16; ++i) s = _mm512_add_ps(s, acc[i]);
    float v[16];
    _mm512_storeu_ps(v, s);
    *sink = v[0] + v[15];
    return (double)iters * 16 * 16 * 4;
}
#endif
double fma_loop_scalar(int64_t iters, float* sink) {
    float acc[8];
    for (int i = 0; i < 8; ++i) acc[i] = 0.001f * (float)i;
    for (int64_t k = 0; k < iters; ++k)
        for (int i = 0; i < 8; ++i) acc[i] = acc[i] * 0.999999f + 1e-7f;
    *sink = acc[0] + acc[7];
    return (double)iters * 8 * 2;
}

const char* fma_isa() {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return "avx512f";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "avx2+fma";
#endif
    return "scalar";
}

double fma_gflops(int threads, int reps, bool bf16 = false) {
    const std::string isa = fma_isa();
    auto one = [&](int64_t iters, float* sink) -> double {
#if defined(__x86_64__)
        if (bf16) return bf16_loop_avx512(iters, sink);
        if (isa == "avx512f") return fma_loop_avx512(iters, sink);
        if (isa == "avx2+fma") return fma_loop_avx2(iters, sink);
#endif
        return fma_loop_scalar(iters, sink);
    };
    const int64_t iters = isa == "scalar" ? 8000000 : 2000000;
    double best = 0;
    std::vector<float> sinks((size_t)threads * 16);
    for (int r = 0; r < reps + 1; ++r) {
        std::vector<double> flops((size_t)threads);
        const double t0 = now_ms();
        std::vector<std::thread> pool;
        for (int t = 1; t < threads; ++t)
            pool.emplace_back([&, t] { flops[(size_t)t] = one(iters, &sinks[(size_t)t * 16]); });
        flops[0] = one(iters, &sinks[0]);
        for (auto& th : pool) th.join();
        const double t1 = now_ms();
        double total = 0;
        for (double f : flops) total += f;
        if (r > 0) best = std::max(best, total / ((t1 - t0) * 1e-3) / 1e9);
    }
    return best;
}

}  // namespace

int main(int argc, char** argv) {
    Context ctx;
    Options& opt = ctx.opt;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&](const char* flag) -> const char* {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "lady_bench: %s needs a value\n", flag);
                usage(stderr);
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--sizes") {
            const std::string v = value("--sizes");
            if (v == "small") opt.sizes = SizeSet::Small;
            else if (v == "paper") opt.sizes = SizeSet::Paper;
            else if (v == "large") opt.sizes = SizeSet::Large;
            else {
                std::fprintf(stderr, "lady_bench: unknown size set '%s' (small, paper or large)\n", v.c_str());
                return 2;
            }
        } else if (a == "--reps" || a == "--warmup" || a == "--threads") {
            int v = 0;
            const char* s = value(a.c_str());
            if (!parse_int(s, v) || (a == "--reps" && v == 0)) {
                std::fprintf(stderr, "lady_bench: %s needs a non-negative integer (reps >= 1), got '%s'\n",
                             a.c_str(), s);
                return 2;
            }
            (a == "--reps" ? opt.reps : a == "--warmup" ? opt.warmup : opt.threads) = v;
        } else if (a == "--no-cuda") {
            opt.cuda = false;
        } else if (a == "--no-ref-timing") {
            opt.time_ref = false;
        } else if (a == "--only") {
            opt.only = value("--only");
        } else if (a == "-h" || a == "--help") {
            usage(stdout);
            return 0;
        } else {
            std::fprintf(stderr, "lady_bench: unknown flag '%s'\n", a.c_str());
            usage(stderr);
            return 2;
        }
    }
    if (opt.threads > 0) lady_set_num_threads(opt.threads);
    const int threads = lady_get_num_threads();
    const char* set_name = opt.sizes == SizeSet::Small ? "small" : opt.sizes == SizeSet::Paper ? "paper" : "large";

    std::printf("lady_bench: Lady native %s, size set %s, %d warm-up + %d timed calls per version (median, min)\n",
                lady_native_version(), set_name, opt.warmup, opt.reps);
    std::printf("CPU: %s, %u logical cores, kernel threads %d\n", cpu_model().c_str(),
                std::thread::hardware_concurrency(), threads);
    std::printf("CPU features: %s\n", lady_cpu_features());
    int32_t gpus = 0;
    if (lady_cuda_compiled()) {
        std::printf("CUDA: compiled for %s\n", lady_cuda_architectures());
        if (lady_cuda_device_count(&gpus) == LADY_OK && gpus > 0) {
            char name[256];
            for (int32_t d = 0; d < gpus; ++d)
                if (lady_cuda_device_name(d, name, sizeof name) == LADY_OK) std::printf("GPU %d: %s\n", d, name);
            ctx.gpu = opt.cuda;
            if (!opt.cuda) std::printf("CUDA versions skipped (--no-cuda)\n");
        } else {
            std::printf("GPU: none usable (%s): CUDA versions not run\n", lady_last_error());
        }
    } else {
        std::printf("CUDA: library built without CUDA: CUDA versions not run\n");
    }

    // Ceilings, measured now, in this run.
    const size_t copy_bytes = size_t(256) << 20;
    ctx.ceil.memcpy_gbs = memcpy_gbs(copy_bytes, threads, 5);
    ctx.ceil.memcpy1_gbs = threads > 1 ? memcpy_gbs(copy_bytes, 1, 3) : ctx.ceil.memcpy_gbs;
    ctx.ceil.fma_gflops = fma_gflops(threads, 3);
    ctx.ceil.fma1_gflops = threads > 1 ? fma_gflops(1, 3) : ctx.ceil.fma_gflops;
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx512bf16")) ctx.ceil.bf16_gflops = fma_gflops(threads, 3, true);
#endif
    std::printf("\nceilings (this run):\n");
    std::printf("  memcpy %s, %d threads: %8.2f GB/s (read + write)   1 thread: %.2f GB/s\n",
                human_bytes((double)copy_bytes).c_str(), threads, ctx.ceil.memcpy_gbs, ctx.ceil.memcpy1_gbs);
    // The memory ceiling is the better of the two (on a busy machine one thread can win).
    const double memcpy_threads = ctx.ceil.memcpy_gbs;
    ctx.ceil.memcpy_gbs = std::max(ctx.ceil.memcpy_gbs, ctx.ceil.memcpy1_gbs);
    std::printf("  -> memory ceiling used below: %.2f GB/s\n", ctx.ceil.memcpy_gbs);
    std::printf("  FMA peak (%s, registers only), %d threads: %8.1f GFLOP/s   1 thread: %.1f GFLOP/s\n", fma_isa(),
                threads, ctx.ceil.fma_gflops, ctx.ceil.fma1_gflops);
    if (ctx.ceil.bf16_gflops > 0)
        std::printf("  bfloat16 dot-product peak (vdpbf16ps, registers only), %d threads: %8.1f GFLOP/s\n", threads,
                    ctx.ceil.bf16_gflops);
    if (ctx.gpu) {
        ctx.ceil.cuda_copy_gbs = cuda_host_roundtrip_gbs(copy_bytes, 3);
        ctx.ceil.cuda_dmemcpy_gbs = cuda_device_memcpy_gbs(copy_bytes, 5);
        std::printf("  CUDA pageable host->device->host %s: %.2f GB/s (both ways)   device memcpy: %.1f GB/s\n",
                    human_bytes((double)copy_bytes).c_str(), ctx.ceil.cuda_copy_gbs, ctx.ceil.cuda_dmemcpy_gbs);
        ctx.ceil.cuda_fma_gflops = cuda_fma_peak_gflops(5);
        std::printf("  CUDA FMA peak (fp32, registers only, all SMs): %.0f GFLOP/s\n", ctx.ceil.cuda_fma_gflops);
    }

    const double t0 = now_ms();
    auto wanted = [&](const char* kernel) { return opt.only.empty() || std::strstr(kernel, opt.only.c_str()); };
    if (wanted("permute")) bench_permute(ctx);
    if (wanted("permute_tensors")) bench_permute_tensors(ctx);
    if (wanted("similarity")) bench_similarity(ctx);
    if (wanted("ranking")) bench_ranking(ctx);
    if (wanted("assign")) bench_assign(ctx);
    if (wanted("convert")) bench_convert(ctx);

    std::printf("\n%d checks against the reference, %d failures, %.1f s\n", ctx.checks, ctx.failures,
                (now_ms() - t0) * 1e-3);
    // Noise indicator: the same memcpy again; a big change means the machine was busy meanwhile.
    std::printf("memcpy again at the end, %d threads: %.2f GB/s (at start %.2f GB/s)\n", threads,
                memcpy_gbs(copy_bytes, threads, 5), memcpy_threads);
    if (ctx.failures > 0) {
        std::printf("lady_bench: FAILED: %d version(s) disagreed with the reference or failed\n", ctx.failures);
        return 1;
    }
    return 0;
}
