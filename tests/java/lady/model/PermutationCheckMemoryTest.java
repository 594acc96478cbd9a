package lady.model;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import lady.LadyException;

/** --verify of a model too large for the machine's memory is refused with the sizes, not killed by the system. */
class PermutationCheckMemoryTest {
    @Test
    void aCheckLargerThanTheMachinesMemoryIsRefusedWithTheSizes() {
        long available = lady.util.Memory.available();
        Assumptions.assumeTrue(available > 0, "no /proc/meminfo here: the check is not made");
        long parameters = available / 4; // FLOAT32_COPIES float32 copies of it: three times what is available
        LadyException e = assertThrows(LadyException.class, () -> PermutationCheck.requireMemoryFor(parameters, "--verify"));
        assertEquals(LadyException.Kind.USAGE, e.kind());
        assertTrue(e.getMessage().startsWith("--verify runs the model in float32 in libtorch: about ")
                && e.getMessage().contains("drop --verify"), e.getMessage());
        long small = available / (8L * PermutationCheck.FLOAT32_COPIES); // half of what is available
        assertDoesNotThrow(() -> PermutationCheck.requireMemoryFor(small, "--verify"));
    }
}
