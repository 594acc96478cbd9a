// LADY_MAX_CPU_ISA (lady.h, lady_max_cpu_isa): the cap read from the environment reaches the kernels' dispatchers.
// ctest runs this test with the variable unset, AVX2, scalar (lower case: case-insensitive) and an unknown value
// (native/CMakeLists.txt); the other CPU tests also run under the AVX2 and SCALAR caps, so the AVX2 and portable
// paths are checked against the references on an AVX-512 machine too.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "lady.h"

static int failures = 0;

static void check(bool ok, const char* what) {
    if (!ok) {
        std::printf("FAIL: %s\n", what);
        failures++;
    }
}

int main() {
    const char* env = std::getenv("LADY_MAX_CPU_ISA");
    std::string v = env == nullptr ? "" : env;
    for (auto& c : v) c = (char)std::toupper((unsigned char)c);
    int expected = v.empty() || v == "AVX512" ? 0 : v == "AVX2" ? 1 : v == "SCALAR" ? 2 : -1;
    int cap = lady_max_cpu_isa();
    std::printf("LADY_MAX_CPU_ISA=%s: cap %d; %s; convert %s; bf16 %s\n", env == nullptr ? "(unset)" : env, cap,
                lady_cpu_features(), lady_convert_kernel_name(), lady_bf16_kernel_name());
    check(cap == expected, "the cap is the environment's");
    std::string features = lady_cpu_features();
    std::string convert = lady_convert_kernel_name();
    std::string bf16 = lady_bf16_kernel_name();
    if (cap == 1) {
        check(features.find("capped at: avx2") != std::string::npos, "lady_cpu_features names the AVX2 cap");
        check(convert != "avx512f", "the conversion takes no AVX-512 path under the AVX2 cap");
        check(bf16.rfind("widened", 0) == 0 && bf16.find("avx512f") == std::string::npos,
              "the bfloat16 cosine widens to an AVX2 or portable float32 kernel under the AVX2 cap");
    } else if (cap == 2) {
        check(features.find("capped at: scalar") != std::string::npos, "lady_cpu_features names the scalar cap");
        check(convert == "scalar", "the conversion is scalar under the scalar cap");
        check(bf16 == "widened to float32, generic", "the bfloat16 cosine widens to the portable kernel");
    } else if (cap < 0) {
        check(features.find("not recognized") != std::string::npos, "lady_cpu_features says the value is unknown");
    } else {
        check(features.find("capped") == std::string::npos, "no cap named without one");
    }
    // the cap is read once: changing the variable later changes nothing
    setenv("LADY_MAX_CPU_ISA", cap == 2 ? "AVX2" : "SCALAR", 1);
    check(lady_max_cpu_isa() == cap, "the cap is read once");
    if (failures == 0) std::printf("isa_cap_test: ok\n");
    return failures == 0 ? 0 : 1;
}
