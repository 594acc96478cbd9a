package lady.train;

/**
 * Top-1 evaluation of a model on a dataset.
 *
 * @param images   images evaluated
 * @param errors   images whose arg-max logit is not their label
 * @param errorPct {@code 100 * errors / images}
 * @param loss     mean cross-entropy
 * @param classes  logits per image
 * @param logits   row-major {@code images x classes} logits in dataset order, or {@code null} when
 *                 they were not asked for
 */
public record EvalResult(int images, int errors, double errorPct, double loss, int classes, float[] logits) {
    /** Top-1 accuracy in %. */
    public double accuracyPct() {
        return 100.0 - errorPct;
    }
}
