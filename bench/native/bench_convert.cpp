// lady_bench module: half precision to float32 (lady.h kernel 6), the checkpoint read path, one thread.
// Cases: a tensor read row by row into one reused row buffer (what a resync pass does: the rows come from
// memory, the row buffer stays in cache) and one call over a whole tensor (toFloat32). Every CPU path the
// machine has (lady_set_convert_kernel: avx512f, avx2, scalar) is checked bit for bit against the reference,
// then timed next to a memcpy of the same source bytes in the same run (the floor: the bytes have to be read).
// The values are a layer's weights (normal, sd 0.02, rounded to the format: no infinities or NaN, as in a
// checkpoint); the source lies on 4 KB pages (MADV_NOHUGEPAGE), as a mapped checkpoint file does.
// Throughput: GB/s of half precision input (2 bytes per value), the same measure for every row.
#include <sys/mman.h>

#include <cmath>
#include <cstring>
#include <random>

#include "bench.h"

namespace bench {

namespace {

// float32 to IEEE half bits, nearest (ties to even) for the normal range of weights and subnormals.
uint16_t f16_bits(float x) {
    const uint16_t sign = std::signbit(x) ? 0x8000 : 0;
    const float a = std::fabs(x);
    if (a < 6.103515625e-05f) return (uint16_t)(sign | (uint16_t)std::nearbyint(a * 16777216.f));  // subnormal
    int e;
    const float m = std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
    const int mant = (int)std::nearbyint((m * 2.f - 1.f) * 1024.f);
    return (uint16_t)(sign | (uint16_t)(((e - 1 + 15) << 10) + mant));  // a carry moves into the exponent
}

}  // namespace

void bench_convert(Context& ctx) {
    print_header("half precision to float32 (kernel 6), 1 thread", "GB/s in", "-");
    const int64_t values = ctx.size_at_least(SizeSet::Paper) ? int64_t(64) << 20 : int64_t(1) << 20;
    const int64_t row = 14336;  // an MLP row of Llama-3-8B width
    void* mem = mmap(nullptr, (size_t)(2 * values), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        report_failure(ctx, "convert: cannot map the source");
        return;
    }
    madvise(mem, (size_t)(2 * values), MADV_NOHUGEPAGE);
    uint16_t* const src_bits = static_cast<uint16_t*>(mem);
    std::mt19937_64 rng(6);
    std::normal_distribution<float> weight(0.f, 0.02f);
    std::vector<float> ref((size_t)values);
    for (int64_t i = 0; i < values; ++i) ref[(size_t)i] = weight(rng);
    std::vector<float> whole((size_t)values), line((size_t)row);
    std::vector<uint16_t> copy((size_t)values);
    auto pa = [](const void* p) { return (int64_t)(intptr_t)p; };
    const int64_t rows = values / row;
    const double in_bytes = 2.0 * (double)values;
    const std::string human = human_bytes(in_bytes);
    for (int kind = 0; kind < 2; ++kind) {
        const bool bf16 = kind == 0;
        auto fn_ref = bf16 ? lady_bf16_to_float_ref : lady_f16_to_float_ref;
        auto fn_cpu = bf16 ? lady_bf16_to_float_cpu : lady_f16_to_float_cpu;
        const std::string what = bf16 ? "bf16" : "f16";
        for (int64_t i = 0; i < values; ++i) {  // the weights rounded to the format (through libm: exact)
            const float x = ref[(size_t)i];
            uint32_t u;
            std::memcpy(&u, &x, 4);
            src_bits[i] = bf16 ? (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16) : f16_bits(x);
        }
        if (fn_ref(pa(src_bits), pa(ref.data()), 0, values) != LADY_OK) {
            report_failure(ctx, what + "_to_float ref");
            continue;
        }
        const std::string by_rows = what + " " + human + " by rows of 14336 into one row";
        const std::string at_once = what + " " + human + " in one call";
        // the floors: memcpy of the same source bytes, row by row into one row buffer, and at once
        Stats st = time_calls([&] {
            for (int64_t r = 0; r < rows; ++r) std::memcpy(copy.data(), src_bits + r * row, (size_t)(2 * row));
            return LADY_OK;
        }, ctx.opt.warmup, ctx.opt.reps);
        print_row(by_rows, "copy", "-", st, 2.0 * (double)(rows * row), 1e9, 0);
        st = time_calls([&] {
            std::memcpy(copy.data(), src_bits, (size_t)in_bytes);
            return LADY_OK;
        }, ctx.opt.warmup, ctx.opt.reps);
        print_row(at_once, "copy", "-", st, in_bytes, 1e9, 0);
        if (ctx.opt.time_ref) {
            st = time_calls([&] { return fn_ref(pa(src_bits), pa(whole.data()), 0, values); }, ctx.opt.warmup,
                            ctx.opt.reps);
            print_row(at_once, "ref", "-", st, in_bytes, 1e9, 0);
        }
        std::string previous;
        for (int32_t mode : {0, 1, 2}) {
            lady_set_convert_kernel(mode);
            const std::string name = lady_convert_kernel_name();
            if (name == previous) continue;  // a path this CPU lacks fell back to the one just timed
            previous = name;
            const char* ver = mode == 0 ? "cpu" : mode == 1 ? "avx2" : "scal";
            st = time_calls([&] {
                int32_t s = LADY_OK;
                for (int64_t r = 0; r < rows && s == LADY_OK; ++r)
                    s = fn_cpu(pa(src_bits + r * row), pa(line.data()), 0, row);
                return s;
            }, ctx.opt.warmup, ctx.opt.reps);
            bool same = std::memcmp(line.data(), ref.data() + (rows - 1) * row, (size_t)(4 * row)) == 0;
            print_row(by_rows, ver, same ? "ok" : "FAIL", st, 2.0 * (double)(rows * row), 1e9, 0);
            ++ctx.checks;
            if (!same || st.status != LADY_OK) report_failure(ctx, what + "_to_float " + name + " by rows");
            std::memset(whole.data(), 0, whole.size() * sizeof(float));
            st = time_calls([&] { return fn_cpu(pa(src_bits), pa(whole.data()), 0, values); }, ctx.opt.warmup,
                            ctx.opt.reps);
            same = std::memcmp(whole.data(), ref.data(), whole.size() * sizeof(float)) == 0;
            print_row(at_once, ver, same ? "ok" : "FAIL", st, in_bytes, 1e9, 0);
            ++ctx.checks;
            if (!same || st.status != LADY_OK) report_failure(ctx, what + "_to_float " + name + " in one call");
        }
        lady_set_convert_kernel(0);
    }
    std::printf("(cpu: the best path, %s here; copy: memcpy of the same half precision bytes)\n",
                lady_convert_kernel_name());
    munmap(mem, (size_t)(2 * values));
}

}  // namespace bench
