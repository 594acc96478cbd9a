package lady.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import lady.report.Json;

/**
 * The README's training command: a quarter-width VGG16 should learn the built-in digits in 3 epochs.
 *
 * <p>Status (2026-11-25): FAILS. Measured: loss stays at 2.30 for all 3 epochs, test error 88.7 %,
 * 1001 s on the busy 2-core machine. PyTorch 1.13 with the same network, torchvision VGG
 * initialization and recipe (lr 0.01, momentum 0.9, wd 5e-4, batch 128) sits on the same 2.30
 * plateau through its first epoch, so this is the plain (no batch norm) narrow VGG's plateau, not a
 * trainer bug; the recipe or the command (width, learning rate, epochs) needs revisiting.
 */
@Tag("slow")
class TrainSlowTest {
    @Test
    @SuppressWarnings("unchecked")
    void readmeCommandReachesUnderFivePercentTestError() {
        TrainCommandTest.Run r = TrainCommandTest.lady("train", "--arch", "vgg16_cifar", "--width", "0.25", "--data",
                "digits", "--epochs", "3", "--format", "json");
        assertEquals(0, r.code(), r.err());
        Map<String, Object> j = (Map<String, Object>) Json.parse(r.out().trim());
        double error = ((Number) j.get("error_pct")).doubleValue();
        System.err.println("lady train vgg16_cifar width 0.25 digits 3 epochs: test error " + error + " %, "
                + j.get("seconds") + " s");
        assertTrue(error < 5.0, "test error " + error + " %");
    }
}
