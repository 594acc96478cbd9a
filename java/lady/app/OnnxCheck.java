package lady.app;

import java.nio.file.Path;
import java.util.Locale;

import lady.LadyException;
import lady.kernels.Tolerances;
import lady.onnx.Onnx;
import lady.onnx.OnnxModel;
import lady.onnx.OrtRunner;
import lady.util.Seeds;
import lady.util.Text;

/**
 * What running an ONNX model and an edited copy of it in ONNX Runtime found ({@code permute --verify}, {@code attack
 * --verify}): the largest relative output difference, the model's own float32 noise when the difference needed it (else
 * null), and whether the outputs depend on the inputs at all.
 */
public record OnnxCheck(double difference, Double noise, boolean inputsMatter) {

    /**
     * Runs the input and the written ONNX model (its temporary {@code written}) in ONNX Runtime on the same inputs
     * (seeded by {@code seed}). When the difference exceeds {@link Tolerances#LOGITS_MAX_ABS_DIFF} of the output scale,
     * the input's float32 noise ({@link OrtRunner#floatNoise}) is measured: a difference within
     * {@link Tolerances#FLOAT_NOISE_FACTOR} times it passes, with the noise reported; a larger one (or NaN) fails the
     * job, and its output set puts nothing in place. {@code edit} names the copy in that error ("permuted").
     */
    public static OnnxCheck of(Path model, long seed, Path written, String edit) {
        double worst = 0;
        String where = "";
        OnnxModel original = Onnx.read(model);
        OrtRunner.Comparison c = OrtRunner.comparison(original, Onnx.read(written), Seeds.derive(seed, "probe"),
                OrtRunner.Options.DEFAULT);
        for (OrtRunner.OutputDifference d : c.differences()) {
            if (!(d.maxRel() <= worst)) {
                worst = d.maxRel();
                where = d.output();
            }
        }
        if (worst <= Tolerances.LOGITS_MAX_ABS_DIFF) {
            return new OnnxCheck(worst, null, c.inputsMatter());
        }
        double noise = Double.isNaN(worst) ? Double.NaN
                : OrtRunner.floatNoise(original, Seeds.derive(seed, "float noise"), OrtRunner.Options.DEFAULT);
        if (!(worst <= Tolerances.FLOAT_NOISE_FACTOR * noise)) {
            throw LadyException.invalidInput(String.format(Locale.ROOT, "the " + edit + " ONNX model is NOT equivalent to "
                    + "the original: output %s differs by %.3g of its scale in ONNX Runtime (tolerance %.0e, or %.0f "
                    + "times the model's own float32 noise, %.3g); nothing written", Text.quote(where), worst,
                    Tolerances.LOGITS_MAX_ABS_DIFF, Tolerances.FLOAT_NOISE_FACTOR, noise));
        }
        return new OnnxCheck(worst, noise, c.inputsMatter());
    }
}
