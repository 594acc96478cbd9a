package lady.watermark;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import lady.LadyException;
import lady.model.Model;
import lady.paper.Paper;
import lady.torch.Torch;
import lady.train.LossTerm;

/** {@code lambda * L_wm} (see {@link Uchida#loss(WatermarkKey)}). */
final class UchidaLoss implements LossTerm {
    private final WatermarkKey key;
    private final Tensor x;
    private final Tensor bits;
    private final double scale;

    UchidaLoss(WatermarkKey key) {
        Torch.init();
        this.key = key;
        this.x = Uchida.matrixTensor(key);
        this.bits = Uchida.bitsTensor(key);
        // mean BCE in nats / ln(2) = in bits (the authors' log2)
        this.scale = key.lambda() / Math.log(Paper.UCHIDA_LOG_BASE);
    }

    @Override
    public String name() {
        return "wm";
    }

    private Model resolvedFor;
    private Tensor weight;

    @Override
    public Tensor compute(Model model) {
        Tensor w = weight(model);
        long[] shape = w.sizes().vec().get();
        long length = w.numel() / Math.max(1, shape[0]);
        if (shape.length < 2 || length != key.length()) {
            throw LadyException.invalidInput("the watermark key does not fit the model: the key's w_bar length is "
                    + key.length() + " but the model's '" + key.layer() + "' has shape " + Uchida.describe(shape)
                    + ", i.e. w_bar length " + length);
        }
        Tensor wBar = w.mean(0).flatten();
        Tensor y = x.mv(wBar);
        return torch.binary_cross_entropy_with_logits(y, bits).mul(new Scalar(scale));
    }

    /**
     * The live parameter, looked up once per model (an owned handle, outside the training step's
     * PointerScope: {@code retainReference}, since this may first run inside one), instead of a
     * named_parameters() dictionary built and freed at every step.
     */
    private Tensor weight(Model model) {
        if (resolvedFor != model) {
            Tensor w = lady.torch.Torch.namedParameters(model.module()).get(key.layer());
            if (w == null) {
                throw LadyException.invalidInput("the watermark key is for parameter '" + key.layer()
                        + "', which the model does not have");
            }
            w.retainReference();
            weight = w;
            resolvedFor = model;
        }
        return weight;
    }
}
