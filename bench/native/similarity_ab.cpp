// lady_similarity_ab: the float32 (or bfloat16) CPU cosine kernel of two builds of liblady_native.so in one process,
// interleaved call by call on the same inputs: best wall time of each, the ratio, and whether every output bit agrees.
// For a kernel change measured against the kernel it replaces in the same run (build the old one in a scratch folder).
//   lady_similarity_ab OLD.so NEW.so REPS THREADS CENTERED N M D [N M D ...]
//   environment: LADY_AB_BF16=1 times lady_cosine_similarity_bf16_cpu instead (the rows rounded to bfloat16).
// Exit status 1 when a call fails or an output bit differs.
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

namespace {

using Cosine = int32_t (*)(int64_t, int64_t, int64_t, int64_t, int64_t, int32_t, int64_t);
using CosineBf16 = int32_t (*)(int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t);
using SetThreads = void (*)(int32_t);

struct Lib {
    Cosine cosine;
    CosineBf16 bf16;
    SetThreads threads;
};

Lib load(const char* path) {
    void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        std::fprintf(stderr, "lady_similarity_ab: %s\n", dlerror());
        std::exit(2);
    }
    Lib lib{(Cosine)dlsym(h, "lady_cosine_similarity_cpu"), (CosineBf16)dlsym(h, "lady_cosine_similarity_bf16_cpu"),
            (SetThreads)dlsym(h, "lady_set_num_threads")};
    if (!lib.cosine || !lib.bf16 || !lib.threads) {
        std::fprintf(stderr, "lady_similarity_ab: %s lacks the similarity entry points\n", path);
        std::exit(2);
    }
    return lib;
}

int64_t addr(const void* p) { return (int64_t)(intptr_t)p; }

uint16_t bf16_bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return (uint16_t)(u >> 16);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 9 || (argc - 6) % 3 != 0) {
        std::fprintf(stderr, "usage: lady_similarity_ab OLD.so NEW.so REPS THREADS CENTERED N M D [N M D ...]\n");
        return 2;
    }
    Lib libs[2] = {load(argv[1]), load(argv[2])};
    const int reps = std::max(1, std::atoi(argv[3]));
    const int32_t threads = std::atoi(argv[4]);
    const int32_t centered = std::atoi(argv[5]);
    const bool bf16 = std::getenv("LADY_AB_BF16") != nullptr;
    for (Lib& lib : libs) lib.threads(threads);
    int status = 0;
    for (int s = 6; s + 2 < argc; s += 3) {
        const int64_t n = std::atoll(argv[s]), m = std::atoll(argv[s + 1]), d = std::atoll(argv[s + 2]);
        std::mt19937 rng(42);
        std::normal_distribution<float> val(0.3f, 1.f);
        std::vector<float> a((size_t)(n * d)), b((size_t)(m * d));
        for (auto& v : a) v = val(rng);
        for (auto& v : b) v = val(rng);
        std::vector<uint16_t> ha(a.size()), hb(b.size());  // bfloat16 by truncation: any values do
        for (size_t i = 0; i < a.size(); ++i) ha[i] = bf16_bits(a[i]);
        for (size_t i = 0; i < b.size(); ++i) hb[i] = bf16_bits(b[i]);
        std::vector<double> ia((size_t)n, 0.37), ib((size_t)m, 1.9);
        std::vector<float> out[2] = {std::vector<float>((size_t)(n * m)), std::vector<float>((size_t)(n * m))};
        double best[2] = {1e300, 1e300};
        for (int r = 0; r < reps; ++r)
            for (int v = 0; v < 2; ++v) {
                const auto t0 = std::chrono::steady_clock::now();
                const int32_t st = bf16 ? libs[v].bf16(addr(ha.data()), addr(hb.data()), n, m, d, addr(ia.data()),
                                                       addr(ib.data()), addr(out[v].data()))
                                        : libs[v].cosine(addr(a.data()), addr(b.data()), n, m, d, centered,
                                                         addr(out[v].data()));
                const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                if (st != 0) {
                    std::fprintf(stderr, "lady_similarity_ab: %s failed (status %d)\n", argv[1 + v], st);
                    return 1;
                }
                best[v] = std::min(best[v], t);
            }
        const bool same = std::memcmp(out[0].data(), out[1].data(), sizeof(float) * (size_t)(n * m)) == 0;
        if (!same) status = 1;
        const double flops = 2.0 * (double)n * (double)m * (double)d;
        std::printf("%6lld x %6lld x %6lld  old %9.2f ms %7.1f GFLOP/s  new %9.2f ms %7.1f GFLOP/s  old/new %.2fx  bits %s\n",
                    (long long)n, (long long)m, (long long)d, best[0] * 1e3, flops / best[0] / 1e9, best[1] * 1e3,
                    flops / best[1] / 1e9, best[0] / best[1], same ? "identical" : "DIFFERENT");
    }
    return status;
}
