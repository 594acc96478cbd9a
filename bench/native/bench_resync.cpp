// Ranking (lady_argmax_top2_*, lady_topk_*, lady_sort_desc_*) and exact assignment (lady_assign_*):
// check every version against the reference, then time it.
//   ranking: indices and values compared exactly (values are copied, not computed); work = the
//            bytes of S read once, compared with memcpy (a read-only pass, so an upper bound);
//   sort:    order compared exactly; rate in M elements / s (no ceiling);
//   assign:  the result must be a permutation whose objective sum_i s[i, perm[i]] equals the
//            reference's (an optimum; Tolerances.ASSIGN_OBJECTIVE_REL_ERR per row); the CUDA
//            auction may lie n (max - min) / floor(2^32 / (n + 1)) below. No napkin rate: time only.
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>

#include "bench.h"

namespace bench {
namespace {

int64_t addr(const void* p) { return (int64_t)(intptr_t)p; }

std::vector<float> uniform_matrix(int64_t n, int64_t m, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    std::vector<float> s((size_t)(n * m));
    for (auto& v : s) v = u(rng);
    return s;
}

// Resync-like square matrix: a hidden permutation scores high, the rest is noise.
std::vector<float> near_permutation(int64_t n, uint64_t seed, float signal) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> u(0.f, 0.5f);
    std::vector<float> s((size_t)(n * n));
    for (auto& v : s) v = u(rng);
    std::vector<int64_t> p((size_t)n);
    std::iota(p.begin(), p.end(), 0);
    std::shuffle(p.begin(), p.end(), rng);
    for (int64_t i = 0; i < n; ++i) s[(size_t)(i * n + p[(size_t)i])] += signal;
    return s;
}

template <class T>
bool same(const std::vector<T>& a, const std::vector<T>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

struct RankCase {
    std::string name;
    int64_t n, m;
};

}  // namespace

void bench_ranking(Context& ctx) {
    print_header("argmax_top2 / topk (lady_argmax_top2_*, lady_topk_*): per row of S[n x m]", "GB/s", "memcpy");
    std::printf("%-58s work = n x m x 4 bytes read; check: indices and values exact\n", "");
    std::vector<RankCase> cases;
    if (ctx.size_at_least(SizeSet::Paper)) {
        cases.push_back({"S 512x512 (vgg16 conv)", 512, 512});
        cases.push_back({"S 4096x4096 (vgg16 classifier)", 4096, 4096});
        if (ctx.size_at_least(SizeSet::Large)) cases.push_back({"S 11008x11008 (mlp)", 11008, 11008});
    } else {
        cases.push_back({"S 512x512 (vgg16 conv)", 512, 512});
    }
    const int64_t k = 5;
    uint64_t seed = 300;
    for (const RankCase& c : cases) {
        ++seed;
        const std::vector<float> s = uniform_matrix(c.n, c.m, seed);
        const double work = 4.0 * (double)c.n * (double)c.m;
        // argmax_top2
        {
            std::vector<int32_t> ri((size_t)c.n), oi((size_t)c.n);
            std::vector<float> rb((size_t)c.n), rs((size_t)c.n), ob((size_t)c.n), os((size_t)c.n);
            auto ref = [&] { return lady_argmax_top2_ref(addr(s.data()), c.n, c.m, addr(ri.data()), addr(rb.data()), addr(rs.data())); };
            Stats st = time_calls(ref, ctx.opt.time_ref ? ctx.opt.warmup : 0, ctx.opt.time_ref ? ctx.opt.reps : 1);
            const std::string name = "argmax_top2 " + c.name;
            if (st.status != LADY_OK) {
                report_failure(ctx, "argmax_top2 ref on " + c.name);
            } else {
                if (ctx.opt.time_ref) print_row(name, "ref", "-", st, work, 1e9, ctx.ceil.memcpy_gbs);
                struct V { const char* name; int32_t (*fn)(int64_t, int64_t, int64_t, int64_t, int64_t, int64_t); bool run; };
                const V versions[] = {{"cpu", lady_argmax_top2_cpu, true}, {"cuda", lady_argmax_top2_cuda, ctx.gpu}};
                for (const V& v : versions) {
                    if (!v.run) continue;
                    std::fill(oi.begin(), oi.end(), -1);
                    Stats so = time_calls([&] { return v.fn(addr(s.data()), c.n, c.m, addr(oi.data()), addr(ob.data()), addr(os.data())); },
                                          ctx.opt.warmup, ctx.opt.reps);
                    ++ctx.checks;
                    const char* verdict = "exact";
                    if (so.status != LADY_OK) {
                        report_failure(ctx, std::string("argmax_top2 ") + v.name + " on " + c.name);
                        verdict = "ERROR";
                    } else if (!same(oi, ri) || !same(ob, rb) || !same(os, rs)) {
                        report_failure(ctx, std::string("argmax_top2 ") + v.name + " on " + c.name + ": differs from the reference");
                        verdict = "WRONG";
                    }
                    print_row(name, v.name, verdict, so, work, 1e9, v.name[1] == 'p' ? ctx.ceil.memcpy_gbs : ctx.ceil.cuda_copy_gbs);
                }
            }
        }
        // topk
        {
            // rows are independent: the slow reference checks the first 512 rows of big cases
            const int64_t rows = std::min<int64_t>(c.n, 512);
            std::vector<int32_t> ri((size_t)(rows * k)), oi((size_t)(c.n * k));
            std::vector<float> rv((size_t)(rows * k)), ov((size_t)(c.n * k));
            auto ref = [&] { return lady_topk_ref(addr(s.data()), rows, c.m, k, addr(ri.data()), addr(rv.data())); };
            Stats st = time_calls(ref, ctx.opt.time_ref ? ctx.opt.warmup : 0, ctx.opt.time_ref ? ctx.opt.reps : 1);
            std::string name = "topk k=" + std::to_string(k) + " " + c.name;
            if (rows < c.n) name += " (ref: " + std::to_string(rows) + " rows)";
            const double ref_work = 4.0 * (double)rows * (double)c.m;
            if (st.status != LADY_OK) {
                report_failure(ctx, "topk ref on " + c.name);
            } else {
                if (ctx.opt.time_ref) print_row(name, "ref", "-", st, ref_work, 1e9, ctx.ceil.memcpy_gbs);
                struct V { const char* name; int32_t (*fn)(int64_t, int64_t, int64_t, int64_t, int64_t, int64_t); bool run; };
                const V versions[] = {{"cpu", lady_topk_cpu, true}, {"cuda", lady_topk_cuda, ctx.gpu}};
                for (const V& v : versions) {
                    if (!v.run) continue;
                    std::fill(oi.begin(), oi.end(), -1);
                    Stats so = time_calls([&] { return v.fn(addr(s.data()), c.n, c.m, k, addr(oi.data()), addr(ov.data())); },
                                          ctx.opt.warmup, ctx.opt.reps);
                    ++ctx.checks;
                    const char* verdict = "exact";
                    if (so.status != LADY_OK) {
                        report_failure(ctx, std::string("topk ") + v.name + " on " + c.name);
                        verdict = "ERROR";
                    } else if (std::memcmp(oi.data(), ri.data(), ri.size() * sizeof(int32_t)) != 0 ||
                               std::memcmp(ov.data(), rv.data(), rv.size() * sizeof(float)) != 0) {
                        report_failure(ctx, std::string("topk ") + v.name + " on " + c.name + ": differs from the reference");
                        verdict = "WRONG";
                    }
                    print_row(name, v.name, verdict, so, work, 1e9, v.name[1] == 'p' ? ctx.ceil.memcpy_gbs : ctx.ceil.cuda_copy_gbs);
                }
            }
        }
    }

    // sort_desc
    print_header("sort_desc (lady_sort_desc_*): stable descending order of n scores", "Melem/s", "-");
    std::vector<int64_t> sizes = {4096, 11008};
    if (ctx.size_at_least(SizeSet::Paper)) sizes.push_back(int64_t(1) << 20);
    for (int64_t n : sizes) {
        ++seed;
        std::vector<float> scores = uniform_matrix(1, n, seed);
        for (int64_t i = 0; i < n; i += 7) scores[(size_t)i] = 0.25f;  // ties: the order must be stable
        std::vector<int32_t> ro((size_t)n), oo((size_t)n);
        const std::string name = "sort_desc n=" + std::to_string(n) + " (1 in 7 tied)";
        Stats st = time_calls([&] { return lady_sort_desc_ref(addr(scores.data()), n, addr(ro.data())); },
                              ctx.opt.time_ref ? ctx.opt.warmup : 0, ctx.opt.time_ref ? ctx.opt.reps : 1);
        if (st.status != LADY_OK) {
            report_failure(ctx, "sort_desc ref n=" + std::to_string(n));
            continue;
        }
        if (ctx.opt.time_ref) print_row(name, "ref", "-", st, (double)n, 1e6, 0);
        struct V { const char* name; int32_t (*fn)(int64_t, int64_t, int64_t); bool run; };
        const V versions[] = {{"cpu", lady_sort_desc_cpu, true}, {"cuda", lady_sort_desc_cuda, ctx.gpu}};
        for (const V& v : versions) {
            if (!v.run) continue;
            std::fill(oo.begin(), oo.end(), -1);
            Stats so = time_calls([&] { return v.fn(addr(scores.data()), n, addr(oo.data())); }, ctx.opt.warmup, ctx.opt.reps);
            ++ctx.checks;
            const char* verdict = "exact";
            if (so.status != LADY_OK) {
                report_failure(ctx, std::string("sort_desc ") + v.name + " n=" + std::to_string(n));
                verdict = "ERROR";
            } else if (!same(oo, ro)) {
                report_failure(ctx, std::string("sort_desc ") + v.name + " n=" + std::to_string(n) + ": order differs");
                verdict = "WRONG";
            }
            print_row(name, v.name, verdict, so, (double)n, 1e6, 0);
        }
    }
}

void bench_assign(Context& ctx) {
    print_header("assign (lady_assign_*): exact max-weight perfect matching on S[n x n]", "-", "-");
    std::printf("%-58s check: a permutation with the reference's objective (cuda: auction bound)\n", "");
    struct Case {
        std::string name;
        int64_t n;
        bool near;
    };
    std::vector<Case> cases;
    if (ctx.size_at_least(SizeSet::Paper)) {
        cases.push_back({"uniform random 512x512 (hard)", 512, false});
        cases.push_back({"resync-like 512x512 (permutation + noise)", 512, true});
        cases.push_back({"resync-like 4096x4096 (vgg16 classifier)", 4096, true});
        if (ctx.size_at_least(SizeSet::Large)) cases.push_back({"uniform random 2048x2048 (hard)", 2048, false});
    } else {
        cases.push_back({"uniform random 256x256 (hard)", 256, false});
        cases.push_back({"resync-like 512x512 (permutation + noise)", 512, true});
    }
    uint64_t seed = 400;
    for (const Case& c : cases) {
        ++seed;
        const std::vector<float> s = c.near ? near_permutation(c.n, seed, 0.6f) : uniform_matrix(c.n, c.n, seed);
        float lo = s[0], hi = s[0];
        for (float v : s) lo = std::min(lo, v), hi = std::max(hi, v);
        auto objective = [&](const std::vector<int32_t>& p, bool& is_perm) {
            std::vector<char> seen((size_t)c.n, 0);
            is_perm = true;
            double sum = 0;
            for (int64_t i = 0; i < c.n; ++i) {
                const int32_t j = p[(size_t)i];
                if (j < 0 || j >= c.n || seen[(size_t)j]) {
                    is_perm = false;
                    return 0.0;
                }
                seen[(size_t)j] = 1;
                sum += (double)s[(size_t)(i * c.n + j)];
            }
            return sum;
        };
        std::vector<int32_t> rp((size_t)c.n), op((size_t)c.n);
        Stats st = time_calls([&] { return lady_assign_ref(addr(s.data()), c.n, addr(rp.data())); },
                              ctx.opt.time_ref ? ctx.opt.warmup : 0, ctx.opt.time_ref ? ctx.opt.reps : 1);
        bool ref_perm = false;
        const double ref_obj = st.status == LADY_OK ? objective(rp, ref_perm) : 0;
        if (st.status != LADY_OK || !ref_perm) {
            report_failure(ctx, "assign ref on " + c.name + (st.status == LADY_OK ? ": not a permutation" : ""));
            continue;
        }
        if (ctx.opt.time_ref) print_row(c.name, "ref", "-", st, 0, 1, 0);
        struct V { const char* name; int32_t (*fn)(int64_t, int64_t, int64_t); bool run; };
        const V versions[] = {{"cpu", lady_assign_cpu, true}, {"cuda", lady_assign_cuda, ctx.gpu}};
        for (const V& v : versions) {
            if (!v.run) continue;
            std::fill(op.begin(), op.end(), -1);
            Stats so = time_calls([&] { return v.fn(addr(s.data()), c.n, addr(op.data())); }, ctx.opt.warmup, ctx.opt.reps);
            ++ctx.checks;
            const char* verdict = same(op, rp) ? "exact" : "opt";
            bool is_perm = false;
            const double obj = so.status == LADY_OK ? objective(op, is_perm) : 0;
            const bool cuda = v.name[1] == 'u';
            const double levels = std::floor(4294967296.0 / (double)(c.n + 1));
            const double allowed = cuda ? (double)c.n * (double)(hi - lo) / levels + 1e-9 * (double)c.n * std::max(1.0, std::fabs(ref_obj))
                                        : 1e-9 * (double)c.n * std::max(1.0, std::fabs(ref_obj));
            if (so.status != LADY_OK) {
                report_failure(ctx, std::string("assign ") + v.name + " on " + c.name);
                verdict = "ERROR";
            } else if (!is_perm) {
                report_failure(ctx, std::string("assign ") + v.name + " on " + c.name + ": not a permutation");
                verdict = "WRONG";
            } else if (ref_obj - obj > allowed || obj - ref_obj > 1e-9 * (double)c.n * std::max(1.0, std::fabs(ref_obj))) {
                char buf[160];
                std::snprintf(buf, sizeof buf, ": objective %.9g vs reference %.9g (allowed %.3g)", obj, ref_obj, allowed);
                report_failure(ctx, std::string("assign ") + v.name + " on " + c.name + buf);
                verdict = "WRONG";
            }
            print_row(c.name, v.name, verdict, so, 0, 1, 0);
        }
    }
}

}  // namespace bench
