// Optimized CPU similarity: row normalization and the cosine matrix S = U_a * U_b^T.
//
// Design (Goto / BLIS style "NT" product, float32 with FMA):
//  1. Row statistics in double, in parallel, kStatRows rows side by side (independent add chains, each row's sums
//     in the order of k): mean (centered form only) and 1 / max(||x - mean||, eps); once when both sides are one
//     buffer. The normalized rows are never materialized: packing applies (x - mean) * inv_norm on the fly.
//  2. The product is cache-blocked: for each block of kKc depth, every thread packs its own rows of A once into
//     micro-panels of MR rows laid out [k][MR] (its slab; kMcRows of them stay in L2 while used); then for each
//     block of kNc columns, B's rows are packed into micro-panels of NR columns laid out [k][NR] (one micro-panel
//     stays in L1). Packing normalizes four rows at a time in SSE registers and transposes them 4 x 4, so panels are
//     written in 16-byte runs. A register-blocked MR x NR micro-kernel does the FMAs.
//  3. Vector units: the library is compiled for baseline x86-64, so the micro-kernels are compiled
//     per instruction set with __attribute__((target(...))) and chosen once at run time with
//     __builtin_cpu_supports: AVX-512F (12 x 32 tile, 24 zmm accumulators), AVX2 + FMA (6 x 16,
//     12 ymm accumulators), otherwise a portable 4 x 8 kernel.
//  4. Threads: one team per call (lady::parallel_ranges over whole micro-tile rows of S). The threads share each
//     packed B block: each packs its share of the micro-panels into one of two buffers, a barrier, then each
//     multiplies its rows by the whole block (product_blocked).
// The order of the floating-point operations per element of S is fixed, whatever the blocking, threads or packing:
// u = (x - mean) * inv in float; per depth block of kKc, in order, a chain over k from zero (FMA on the AVX paths,
// multiply then add on the portable one); the first block's value stored, each next one added. So S[i, j] does not
// depend on the other rows of the call and K(a, b) == K(b, a) bit for bit (CopyMargins, the prefilter's exact margins
// and the dense path agree); tests/native/similarity_bits_test.cpp holds the kernel to a plain copy of this order.
// It differs from the reference's order (float, blocked): compare with Tolerances.F32_MAX_REL_ERR.
// Measured: bench/RESULTS.md ("float32 cosine kernel: shared B blocks", 2026-12-05); 2-core AVX-512 EPYC, 2 threads:
// 1024 x 4096 x 25088 and x 5097 at 66-67 % of the register-only FMA peak (the previous kernel 56-61 % in the same
// run), 2048 x 14336 x 768 at 70 % (67 %), 240 x 240 x 25088 at 40 % (34 %). Partial edge tiles are computed into a
// small buffer and copied out.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LADY_X86 1
#endif

#include "parallel.h"
#include "resync_common.h"
#include "resync_internal.h"

namespace {

// Depth of one packed block: B micro-panel kKc x 32 floats = 32 KiB (L1), A block kKc x kMcRows. lady.h promises
// the bfloat16 product sums in blocks of 256 to 512 (Kernels.bf16SumAdditions: error bounds rest on it).
constexpr int64_t kKc = 256;
// Rows of A packed per block (a multiple of every MR below): 240 x 256 x 4 B = 240 KiB (L2).
constexpr int64_t kMcRows = 240;
// Columns of B packed per block: 256 x 2048 x 4 B = 2 MiB per thread (L3).
constexpr int64_t kNc = 2048;
// Below this many multiply-adds a single thread is faster than starting threads.
constexpr double kMinFlopsPerThread = 4e6;

using MicroKernel = void (*)(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, int accumulate);

// ---- micro-kernels: C[MR x NR] (+)= Ap[kc x MR]^T * Bp[kc x NR] ------------------------------

constexpr int kGenericMr = 4, kGenericNr = 8;

void kernel_generic(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, int accumulate) {
    float acc[kGenericMr][kGenericNr] = {};
    for (int64_t k = 0; k < kc; ++k)
        for (int r = 0; r < kGenericMr; ++r)
            for (int q = 0; q < kGenericNr; ++q) acc[r][q] += ap[k * kGenericMr + r] * bp[k * kGenericNr + q];
    for (int r = 0; r < kGenericMr; ++r)
        for (int q = 0; q < kGenericNr; ++q) c[r * ldc + q] = accumulate ? c[r * ldc + q] + acc[r][q] : acc[r][q];
}

#ifdef LADY_X86
constexpr int kAvx2Mr = 6, kAvx2Nr = 16;

__attribute__((target("avx2,fma"))) void kernel_avx2(int64_t kc, const float* ap, const float* bp, float* c,
                                                      int64_t ldc, int accumulate) {
    __m256 acc[kAvx2Mr][2];
    for (int r = 0; r < kAvx2Mr; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (int64_t k = 0; k < kc; ++k) {
        const __m256 b0 = _mm256_loadu_ps(bp + k * kAvx2Nr), b1 = _mm256_loadu_ps(bp + k * kAvx2Nr + 8);
        for (int r = 0; r < kAvx2Mr; ++r) {
            const __m256 a = _mm256_broadcast_ss(ap + k * kAvx2Mr + r);
            acc[r][0] = _mm256_fmadd_ps(a, b0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(a, b1, acc[r][1]);
        }
    }
    for (int r = 0; r < kAvx2Mr; ++r) {
        float* cr = c + r * ldc;
        if (accumulate) {
            acc[r][0] = _mm256_add_ps(acc[r][0], _mm256_loadu_ps(cr));
            acc[r][1] = _mm256_add_ps(acc[r][1], _mm256_loadu_ps(cr + 8));
        }
        _mm256_storeu_ps(cr, acc[r][0]);
        _mm256_storeu_ps(cr + 8, acc[r][1]);
    }
}

// Writes (or adds, when accumulating) an MR x 32 tile of accumulators, two zmm per row, into C.
template <int MR>
__attribute__((target("avx512f"), always_inline)) inline void store_tile_avx512(__m512 (&acc)[MR][2], float* c,
                                                                                int64_t ldc, int accumulate) {
    for (int r = 0; r < MR; ++r) {
        float* cr = c + r * ldc;
        if (accumulate) {
            acc[r][0] = _mm512_add_ps(acc[r][0], _mm512_loadu_ps(cr));
            acc[r][1] = _mm512_add_ps(acc[r][1], _mm512_loadu_ps(cr + 16));
        }
        _mm512_storeu_ps(cr, acc[r][0]);
        _mm512_storeu_ps(cr + 16, acc[r][1]);
    }
}

constexpr int kAvx512Mr = 12, kAvx512Nr = 32;

__attribute__((target("avx512f"))) void kernel_avx512(int64_t kc, const float* ap, const float* bp, float* c,
                                                       int64_t ldc, int accumulate) {
    __m512 acc[kAvx512Mr][2];
    for (int r = 0; r < kAvx512Mr; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int64_t k = 0; k < kc; ++k) {
        const __m512 b0 = _mm512_loadu_ps(bp + k * kAvx512Nr), b1 = _mm512_loadu_ps(bp + k * kAvx512Nr + 16);
        const float* a = ap + k * kAvx512Mr;
#pragma GCC unroll 12
        for (int r = 0; r < kAvx512Mr; ++r) {
            const __m512 av = _mm512_set1_ps(a[r]);
            acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
        }
    }
    store_tile_avx512<kAvx512Mr>(acc, c, ldc, accumulate);
}
#endif

struct KernelChoice {
    MicroKernel kernel;
    int mr, nr;
    const char* name;
};

KernelChoice choose_kernel() {
#ifdef LADY_X86
    __builtin_cpu_init();
    int32_t cap = lady_max_cpu_isa();
    if (cap <= 0 && __builtin_cpu_supports("avx512f")) return {kernel_avx512, kAvx512Mr, kAvx512Nr, "avx512f"};
    if (cap <= 1 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return {kernel_avx2, kAvx2Mr, kAvx2Nr, "avx2"};
#endif
    return {kernel_generic, kGenericMr, kGenericNr, "generic"};
}

const KernelChoice& kernel_choice() {
    static const KernelChoice choice = choose_kernel();
    return choice;
}

// ---- row statistics -----------------------------------------------------------------------------

struct RowStats {
    std::vector<float> mean, inv;
};

// Rows whose statistics are computed side by side: each row keeps its own sums, added in the order of k
// as one row alone would (the same bits), but kStatRows independent chains hide the add latency.
constexpr int kStatRows = 8;

void row_stats(const float* x, int64_t rows, int64_t d, int32_t centered, RowStats& st, int32_t threads) {
    st.mean.assign((size_t)rows, 0.f);
    st.inv.assign((size_t)rows, 0.f);
    lady::parallel_ranges(rows, threads, [&](int32_t, int64_t begin, int64_t end) {
        int64_t i = begin;
        for (; i + kStatRows <= end; i += kStatRows) {
            const float* r = x + i * d;
            double mean[kStatRows] = {}, ss[kStatRows] = {};
            if (centered && d > 0) {
                for (int64_t k = 0; k < d; ++k)
                    for (int q = 0; q < kStatRows; ++q) mean[q] += r[q * d + k];
                for (int q = 0; q < kStatRows; ++q) mean[q] /= (double)d;
            }
            for (int64_t k = 0; k < d; ++k)
                for (int q = 0; q < kStatRows; ++q) {
                    const double t = r[q * d + k] - mean[q];
                    ss[q] += t * t;
                }
            for (int q = 0; q < kStatRows; ++q) {
                st.mean[(size_t)(i + q)] = (float)mean[q];
                st.inv[(size_t)(i + q)] = (float)lady_inv_norm(ss[q]);
            }
        }
        for (; i < end; ++i) {
            const float* r = x + i * d;
            double mean = 0.0;
            if (centered && d > 0) {
                for (int64_t k = 0; k < d; ++k) mean += r[k];
                mean /= (double)d;
            }
            double ss = 0.0;
            for (int64_t k = 0; k < d; ++k) {
                const double t = r[k] - mean;
                ss += t * t;
            }
            st.mean[(size_t)i] = (float)mean;
            st.inv[(size_t)i] = (float)lady_inv_norm(ss);
        }
    });
}

// ---- packing ------------------------------------------------------------------------------------

// Packs rows [r0, r0 + rows) x depth [k0, k0 + kc) of x (leading dimension d), normalized, into
// micro-panels of `w` rows, layout [panel][k][w]; rows past the end are zero. Four rows at a time are
// normalized in SSE registers ((x - mean) * inv per lane: the scalar float operations) and transposed 4 x 4,
// so the panel is written in runs of 16 bytes instead of one float per 4w bytes.
void pack_rows(const float* x, int64_t d, const RowStats& st, int64_t r0, int64_t rows, int64_t k0, int64_t kc,
               int w, float* out) {
    const int64_t panels = (rows + w - 1) / w;
    for (int64_t p = 0; p < panels; ++p) {
        float* dst = out + p * kc * w;
        const int live = (int)std::min<int64_t>(w, rows - p * w);
        int q = 0;
#ifdef __SSE2__
        for (; q + 4 <= live; q += 4) {
            const int64_t r = r0 + p * w + q;
            const float* s0 = x + r * d + k0;
            const float *s1 = s0 + d, *s2 = s1 + d, *s3 = s2 + d;
            const __m128 m0 = _mm_set1_ps(st.mean[(size_t)r]), m1 = _mm_set1_ps(st.mean[(size_t)r + 1]),
                         m2 = _mm_set1_ps(st.mean[(size_t)r + 2]), m3 = _mm_set1_ps(st.mean[(size_t)r + 3]);
            const __m128 i0 = _mm_set1_ps(st.inv[(size_t)r]), i1 = _mm_set1_ps(st.inv[(size_t)r + 1]),
                         i2 = _mm_set1_ps(st.inv[(size_t)r + 2]), i3 = _mm_set1_ps(st.inv[(size_t)r + 3]);
            int64_t k = 0;
            for (; k + 4 <= kc; k += 4) {
                __m128 v0 = _mm_mul_ps(_mm_sub_ps(_mm_loadu_ps(s0 + k), m0), i0);
                __m128 v1 = _mm_mul_ps(_mm_sub_ps(_mm_loadu_ps(s1 + k), m1), i1);
                __m128 v2 = _mm_mul_ps(_mm_sub_ps(_mm_loadu_ps(s2 + k), m2), i2);
                __m128 v3 = _mm_mul_ps(_mm_sub_ps(_mm_loadu_ps(s3 + k), m3), i3);
                _MM_TRANSPOSE4_PS(v0, v1, v2, v3);
                _mm_storeu_ps(dst + k * w + q, v0);
                _mm_storeu_ps(dst + (k + 1) * w + q, v1);
                _mm_storeu_ps(dst + (k + 2) * w + q, v2);
                _mm_storeu_ps(dst + (k + 3) * w + q, v3);
            }
            for (; k < kc; ++k)
                for (int u = 0; u < 4; ++u)
                    dst[k * w + q + u] = (x[(r + u) * d + k0 + k] - st.mean[(size_t)(r + u)]) * st.inv[(size_t)(r + u)];
        }
#endif
        for (; q < live; ++q) {
            const int64_t r = r0 + p * w + q;
            const float* src = x + r * d + k0;
            const float mean = st.mean[(size_t)r], inv = st.inv[(size_t)r];
            for (int64_t k = 0; k < kc; ++k) dst[k * w + q] = (src[k] - mean) * inv;
        }
        for (; q < w; ++q)
            for (int64_t k = 0; k < kc; ++k) dst[k * w + q] = 0.f;
    }
}

// A barrier for the fixed team of one parallel_ranges call (every part runs on its own thread): spins briefly
// (the steps between two waits are short and the team is small), then sleeps.
class TeamBarrier {
public:
    explicit TeamBarrier(int32_t parties) : parties_(parties) {}
    void wait() {
        if (parties_ <= 1) return;
        std::unique_lock<std::mutex> lock(mutex_);
        const uint64_t gen = generation_.load(std::memory_order_relaxed);
        if (++waiting_ == parties_) {
            waiting_ = 0;
            generation_.store(gen + 1, std::memory_order_release);
            cv_.notify_all();
            return;
        }
        lock.unlock();
        for (int spin = 0; spin < kBarrierSpins; ++spin) {
            if (generation_.load(std::memory_order_acquire) != gen) return;
#ifdef __SSE2__
            _mm_pause();
#endif
        }
        lock.lock();
        cv_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != gen; });
    }

private:
    static constexpr int kBarrierSpins = 20000;
    const int32_t parties_;
    int32_t waiting_ = 0;
    std::atomic<uint64_t> generation_{0};
    std::mutex mutex_;
    std::condition_variable cv_;
};

// The whole blocked product S[n x m] over packed elements of type T (float, or bfloat16 pairs for the dot-product
// kernel) on `threads` threads. pack(a_side, r0, rows, k0, kc, w, out) packs a block; packed_depth(kc) is the depth a
// packed panel holds (kc, or kc rounded up to even for pairs). Threads own ranges of whole micro-tile rows of S (only
// the last range has a partial tile). For every depth block pc each thread packs all its rows of A once (its slab),
// then for every column block jc of B: each thread packs its share of B's micro-panels into one of two shared
// buffers, a barrier, then every thread multiplies its rows by the whole block. Two buffers need one barrier per
// step: a thread packs step s + 2 only after every thread has passed step s + 1's barrier, so after it finished
// computing step s. Per element of S the order of the operations is the one of a single thread: depth blocks in
// order, each an FMA chain over k from zero, added to C. Nothing in the team allocates or throws (a throwing part
// would leave the others at the barrier).
template <typename T, typename Pack, typename Depth>
void product_blocked(const Pack& pack, const Depth& packed_depth, void (*kernel)(int64_t, const T*, const T*, float*,
                                                                             int64_t, int),
                     int mr, int nr, int64_t n, int64_t m, int64_t d, float* out, int32_t threads,
                     int64_t depth_block = kKc) {
    const int64_t tiles = (n + mr - 1) / mr;
    const int32_t parts = (int32_t)std::max<int64_t>(1, std::min<int64_t>(threads, tiles));
    const int64_t nc_max = std::min(kNc, ((m + nr - 1) / nr) * nr);
    const int64_t kp_max = packed_depth(depth_block);
    const size_t bsize = (size_t)(kp_max * nc_max), esize = (size_t)(mr * nr);
    std::vector<T> bpack(2 * bsize);
    std::vector<T> slabs((size_t)(tiles * mr * kp_max));  // thread t's slab starts at its first tile
    std::vector<float> edges((size_t)parts * esize);
    TeamBarrier barrier(parts);
    lady::parallel_ranges(tiles, parts, [&](int32_t t, int64_t tile_begin, int64_t tile_end) {
        const int64_t row_begin = tile_begin * mr, row_end = std::min(n, tile_end * mr);
        T* const slab = slabs.data() + (size_t)(tile_begin * mr * kp_max);
        float* const edge = edges.data() + (size_t)t * esize;
        int64_t step = 0;
        for (int64_t pc = 0; pc < d; pc += depth_block) {
            const int64_t kc = std::min(depth_block, d - pc);
            const int64_t kp = packed_depth(kc);
            const int accumulate = pc > 0;
            pack(true, row_begin, row_end - row_begin, pc, kc, mr, slab);
            for (int64_t jc = 0; jc < m; jc += kNc, ++step) {
                const int64_t nc = std::min(kNc, m - jc);
                const int64_t panels = (nc + nr - 1) / nr;
                T* const bblock = bpack.data() + (size_t)(step & 1) * bsize;
                const int64_t p0 = panels * t / parts, p1 = panels * (t + 1) / parts;
                if (p1 > p0) pack(false, jc + p0 * nr, std::min(nc, p1 * nr) - p0 * nr, pc, kc, nr, bblock + p0 * kp * nr);
                barrier.wait();
                for (int64_t ic = row_begin; ic < row_end; ic += kMcRows) {
                    const int64_t mc = std::min(kMcRows, row_end - ic);
                    const T* const ap_block = slab + (ic - row_begin) * kp;
                    for (int64_t jr = 0; jr < nc; jr += nr) {
                        const int64_t cols = std::min<int64_t>(nr, nc - jr);
                        const T* bp = bblock + (jr / nr) * kp * nr;
                        for (int64_t ir = 0; ir < mc; ir += mr) {
                            const int64_t rows = std::min<int64_t>(mr, mc - ir);
                            const T* ap = ap_block + (ir / mr) * kp * mr;
                            float* c = out + (ic + ir) * m + jc + jr;
                            if (rows == mr && cols == nr) {
                                kernel(kc, ap, bp, c, m, accumulate);
                            } else {
                                kernel(kc, ap, bp, edge, nr, 0);
                                for (int64_t r = 0; r < rows; ++r)
                                    for (int64_t q = 0; q < cols; ++q)
                                        c[r * m + q] = accumulate ? c[r * m + q] + edge[(size_t)(r * nr + q)]
                                                                  : edge[(size_t)(r * nr + q)];
                            }
                        }
                    }
                }
            }
        }
    });
}

int64_t same_depth(int64_t kc) { return kc; }

// The float32 cosine product S[n x m] on `threads` threads.
void product(const float* a, const float* b, int64_t n, int64_t m, int64_t d, const RowStats& sa, const RowStats& sb,
             float* out, int32_t threads) {
    const KernelChoice& kc_choice = kernel_choice();
    auto pack = [&](bool a_side, int64_t r0, int64_t rows, int64_t k0, int64_t kc, int w, float* dst) {
        pack_rows(a_side ? a : b, d, a_side ? sa : sb, r0, rows, k0, kc, w, dst);
    };
    product_blocked<float>(pack, same_depth, kc_choice.kernel, kc_choice.mr, kc_choice.nr, n, m, d, out, threads);
}

int32_t threads_for_flops(double flops, int64_t rows) {
    int64_t t = (int64_t)(flops / kMinFlopsPerThread);
    t = std::max<int64_t>(1, std::min<int64_t>(t, lady_get_num_threads()));
    return (int32_t)std::min<int64_t>(t, std::max<int64_t>(1, rows));
}

}  // namespace

extern "C" int32_t lady_normalize_rows_cpu(int64_t in, int64_t out, int64_t rows, int64_t d, int32_t centered) {
    int32_t st = lady_validate_normalize("normalize_rows_cpu", in, out, rows, d);
    if (st != LADY_OK) return st;
    const float* x = reinterpret_cast<const float*>(in);
    float* o = reinterpret_cast<float*>(out);
    try {
        RowStats s;
        const int32_t threads = threads_for_flops(3.0 * (double)rows * (double)d, rows);
        row_stats(x, rows, d, centered, s, threads);
        lady::parallel_ranges(rows, threads, [&](int32_t, int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; ++i) {
                const float mean = s.mean[(size_t)i], inv = s.inv[(size_t)i];
                for (int64_t k = 0; k < d; ++k) o[i * d + k] = (x[i * d + k] - mean) * inv;
            }
        });
    } catch (const std::bad_alloc&) {
        return lady_fail(LADY_ERR_OUT_OF_MEMORY, "normalize_rows_cpu: out of memory for %lld rows", (long long)rows);
    } catch (const std::exception& e) {
        return lady_fail(LADY_ERR_INTERNAL, "normalize_rows_cpu: %s", e.what());
    }
    return lady_ok();
}

extern "C" int32_t lady_cosine_similarity_cpu(int64_t a, int64_t b, int64_t n, int64_t m, int64_t d,
                                              int32_t centered, int64_t out) {
    int32_t st = lady_validate_similarity("cosine_similarity_cpu", a, b, n, m, d, out);
    if (st != LADY_OK) return st;
    if (n == 0 || m == 0) return lady_ok();
    const float* xa = reinterpret_cast<const float*>(a);
    const float* xb = reinterpret_cast<const float*>(b);
    float* o = reinterpret_cast<float*>(out);
    if (d == 0) {  // every row is zero: every cosine is 0
        std::memset(o, 0, sizeof(float) * (size_t)(n * m));
        return lady_ok();
    }
    try {
        RowStats sa, sb;
        const bool same_rows = xa == xb && n == m;  // a symmetric product (CopyMargins' diagonal blocks)
        const int32_t stat_threads = threads_for_flops(3.0 * (double)(same_rows ? n : n + m) * (double)d, n + m);
        row_stats(xa, n, d, centered, sa, stat_threads);
        if (!same_rows) row_stats(xb, m, d, centered, sb, stat_threads);
        product(xa, xb, n, m, d, sa, same_rows ? sa : sb, o, threads_for_flops((double)n * (double)m * (double)d, n));
    } catch (const std::bad_alloc&) {
        return lady_fail(LADY_ERR_OUT_OF_MEMORY, "cosine_similarity_cpu: cannot allocate packing buffers");
    } catch (const std::exception& e) {
        return lady_fail(LADY_ERR_INTERNAL, "cosine_similarity_cpu: %s", e.what());
    }
    return lady_ok();
}

// ---- bfloat16 rows: lady_cosine_similarity_bf16_cpu -------------------------------------------------
//
// out[i, j] = <a_i, b_j> * inv_a[i] * inv_b[j] for bfloat16 rows (raw uint16), float32 accumulation; the
// inverse norms come from the caller (computed in double from the same values). Same blocking as above.
//  - Dot-product kernel (CPUs with AVX512-BF16): vdpbf16ps multiplies pairs of bfloat16 values exactly
//    (8 x 8 significant bits fit float32's 24) and adds them to float32 accumulators: a 12 x 32 tile, 24 zmm
//    accumulators, depth packed in pairs ([k / 2][w][2] panels; an odd depth is padded with a zero), blocks of
//    512 deep (kBf16Kc: half the C-tile traffic of 256, 2.0x the float32 kernel instead of 1.7x, bench/RESULTS.md).
//    vdpbf16ps treats subnormal inputs as zero and flushes subnormal results: a row whose largest |value|
//    lies outside [2^-20, 2^20] (kBf16SafeExponent) is scaled by a power of two while it is packed (exact),
//    so what is lost is below 2^-86 of the products' scale (see PrefilteredMatch's error bound).
//  - Fallback (other CPUs, or forced by lady_set_bf16_kernel(1)): the packing widens to float32 (and
//    applies the same scale) and the float micro-kernels above do the product.
// The products are exact in both, so both equal the float32 kernel on the widened rows up to summation order.
namespace {

constexpr int kBf16SafeExponent = 20;

inline uint16_t float_to_bf16(float f) {  // round to nearest, ties to even (finite values)
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    u += 0x7FFFu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

// Per row: the exponent e by which the row is divided while packed (0 inside the safe range).
void bf16_row_exponents(const uint16_t* x, int64_t rows, int64_t d, std::vector<int>& expo, int32_t threads) {
    expo.assign((size_t)rows, 0);
    lady::parallel_ranges(rows, threads, [&](int32_t, int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
            const uint16_t* r = x + i * d;
            uint16_t top = 0;  // the largest |value| has the largest magnitude bits
            for (int64_t k = 0; k < d; ++k) top = std::max<uint16_t>(top, (uint16_t)(r[k] & 0x7FFFu));
            const float mx = lady_bf16_bits_to_float(top);
            if (mx == 0.f || !std::isfinite(mx)) continue;
            int e = 0;
            std::frexp(mx, &e);  // mx in [2^(e-1), 2^e)
            if (e - 1 < -kBf16SafeExponent || e - 1 > kBf16SafeExponent) expo[(size_t)i] = e - 1;
        }
    });
}

using Bf16Kernel = void (*)(int64_t kc, const uint16_t* ap, const uint16_t* bp, float* c, int64_t ldc, int accumulate);

constexpr int kBf16Mr = 12, kBf16Nr = 32;
// Depth of a packed block of bfloat16 pairs: the B micro-panel 512 x 32 x 2 B = 32 KiB (L1), as the float one.
constexpr int64_t kBf16Kc = 512;

#ifdef LADY_X86

__attribute__((target("avx512f,avx512bf16"))) void kernel_bf16_avx512(int64_t kc, const uint16_t* ap,
                                                                      const uint16_t* bp, float* c, int64_t ldc,
                                                                      int accumulate) {
    __m512 acc[kBf16Mr][2];
    for (int r = 0; r < kBf16Mr; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    const int64_t pairs = (kc + 1) / 2;
    for (int64_t k = 0; k < pairs; ++k) {
        const __m512bh b0 = (__m512bh)_mm512_loadu_si512(bp + k * 2 * kBf16Nr);
        const __m512bh b1 = (__m512bh)_mm512_loadu_si512(bp + k * 2 * kBf16Nr + kBf16Nr);
        const uint16_t* a = ap + k * 2 * kBf16Mr;
#pragma GCC unroll 12
        for (int r = 0; r < kBf16Mr; ++r) {
            int32_t pair;
            std::memcpy(&pair, a + 2 * r, sizeof pair);
            const __m512bh av = (__m512bh)_mm512_set1_epi32(pair);
            acc[r][0] = _mm512_dpbf16_ps(acc[r][0], av, b0);
            acc[r][1] = _mm512_dpbf16_ps(acc[r][1], av, b1);
        }
    }
    store_tile_avx512<kBf16Mr>(acc, c, ldc, accumulate);
}
#endif

bool bf16_dot_supported() {
#ifdef LADY_X86
    static const bool yes = [] {
        __builtin_cpu_init();
        return lady_max_cpu_isa() <= 0 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
    }();
    return yes;
#else
    return false;
#endif
}

std::atomic<int32_t> g_bf16_mode{0};  // 0: best available, 1: widen to float32

bool use_bf16_dot() { return g_bf16_mode.load() == 0 && bf16_dot_supported(); }

// Packs rows [r0, r0 + rows) x depth [k0, k0 + kc) of x in pairs, layout [panel][k / 2][w][2]; rows past the
// end and the odd depth's partner are zero.
void pack_bf16_pairs(const uint16_t* x, int64_t d, const std::vector<int>& expo, int64_t r0, int64_t rows, int64_t k0,
                     int64_t kc, int w, uint16_t* out) {
    const int64_t panels = (rows + w - 1) / w, kp = (kc + 1) / 2;
    for (int64_t p = 0; p < panels; ++p) {
        uint16_t* dst = out + p * kp * 2 * w;
        for (int q = 0; q < w; ++q) {
            const int64_t r = p * w + q;
            if (r >= rows) {
                for (int64_t k = 0; k < kp; ++k) dst[k * 2 * w + 2 * q] = dst[k * 2 * w + 2 * q + 1] = 0;
                continue;
            }
            const uint16_t* src = x + (r0 + r) * d + k0;
            const int e = expo[(size_t)(r0 + r)];
            if (e == 0) {
                for (int64_t k = 0; k + 1 < kc; k += 2) {
                    uint32_t pair;
                    std::memcpy(&pair, src + k, sizeof pair);
                    std::memcpy(dst + k * w + 2 * q, &pair, sizeof pair);
                }
            } else {
                for (int64_t k = 0; k + 1 < kc; k += 2) {
                    dst[k * w + 2 * q] = float_to_bf16(std::ldexp(lady_bf16_bits_to_float(src[k]), -e));
                    dst[k * w + 2 * q + 1] = float_to_bf16(std::ldexp(lady_bf16_bits_to_float(src[k + 1]), -e));
                }
            }
            if (kc % 2) {
                const uint16_t v = src[kc - 1];
                dst[(kc - 1) * w + 2 * q] = e == 0 ? v : float_to_bf16(std::ldexp(lady_bf16_bits_to_float(v), -e));
                dst[(kc - 1) * w + 2 * q + 1] = 0;
            }
        }
    }
}

// Packs as pack_rows does (layout [panel][k][w]), widening to float32 and dividing by 2^e.
void pack_bf16_widened(const uint16_t* x, int64_t d, const std::vector<int>& expo, int64_t r0, int64_t rows,
                       int64_t k0, int64_t kc, int w, float* out) {
    const int64_t panels = (rows + w - 1) / w;
    for (int64_t p = 0; p < panels; ++p) {
        float* dst = out + p * kc * w;
        for (int q = 0; q < w; ++q) {
            const int64_t r = p * w + q;
            if (r >= rows) {
                for (int64_t k = 0; k < kc; ++k) dst[k * w + q] = 0.f;
                continue;
            }
            const uint16_t* src = x + (r0 + r) * d + k0;
            const int e = expo[(size_t)(r0 + r)];
            if (e == 0) {
                for (int64_t k = 0; k < kc; ++k) dst[k * w + q] = lady_bf16_bits_to_float(src[k]);
            } else {
                for (int64_t k = 0; k < kc; ++k) dst[k * w + q] = std::ldexp(lady_bf16_bits_to_float(src[k]), -e);
            }
        }
    }
}

int64_t pair_depth(int64_t kc) { return ((kc + 1) / 2) * 2; }

}  // namespace

extern "C" void lady_set_bf16_kernel(int32_t mode) { g_bf16_mode.store(mode == 1 ? 1 : 0); }

extern "C" const char* lady_bf16_kernel_name(void) {
    if (use_bf16_dot()) return "avx512bf16";
    static const std::string widened = std::string("widened to float32, ") + kernel_choice().name;
    return widened.c_str();
}

extern "C" int32_t lady_cosine_similarity_bf16_cpu(int64_t a, int64_t b, int64_t n, int64_t m, int64_t d, int64_t inv_a,
                                                   int64_t inv_b, int64_t out) {
    int32_t st = lady_validate_similarity_bf16("cosine_similarity_bf16_cpu", a, b, n, m, d, inv_a, inv_b, out);
    if (st != LADY_OK) return st;
    if (n == 0 || m == 0) return lady_ok();
    const uint16_t* xa = reinterpret_cast<const uint16_t*>(a);
    const uint16_t* xb = reinterpret_cast<const uint16_t*>(b);
    const double* ia = reinterpret_cast<const double*>(inv_a);
    const double* ib = reinterpret_cast<const double*>(inv_b);
    float* o = reinterpret_cast<float*>(out);
    if (d == 0) {
        std::memset(o, 0, sizeof(float) * (size_t)(n * m));
        return lady_ok();
    }
    try {
        std::vector<int> ea, eb;
        const int32_t stat_threads = threads_for_flops((double)(n + m) * (double)d, n + m);
        bf16_row_exponents(xa, n, d, ea, stat_threads);
        bf16_row_exponents(xb, m, d, eb, stat_threads);
        std::vector<double> sb((size_t)m);
        for (int64_t j = 0; j < m; ++j) sb[(size_t)j] = std::ldexp(ib[j], eb[(size_t)j]);
        const int32_t threads = threads_for_flops((double)n * (double)m * (double)d, n);
        if (use_bf16_dot()) {
#ifdef LADY_X86
            auto pack = [&](bool a_side, int64_t s0, int64_t rows, int64_t k0, int64_t kc, int w, uint16_t* dst) {
                pack_bf16_pairs(a_side ? xa : xb, d, a_side ? ea : eb, s0, rows, k0, kc, w, dst);
            };
            product_blocked<uint16_t>(pack, pair_depth, kernel_bf16_avx512, kBf16Mr, kBf16Nr, n, m, d, o, threads,
                                      kBf16Kc);
#endif
        } else {
            const KernelChoice& kc_choice = kernel_choice();
            auto pack = [&](bool a_side, int64_t s0, int64_t rows, int64_t k0, int64_t kc, int w, float* dst) {
                pack_bf16_widened(a_side ? xa : xb, d, a_side ? ea : eb, s0, rows, k0, kc, w, dst);
            };
            product_blocked<float>(pack, same_depth, kc_choice.kernel, kc_choice.mr, kc_choice.nr, n, m, d, o, threads);
        }
        lady::parallel_ranges(n, threads, [&](int32_t, int64_t r0, int64_t r1) {
            for (int64_t i = r0; i < r1; ++i) {  // the dot products times the inverse norms (and the rows' scales)
                const double si = std::ldexp(ia[i], ea[(size_t)i]);
                float* row = o + i * m;
                for (int64_t j = 0; j < m; ++j) row[j] = (float)((double)row[j] * si * sb[(size_t)j]);
            }
        });
    } catch (const std::bad_alloc&) {
        return lady_fail(LADY_ERR_OUT_OF_MEMORY, "cosine_similarity_bf16_cpu: cannot allocate packing buffers");
    } catch (const std::exception& e) {
        return lady_fail(LADY_ERR_INTERNAL, "cosine_similarity_bf16_cpu: %s", e.what());
    }
    return lady_ok();
}
static_assert(kKc >= 256 && kKc <= 512 && kBf16Kc >= 256 && kBf16Kc <= 512,
              "lady.h: the bfloat16 product sums in depth blocks of 256 to 512 (Kernels.bf16SumAdditions)");
