package lady.train;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import lady.model.Model;

/** A loss term that adds nothing and runs {@code onStep} inside every training step: what tests observe there. */
public final class ProbeTerm implements LossTerm {
    private final Runnable onStep;

    public ProbeTerm(Runnable onStep) {
        this.onStep = onStep;
    }

    @Override
    public String name() {
        return "probe";
    }

    @Override
    public Tensor compute(Model model) {
        onStep.run();
        return torch.zeros(1).sum();
    }
}
