package lady.train;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What one training epoch did.
 *
 * @param epoch         1-based epoch number
 * @param lr            learning rate used in this epoch
 * @param images        training images seen
 * @param loss          mean total loss (cross-entropy plus extra terms) over the epoch's images
 * @param crossEntropy  mean cross-entropy over the epoch's images
 * @param terms         mean of each extra {@link LossTerm} (by name) over the epoch's steps
 * @param trainErrorPct top-1 error in % on the (augmented) training batches, in training mode
 * @param seconds       wall time of the epoch
 */
public record EpochStats(int epoch, double lr, int images, double loss, double crossEntropy,
                         Map<String, Double> terms, double trainErrorPct, double seconds) {
    /** Training throughput of the epoch. */
    public double imagesPerSecond() {
        return seconds > 0 ? images / seconds : 0;
    }

    /** The epoch in a report: number, loss, loss terms, training error, seconds. */
    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("epoch", epoch);
        m.put("loss", loss);
        m.put("terms", terms);
        m.put("train_error_pct", trainErrorPct);
        m.put("seconds", seconds);
        return m;
    }
}
