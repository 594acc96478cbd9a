package lady.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import lady.LadyException;
import lady.torch.ChildJvm;

/**
 * {@link Kernels#MAX_CPU_ISA}: the cap on the native kernels' vector paths, read from the environment by a fresh
 * process (the native library reads it once; native/CMakeLists.txt reruns the CPU kernel tests under each cap).
 */
class IsaCapTest {
    @Test
    void anUnknownValueIsRefusedInOneLineWithTheUsageCode() throws Exception {
        ChildJvm r = ChildJvm.lady(Map.of(Kernels.MAX_CPU_ISA, "avx9"), 0, List.of(), "info");
        assertEquals(LadyException.Kind.USAGE.exitCode(), r.code(), r.output());
        String line = r.output().lines().filter(l -> l.contains(Kernels.MAX_CPU_ISA)).findFirst().orElse("");
        assertTrue(line.contains("avx9") && line.contains("AVX2"), r.output());
        assertFalse(r.output().contains("\tat "), "no stack trace: " + r.output());
    }

    @Test
    void theCapReachesTheKernelsAndIsShownByInfo() throws Exception {
        ChildJvm capped = ChildJvm.lady(Map.of(Kernels.MAX_CPU_ISA, "scalar"), 0, List.of(), "info");
        assertEquals(0, capped.code(), capped.output());
        assertTrue(capped.output().contains("capped at: scalar (" + Kernels.MAX_CPU_ISA + ")"), capped.output());
        ChildJvm free = ChildJvm.lady(Map.of(Kernels.MAX_CPU_ISA, ""), 0, List.of(), "info");
        assertEquals(0, free.code(), free.output());
        assertFalse(free.output().contains("capped at"), free.output());
    }
}
