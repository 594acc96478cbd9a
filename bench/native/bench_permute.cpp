// Batched permutation (lady_permute_*): check every version against the reference, then time it.
//
// A case is one permutation group of a real network: every tensor that moves with one layer's
// neurons (producer rows, bias, BN, the consumer's columns), permuted in ONE call as Lady does.
// Napkin math: an in-place permutation reads every byte once and writes it once, so the work is
// 2 x tensor bytes, the same count as the memcpy ceiling (read + write). The CUDA version also
// moves every byte host -> device -> host, so its ceiling is the PCIe round trip.
#include <cstring>
#include <numeric>
#include <random>

#include "bench.h"

namespace bench {
namespace {

struct Tensor {
    const char* name;
    int64_t outer;
    int64_t row_bytes;
};

struct Case {
    std::string name;
    int64_t n;
    std::vector<Tensor> tensors;
    int64_t bytes() const {
        int64_t b = 0;
        for (const Tensor& t : tensors) b += t.outer * n * t.row_bytes;
        return b;
    }
};

constexpr int64_t F = 4;  // float32

// Producer weight [n, in...] permuted along axis 0: one row of `in_elems` floats per neuron.
Tensor rows(const char* name, int64_t in_elems) { return {name, 1, in_elems * F}; }
// Consumer weight [out, n, inner...] permuted along axis 1: `out` slices, `inner` floats per neuron.
Tensor cols(const char* name, int64_t out, int64_t inner) { return {name, out, inner * F}; }
Tensor vec(const char* name) { return {name, 1, F}; }

void add_bn(std::vector<Tensor>& t, const char* w, const char* b, const char* m, const char* v) {
    t.push_back(vec(w));
    t.push_back(vec(b));
    t.push_back(vec(m));
    t.push_back(vec(v));
}

// torchvision VGG16 (ImageNet head): 13 conv groups and 2 classifier groups.
std::vector<Case> vgg16_cases() {
    static const int64_t widths[] = {64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512};
    static const char* names[] = {"features.0", "features.2", "features.5", "features.7", "features.10",
                                  "features.12", "features.14", "features.17", "features.19", "features.21",
                                  "features.24", "features.26", "features.28"};
    std::vector<Case> cases;
    int64_t in = 3;
    for (int i = 0; i < 13; ++i) {
        const int64_t c = widths[i];
        Case k{std::string("vgg16 ") + names[i] + " (n=" + std::to_string(c) + ")", c, {}};
        k.tensors.push_back(rows("weight", in * 9));
        k.tensors.push_back(vec("bias"));
        if (i + 1 < 13) k.tensors.push_back(cols("next.weight", widths[i + 1], 9));
        else k.tensors.push_back(cols("classifier.0.weight (blocks of 49)", 4096, 49));
        cases.push_back(k);
        in = c;
    }
    Case c0{"vgg16 classifier.0 4096x25088 (n=4096)", 4096,
            {rows("classifier.0.weight", 25088), vec("classifier.0.bias"), cols("classifier.3.weight", 4096, 1)}};
    Case c3{"vgg16 classifier.3 4096x4096 (n=4096)", 4096,
            {rows("classifier.3.weight", 4096), vec("classifier.3.bias"), cols("classifier.6.weight", 1000, 1)}};
    cases.push_back(c0);
    cases.push_back(c3);
    return cases;
}

// torchvision ResNet18: the first residual stream, a block-internal group, the last stream.
std::vector<Case> resnet18_cases() {
    std::vector<Case> cases;
    Case s1{"resnet18 stem+layer1 stream (n=64)", 64, {}};
    s1.tensors.push_back(rows("conv1.weight", 3 * 49));
    add_bn(s1.tensors, "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var");
    for (int b = 0; b < 2; ++b) {
        s1.tensors.push_back(cols("layer1.b.conv1.weight", 64, 9));
        s1.tensors.push_back(rows("layer1.b.conv2.weight", 64 * 9));
        add_bn(s1.tensors, "bn2.weight", "bn2.bias", "bn2.running_mean", "bn2.running_var");
    }
    s1.tensors.push_back(cols("layer2.0.conv1.weight", 128, 9));
    s1.tensors.push_back(cols("layer2.0.downsample.0.weight", 128, 1));
    cases.push_back(s1);

    Case in4{"resnet18 layer4.0 internal (n=512)", 512, {}};
    in4.tensors.push_back(rows("layer4.0.conv1.weight", 256 * 9));
    add_bn(in4.tensors, "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var");
    in4.tensors.push_back(cols("layer4.0.conv2.weight", 512, 9));
    cases.push_back(in4);

    Case s4{"resnet18 layer4 stream (n=512)", 512, {}};
    s4.tensors.push_back(rows("layer4.0.conv2.weight", 512 * 9));
    add_bn(s4.tensors, "bn2.weight", "bn2.bias", "bn2.running_mean", "bn2.running_var");
    s4.tensors.push_back(rows("layer4.0.downsample.0.weight", 256));
    add_bn(s4.tensors, "ds.1.weight", "ds.1.bias", "ds.1.running_mean", "ds.1.running_var");
    s4.tensors.push_back(cols("layer4.1.conv1.weight", 512, 9));
    s4.tensors.push_back(rows("layer4.1.conv2.weight", 512 * 9));
    add_bn(s4.tensors, "bn2.weight", "bn2.bias", "bn2.running_mean", "bn2.running_var");
    s4.tensors.push_back(cols("fc.weight", 1000, 1));
    cases.push_back(s4);
    return cases;
}

std::vector<Case> cases_for(const Context& ctx) {
    std::vector<Case> cases;
    if (!ctx.size_at_least(SizeSet::Paper)) {
        cases.push_back(vgg16_cases()[0]);
        cases.push_back(resnet18_cases()[0]);
        cases.push_back({"fc 512x512 (n=512)", 512, {rows("fc1.weight", 512), vec("fc1.bias"), cols("fc2.weight", 10, 1)}});
        return cases;
    }
    for (auto& c : vgg16_cases()) cases.push_back(c);
    for (auto& c : resnet18_cases()) cases.push_back(c);
    // An 11008-wide layer (LLaMA-7B MLP width): up_proj rows and down_proj columns.
    cases.push_back({"mlp 4096->11008->4096 (n=11008)", 11008,
                     {rows("up_proj.weight", 4096), cols("down_proj.weight", 4096, 1)}});
    if (ctx.size_at_least(SizeSet::Large)) {
        cases.push_back({"llama-7b mlp gate+up+down (n=11008)", 11008,
                         {rows("gate_proj.weight", 4096), rows("up_proj.weight", 4096),
                          cols("down_proj.weight", 4096, 1)}});
    }
    return cases;
}

// Host copy of one case's tensors, filled deterministically from a seed.
struct Buffers {
    std::vector<std::vector<uint32_t>> data;
    std::vector<int64_t> addresses, outer, row_bytes;
    explicit Buffers(const Case& c) {
        for (const Tensor& t : c.tensors) {
            const int64_t bytes = t.outer * c.n * t.row_bytes;
            data.emplace_back((size_t)((bytes + 3) / 4));
            addresses.push_back((int64_t)(intptr_t)data.back().data());
            outer.push_back(t.outer);
            row_bytes.push_back(t.row_bytes);
        }
    }
    void fill(uint64_t seed) {
        for (auto& d : data) {
            uint64_t x = seed * 0x9E3779B97F4A7C15ull + d.size();
            for (auto& v : d) {  // xorshift64*: distinct words, so misplaced rows are seen
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                v = (uint32_t)((x * 0x2545F4914F6CDD1Dull) >> 32);
            }
        }
    }
    bool same(const Buffers& o) const {
        for (size_t t = 0; t < data.size(); ++t)
            if (std::memcmp(data[t].data(), o.data[t].data(), data[t].size() * 4) != 0) return false;
        return true;
    }
};

using PermuteFn = int32_t (*)(int32_t, const int64_t*, const int64_t*, const int64_t*, const int64_t*, int64_t);

int32_t call(PermuteFn f, Buffers& b, const std::vector<int64_t>& perm) {
    return f((int32_t)b.addresses.size(), b.addresses.data(), b.outer.data(), b.row_bytes.data(), perm.data(),
             (int64_t)perm.size());
}

}  // namespace

void bench_permute(Context& ctx) {
    print_header("permute (lady_permute_*): one group of tensors per call, in place", "GB/s",
                 ctx.gpu ? "memcpy; cuda: PCIe round trip" : "memcpy");
    std::printf("%-58s work = 2 x tensor bytes (read + write); cases that fit in the caches can pass 100%%\n", "");
    double sum_ms[3] = {0, 0, 0};
    double sum_bytes = 0;
    const bool is_paper = ctx.size_at_least(SizeSet::Paper);
    uint64_t seed = 1;
    for (const Case& c : cases_for(ctx)) {
        ++seed;
        std::mt19937_64 rng(seed);
        std::vector<int64_t> perm((size_t)c.n);
        std::iota(perm.begin(), perm.end(), 0);
        std::shuffle(perm.begin(), perm.end(), rng);
        const double work = 2.0 * (double)c.bytes();
        const std::string name = c.name + ", " + human_bytes((double)c.bytes());

        Buffers ref(c), opt(c);
        ref.fill(seed);
        opt.fill(seed);
        // check: reference once, then every version on the same input, exact bytes
        const double ref_t0 = now_ms();
        if (call(lady_permute_ref, ref, perm) != LADY_OK) {
            report_failure(ctx, "permute ref on " + c.name);
            continue;
        }
        const double ref_first_ms = now_ms() - ref_t0;
        struct Version {
            const char* name;
            PermuteFn fn;
            bool run;
        };
        const Version versions[] = {{"cpu", lady_permute_cpu, true}, {"cuda", lady_permute_cuda, ctx.gpu}};
        const char* verdict[2] = {"-", "-"};
        for (int v = 0; v < 2; ++v) {
            if (!versions[v].run) continue;
            opt.fill(seed);
            ++ctx.checks;
            if (call(versions[v].fn, opt, perm) != LADY_OK) {
                report_failure(ctx, std::string("permute ") + versions[v].name + " on " + c.name + ": call failed");
                verdict[v] = "ERROR";
            } else if (!opt.same(ref)) {
                report_failure(ctx, std::string("permute ") + versions[v].name + " on " + c.name +
                                        ": bytes differ from the reference");
                verdict[v] = "WRONG";
            } else {
                verdict[v] = "exact";
            }
        }
        // time: in place, the same permutation again and again (same traffic every call)
        if (ctx.opt.time_ref) {
            Stats s = ref_first_ms * (ctx.opt.warmup + ctx.opt.reps) > 2000  // slow: the check call is the timing
                          ? Stats{ref_first_ms, ref_first_ms, 1, LADY_OK}
                          : time_calls([&] { return call(lady_permute_ref, ref, perm); }, ctx.opt.warmup, ctx.opt.reps);
            print_row(name, "ref", "-", s, work, 1e9, ctx.ceil.memcpy_gbs);
            sum_ms[0] += s.median_ms;
        }
        for (int v = 0; v < 2; ++v) {
            if (!versions[v].run) continue;
            Stats s = time_calls([&] { return call(versions[v].fn, opt, perm); }, ctx.opt.warmup, ctx.opt.reps);
            if (s.status != LADY_OK) report_failure(ctx, std::string("permute ") + versions[v].name + " timing call");
            print_row(name, versions[v].name, verdict[v], s, work, 1e9,
                      v == 0 ? ctx.ceil.memcpy_gbs : ctx.ceil.cuda_copy_gbs);
            sum_ms[v + 1] += s.median_ms;
        }
        if (c.name.rfind("vgg16", 0) == 0) sum_bytes += work;
        if (is_paper && c.name.rfind("vgg16 classifier.3", 0) == 0) {
            // the whole network: the sum of the 15 groups' medians (computed, not timed at once)
            Stats total;
            const char* vn[3] = {"ref", "cpu", "cuda"};
            for (int v = 0; v < 3; ++v) {
                if (sum_ms[v] <= 0) continue;
                total.median_ms = total.min_ms = sum_ms[v];
                print_row("vgg16 all 15 groups (sum of medians), " + human_bytes(sum_bytes / 2), vn[v], "-", total,
                          sum_bytes, 1e9, v == 2 ? ctx.ceil.cuda_copy_gbs : ctx.ceil.memcpy_gbs);
            }
        }
    }
}

}  // namespace bench
