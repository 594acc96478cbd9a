// Whole-network permutation (lady_permute_tensors_*): check every version against the reference,
// then time it. One call permutes every tensor of a network along axis 0 and/or axis 1 (a hidden
// weight moves with two groups: producer of its own, consumer of the previous one).
// Napkin math: each byte is read once and written once (2 x tensor bytes), like memcpy.
#include <cstring>
#include <numeric>
#include <random>

#include "bench.h"

namespace bench {
namespace {

struct TensorSpec {
    std::string name;
    int64_t rows, n1, block, inner_bytes;
    int p0, p1;  // group index of the axis-0 / axis-1 permutation, -1 for none
};

struct Net {
    std::string name;
    std::vector<int64_t> group_sizes;
    std::vector<TensorSpec> tensors;
    int64_t bytes() const {
        int64_t b = 0;
        for (const auto& t : tensors) b += t.rows * t.n1 * t.block * t.inner_bytes;
        return b;
    }
};

// torchvision VGG16: 13 conv groups + classifier.0 + classifier.3; `convs` limits the conv layers
// (the small set takes the first few and no classifier).
Net vgg16(int convs, bool classifier) {
    static const int64_t widths[] = {64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512};
    Net net{classifier ? "vgg16 whole network (15 groups)" : "vgg16 first " + std::to_string(convs) + " conv layers",
            {}, {}};
    int64_t in = 3;
    for (int i = 0; i < convs; ++i) {
        const int64_t c = widths[i];
        net.group_sizes.push_back(c);
        net.tensors.push_back({"conv" + std::to_string(i) + ".weight", c, in, 1, 36, i, i > 0 ? i - 1 : -1});
        net.tensors.push_back({"conv" + std::to_string(i) + ".bias", c, 1, 1, 4, i, -1});
        in = c;
    }
    if (classifier) {
        const int g0 = convs, g3 = convs + 1;
        net.group_sizes.push_back(4096);
        net.group_sizes.push_back(4096);
        net.tensors.push_back({"classifier.0.weight", 4096, 512, 49, 4, g0, convs - 1});
        net.tensors.push_back({"classifier.0.bias", 4096, 1, 1, 4, g0, -1});
        net.tensors.push_back({"classifier.3.weight", 4096, 4096, 1, 4, g3, g0});
        net.tensors.push_back({"classifier.3.bias", 4096, 1, 1, 4, g3, -1});
        net.tensors.push_back({"classifier.6.weight", 1000, 4096, 1, 4, -1, g3});
    }
    return net;
}

Net mlp(bool gate) {
    Net net{gate ? "llama-7b mlp gate+up+down (n=11008)" : "mlp 4096->11008->4096 (n=11008)", {11008}, {}};
    if (gate) net.tensors.push_back({"gate_proj.weight", 11008, 4096, 1, 4, 0, -1});
    net.tensors.push_back({"up_proj.weight", 11008, 4096, 1, 4, 0, -1});
    net.tensors.push_back({"down_proj.weight", 4096, 11008, 1, 4, -1, 0});
    return net;
}

struct Buffers {
    std::vector<std::vector<uint32_t>> data;
    std::vector<int64_t> addresses, dims, offsets, perms;
    Buffers(const Net& net, const std::vector<std::vector<int64_t>>& group_perms) {
        std::vector<int64_t> group_offset;
        for (const auto& p : group_perms) {
            group_offset.push_back((int64_t)perms.size());
            perms.insert(perms.end(), p.begin(), p.end());
        }
        for (const auto& t : net.tensors) {
            data.emplace_back((size_t)(t.rows * t.n1 * t.block * t.inner_bytes / 4));
            addresses.push_back((int64_t)(intptr_t)data.back().data());
            dims.insert(dims.end(), {t.rows, t.n1, t.block, t.inner_bytes});
            offsets.push_back(t.p0 >= 0 ? group_offset[(size_t)t.p0] : -1);
            offsets.push_back(t.p1 >= 0 ? group_offset[(size_t)t.p1] : -1);
        }
    }
    void fill(uint64_t seed) {
        for (auto& d : data) {
            uint64_t x = seed * 0x9E3779B97F4A7C15ull + d.size();
            for (auto& v : d) {
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

using Fn = int32_t (*)(int32_t, const int64_t*, const int64_t*, const int64_t*, const int64_t*, int64_t);

int32_t call(Fn f, Buffers& b) {
    return f((int32_t)b.addresses.size(), b.addresses.data(), b.dims.data(), b.offsets.data(), b.perms.data(),
             (int64_t)b.perms.size());
}

}  // namespace

void bench_permute_tensors(Context& ctx) {
    print_header("permute_tensors (lady_permute_tensors_*): a whole network in one call, in place", "GB/s",
                 ctx.gpu ? "memcpy; cuda: PCIe round trip" : "memcpy");
    std::printf("%-58s work = 2 x tensor bytes (read + write)\n", "");
    std::vector<Net> nets;
    if (ctx.size_at_least(SizeSet::Paper)) {
        nets.push_back(vgg16(13, true));
        if (ctx.size_at_least(SizeSet::Large)) {  // (the permute module has the 11008-wide layer)
            nets.push_back(mlp(false));
            nets.push_back(mlp(true));
        }
    } else {
        nets.push_back(vgg16(4, false));
    }
    uint64_t seed = 100;
    for (const Net& net : nets) {
        ++seed;
        std::mt19937_64 rng(seed);
        std::vector<std::vector<int64_t>> group_perms;
        for (int64_t n : net.group_sizes) {
            std::vector<int64_t> p((size_t)n);
            std::iota(p.begin(), p.end(), 0);
            std::shuffle(p.begin(), p.end(), rng);
            group_perms.push_back(p);
        }
        const double work = 2.0 * (double)net.bytes();
        const std::string name = net.name + ", " + human_bytes((double)net.bytes());
        Buffers ref(net, group_perms), opt(net, group_perms);
        ref.fill(seed);
        const double ref_t0 = now_ms();
        if (call(lady_permute_tensors_ref, ref) != LADY_OK) {
            report_failure(ctx, "permute_tensors ref on " + net.name);
            continue;
        }
        const double ref_first_ms = now_ms() - ref_t0;
        struct Version {
            const char* name;
            Fn fn;
            bool run;
        };
        const Version versions[] = {{"cpu", lady_permute_tensors_cpu, true},
                                    {"cuda", lady_permute_tensors_cuda, ctx.gpu}};
        const char* verdict[2] = {"-", "-"};
        for (int v = 0; v < 2; ++v) {
            if (!versions[v].run) continue;
            opt.fill(seed);
            ++ctx.checks;
            if (call(versions[v].fn, opt) != LADY_OK) {
                report_failure(ctx, std::string("permute_tensors ") + versions[v].name + " on " + net.name);
                verdict[v] = "ERROR";
            } else if (!opt.same(ref)) {
                report_failure(ctx, std::string("permute_tensors ") + versions[v].name + " on " + net.name +
                                        ": bytes differ from the reference");
                verdict[v] = "WRONG";
            } else {
                verdict[v] = "exact";
            }
        }
        if (ctx.opt.time_ref) {
            Stats s = ref_first_ms * (ctx.opt.warmup + ctx.opt.reps) > 2000  // slow: the check call is the timing
                          ? Stats{ref_first_ms, ref_first_ms, 1, LADY_OK}
                          : time_calls([&] { return call(lady_permute_tensors_ref, ref); }, ctx.opt.warmup, ctx.opt.reps);
            print_row(name, "ref", "-", s, work, 1e9, ctx.ceil.memcpy_gbs);
        }
        for (int v = 0; v < 2; ++v) {
            if (!versions[v].run) continue;
            Stats s = time_calls([&] { return call(versions[v].fn, opt); }, ctx.opt.warmup, ctx.opt.reps);
            if (s.status != LADY_OK) report_failure(ctx, std::string("permute_tensors ") + versions[v].name + " timing");
            print_row(name, versions[v].name, verdict[v], s, work, 1e9,
                      v == 0 ? ctx.ceil.memcpy_gbs : ctx.ceil.cuda_copy_gbs);
        }
    }
}

}  // namespace bench
