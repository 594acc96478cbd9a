package lady.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import lady.report.Json;

/** The README's training command: a quarter-width VGG16 learns the built-in digits in 3 epochs. */
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
