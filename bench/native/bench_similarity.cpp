// Similarity kernels (lady_normalize_rows_*, lady_cosine_similarity_*): check every version against
// the reference (float tolerance, Tolerances.F32_MAX_REL_ERR: |x - r| <= 1e-5 * max(1, |r|)), then
// time it. Napkin math: cosine_similarity is a matrix product, 2 n m d flops (normalization is
// O((n + m) d)), compared with the FMA peak; normalize_rows moves 2 x rows x d x 4 bytes, compared
// with memcpy. The reference works in double and is slow: on big cases it is checked on the first
// rows of `a` only (each output row depends on its own row of `a` and on all of `b`), and timed on
// that slice (its rate is computed on the slice's work).
#include <cmath>
#include <cstring>
#include <random>

#include "bench.h"

namespace bench {
namespace {

constexpr double kF32MaxRelErr = 1e-5;  // lady.kernels.Tolerances.F32_MAX_REL_ERR

struct SimCase {
    std::string name;
    int64_t n, m, d;
};

// Uniform in [-1, 1) from xorshift64* (fast: the big cases have 10^8 entries).
std::vector<float> random_matrix(int64_t rows, int64_t d, uint64_t seed) {
    std::vector<float> x((size_t)(rows * d));
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (auto& v : x) {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        v = (float)((s * 0x2545F4914F6CDD1Dull) >> 40) * (2.0f / 16777216.0f) - 1.0f;
    }
    return x;
}

// Largest error relative to max(1, |ref|); also counts the entries over the tolerance.
double max_rel_err(const float* x, const float* ref, int64_t count, int64_t& over) {
    double worst = 0;
    over = 0;
    for (int64_t i = 0; i < count; ++i) {
        const double e = std::fabs((double)x[i] - (double)ref[i]) / std::max(1.0, std::fabs((double)ref[i]));
        if (!(e <= kF32MaxRelErr)) ++over;
        if (!(e <= worst)) worst = e;  // NaN propagates as worst
    }
    return worst;
}

int64_t addr(const float* p) { return (int64_t)(intptr_t)p; }

// The verdict column of a checked version: "ERROR" (a failure status), "WRONG" (entries beyond the
// tolerance), else the largest relative error; failures are reported under `what`.
std::string check_against_reference(Context& ctx, int32_t status, const std::string& what, const float* out,
                                    const float* ref, int64_t count) {
    if (status != LADY_OK) {
        report_failure(ctx, what);
        return "ERROR";
    }
    int64_t over = 0;
    const double err = max_rel_err(out, ref, count, over);
    char buf[16];
    std::snprintf(buf, sizeof buf, "%.0e", err);
    if (over > 0) {
        report_failure(ctx, what + ": " + std::to_string(over) + " entries beyond the tolerance (max rel err " + buf + ")");
        return "WRONG";
    }
    return buf;
}

}  // namespace

void bench_similarity(Context& ctx) {
    // ---- cosine similarity -----------------------------------------------------------------------
    print_header("cosine_similarity (lady_cosine_similarity_*): out[n x m] = U_a U_b^T, rows normalized", "GFLOP/s",
                 "FMA peak; cuda: the GPU's, transfers included");
    std::printf("%-58s work = 2 n m d flops; check: max rel err vs reference <= %.0e\n", "", kF32MaxRelErr);
    std::vector<SimCase> cases;
    if (ctx.size_at_least(SizeSet::Paper)) {
        cases.push_back({"resnet18 layer1 conv 64x64, d=576", 64, 64, 576});
        cases.push_back({"vgg16 features.28 / resnet18 layer4 512x512, d=4608", 512, 512, 4608});
        cases.push_back({"vgg16 classifier.3 4096x4096, d=4096", 4096, 4096, 4096});
        if (ctx.size_at_least(SizeSet::Large)) {
            cases.push_back({"vgg16 classifier.0 4096x4096, d=25088", 4096, 4096, 25088});
            cases.push_back({"mlp up_proj 11008x11008, d=4096", 11008, 11008, 4096});
        }
    } else {
        cases.push_back({"resnet18 layer1 conv 64x64, d=576", 64, 64, 576});
        cases.push_back({"vgg16 features.5 128x128, d=576", 128, 128, 576});
    }
    uint64_t seed = 200;
    for (const SimCase& c : cases) {
        ++seed;
        const std::vector<float> a = random_matrix(c.n, c.d, seed), b = random_matrix(c.m, c.d, seed + 1000);
        const int64_t check_rows = std::min<int64_t>(c.n, c.n * c.m * c.d > (int64_t)1 << 31 ? 32 : c.n);
        std::vector<float> ref((size_t)(check_rows * c.m)), out((size_t)(c.n * c.m));
        const double work = 2.0 * (double)c.n * (double)c.m * (double)c.d;
        const double ref_work = 2.0 * (double)check_rows * (double)c.m * (double)c.d;
        std::string name = c.name;
        if (check_rows < c.n) name += " (ref: " + std::to_string(check_rows) + " rows)";
        Stats rs;
        if (ctx.opt.time_ref) {
            rs = time_calls([&] { return lady_cosine_similarity_ref(addr(a.data()), addr(b.data()), check_rows, c.m, c.d, 0,
                                                                    addr(ref.data())); },
                            0, ctx.opt.reps);
        } else {
            rs.status = lady_cosine_similarity_ref(addr(a.data()), addr(b.data()), check_rows, c.m, c.d, 0, addr(ref.data()));
        }
        if (rs.status != LADY_OK) {
            report_failure(ctx, "cosine_similarity ref on " + c.name);
            continue;
        }
        if (ctx.opt.time_ref) print_row(name, "ref", "-", rs, ref_work, 1e9, ctx.ceil.fma_gflops);
        struct Version {
            const char* name;
            int32_t (*fn)(int64_t, int64_t, int64_t, int64_t, int64_t, int32_t, int64_t);
            bool run;
        };
        const Version versions[] = {{"cpu", lady_cosine_similarity_cpu, true},
                                    {"cuda", lady_cosine_similarity_cuda, ctx.gpu}};
        for (const Version& v : versions) {
            if (!v.run) continue;
            auto run = [&] { return v.fn(addr(a.data()), addr(b.data()), c.n, c.m, c.d, 0, addr(out.data())); };
            Stats s = time_calls(run, ctx.opt.warmup, ctx.opt.reps);  // the last call's output is checked
            ++ctx.checks;
            const std::string verdict =
                check_against_reference(ctx, s.status, std::string("cosine_similarity ") + v.name + " on " + c.name, out.data(),
                                        ref.data(), check_rows * c.m);
            print_row(name, v.name, verdict.c_str(), s, work, 1e9,
                      v.name[1] == 'p' ? ctx.ceil.fma_gflops : ctx.ceil.cuda_fma_gflops);
        }
    }

    // ---- bfloat16 cosine similarity ---------------------------------------------------------------
    // The exact margins' product (PrefilteredMatch.exactMargins: blocks of 1024 reference rows against every
    // suspect row). Versions: cpu = default dispatch (vdpbf16ps where the CPU has AVX512-BF16), cpuw = forced
    // widening to the float32 micro-kernels, f32 = the float32 kernel on the same values widened (the baseline).
    print_header("cosine_similarity_bf16 (lady_cosine_similarity_bf16_*): bfloat16 rows, float32 sums", "GFLOP/s",
                 "FMA peak; cpu: the bf16 dot-product peak");
    std::printf("%-58s work = 2 n m d flops; check: max rel err vs reference <= %.0e; cpu kernel: %s\n", "",
                kF32MaxRelErr, lady_bf16_kernel_name());
    std::vector<SimCase> bcases;
    if (ctx.size_at_least(SizeSet::Paper)) {
        bcases.push_back({"vgg16 classifier.3 margins block 1024x4096, d=4096", 1024, 4096, 4096});
        bcases.push_back({"vgg16 classifier.0 margins block 1024x4096, d=25088", 1024, 4096, 25088});
    } else {
        bcases.push_back({"resnet18 layer1 conv 64x64, d=576", 64, 64, 576});
        bcases.push_back({"odd edges 37x53, d=301", 37, 53, 301});
    }
    for (const SimCase& c : bcases) {
        ++seed;
        const std::vector<float> fa = random_matrix(c.n, c.d, seed), fb = random_matrix(c.m, c.d, seed + 1000);
        std::vector<uint16_t> a(fa.size()), b(fb.size());
        std::vector<float> wa(fa.size()), wb(fb.size());  // the bfloat16 values widened, for the float32 kernel
        auto round_widen = [](float x, uint16_t& h, float& w) {
            uint32_t u;
            std::memcpy(&u, &x, 4);
            u += 0x7FFFu + ((u >> 16) & 1u);
            h = (uint16_t)(u >> 16);
            u = (uint32_t)h << 16;
            std::memcpy(&w, &u, 4);
        };
        for (size_t i = 0; i < fa.size(); ++i) round_widen(fa[i], a[i], wa[i]);
        for (size_t i = 0; i < fb.size(); ++i) round_widen(fb[i], b[i], wb[i]);
        auto inv_norms = [&](const std::vector<float>& w, int64_t rows) {
            std::vector<double> inv((size_t)rows);
            for (int64_t i = 0; i < rows; ++i) {
                double ss = 0;
                for (int64_t k = 0; k < c.d; ++k) ss += (double)w[(size_t)(i * c.d + k)] * w[(size_t)(i * c.d + k)];
                inv[(size_t)i] = 1.0 / std::max(std::sqrt(ss), 1e-12);
            }
            return inv;
        };
        const std::vector<double> ia = inv_norms(wa, c.n), ib = inv_norms(wb, c.m);
        const int64_t check_rows = std::min<int64_t>(c.n, c.n * c.m * c.d > (int64_t)1 << 31 ? 16 : c.n);
        std::vector<float> ref((size_t)(check_rows * c.m)), out((size_t)(c.n * c.m));
        const double work = 2.0 * (double)c.n * (double)c.m * (double)c.d;
        auto pa = [](const void* p) { return (int64_t)(intptr_t)p; };
        if (lady_cosine_similarity_bf16_ref(pa(a.data()), pa(b.data()), check_rows, c.m, c.d, pa(ia.data()), pa(ib.data()),
                                            pa(ref.data())) != LADY_OK) {
            report_failure(ctx, "cosine_similarity_bf16 ref on " + c.name);
            continue;
        }
        std::string name = c.name;
        if (check_rows < c.n) name += " (ref: " + std::to_string(check_rows) + " rows)";
        struct Version {
            const char* name;
            int mode;  // 0: bf16 default, 1: bf16 widened, 2: float32 kernel, 3: cuda
            bool run;
        };
        const Version versions[] = {{"cpu", 0, true}, {"cpuw", 1, true}, {"f32", 2, true}, {"cuda", 3, ctx.gpu}};
        for (const Version& v : versions) {
            if (!v.run) continue;
            lady_set_bf16_kernel(v.mode == 1 ? 1 : 0);
            auto run = [&] {
                switch (v.mode) {
                    case 2: return lady_cosine_similarity_cpu(pa(wa.data()), pa(wb.data()), c.n, c.m, c.d, 0, pa(out.data()));
                    case 3: return lady_cosine_similarity_bf16_cuda(pa(a.data()), pa(b.data()), c.n, c.m, c.d, pa(ia.data()),
                                                                    pa(ib.data()), pa(out.data()));
                    default: return lady_cosine_similarity_bf16_cpu(pa(a.data()), pa(b.data()), c.n, c.m, c.d, pa(ia.data()),
                                                                    pa(ib.data()), pa(out.data()));
                }
            };
            Stats st = time_calls(run, ctx.opt.warmup, ctx.opt.reps);
            lady_set_bf16_kernel(0);
            ++ctx.checks;
            const std::string verdict =
                check_against_reference(ctx, st.status, std::string("cosine_similarity_bf16 ") + v.name + " on " + c.name, out.data(),
                                        ref.data(), check_rows * c.m);
            const double ceiling = v.mode == 3 ? ctx.ceil.cuda_fma_gflops
                                   : v.mode == 0 && ctx.ceil.bf16_gflops > 0 ? ctx.ceil.bf16_gflops
                                                                             : ctx.ceil.fma_gflops;
            print_row(name, v.name, verdict.c_str(), st, work, 1e9, ceiling);
        }
    }

    // ---- normalize rows ------------------------------------------------------------------------
    print_header("normalize_rows (lady_normalize_rows_*): u = x / max(||x||, 1e-12), out of place", "GB/s", "memcpy");
    std::printf("%-58s work = 2 x rows x d x 4 bytes (read + write)\n", "");
    std::vector<SimCase> ncases;
    if (ctx.size_at_least(SizeSet::Paper)) {
        ncases.push_back({"vgg16 features.28 rows 512, d=4608", 512, 0, 4608});
        ncases.push_back({"vgg16 classifier.0 rows 4096, d=25088", 4096, 0, 25088});
    } else {
        ncases.push_back({"vgg16 features.5 rows 128, d=576", 128, 0, 576});
    }
    for (const SimCase& c : ncases) {
        ++seed;
        const std::vector<float> x = random_matrix(c.n, c.d, seed);
        // rows are independent: the slow double reference checks the first 256 rows of big cases
        const int64_t check_rows = c.n * c.d > (int64_t)1 << 24 ? std::min<int64_t>(c.n, 256) : c.n;
        std::vector<float> ref((size_t)(check_rows * c.d)), out(x.size());
        const double work = 2.0 * 4.0 * (double)c.n * (double)c.d;
        const double ref_work = 2.0 * 4.0 * (double)check_rows * (double)c.d;
        const std::string name = check_rows < c.n ? c.name + " (ref: " + std::to_string(check_rows) + " rows)" : c.name;
        Stats rs = time_calls([&] { return lady_normalize_rows_ref(addr(x.data()), addr(ref.data()), check_rows, c.d, 0); },
                              ctx.opt.time_ref ? ctx.opt.warmup : 0, ctx.opt.time_ref ? ctx.opt.reps : 1);
        if (rs.status != LADY_OK) {
            report_failure(ctx, "normalize_rows ref on " + c.name);
            continue;
        }
        if (ctx.opt.time_ref) print_row(name, "ref", "-", rs, ref_work, 1e9, ctx.ceil.memcpy_gbs);
        struct Version {
            const char* name;
            int32_t (*fn)(int64_t, int64_t, int64_t, int64_t, int32_t);
            bool run;
        };
        const Version versions[] = {{"cpu", lady_normalize_rows_cpu, true}, {"cuda", lady_normalize_rows_cuda, ctx.gpu}};
        for (const Version& v : versions) {
            if (!v.run) continue;
            Stats s = time_calls([&] { return v.fn(addr(x.data()), addr(out.data()), c.n, c.d, 0); }, ctx.opt.warmup,
                                 ctx.opt.reps);
            ++ctx.checks;
            const std::string verdict =
                check_against_reference(ctx, s.status, std::string("normalize_rows ") + v.name + " on " + c.name, out.data(),
                                        ref.data(), check_rows * c.d);
            print_row(name, v.name, verdict.c_str(), s, work, 1e9,
                      v.name[1] == 'p' ? ctx.ceil.memcpy_gbs : ctx.ceil.cuda_copy_gbs);
        }
    }
}

}  // namespace bench
