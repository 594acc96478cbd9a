package lady.train;

import org.bytedeco.pytorch.Tensor;

import lady.model.Model;

/**
 * An extra term added to the cross-entropy during training, e.g. the Uchida watermark regularizer
 * ({@code lambda * L_wm}). It is evaluated once per step, after the forward pass, inside the step's
 * {@link org.bytedeco.javacpp.PointerScope}; its value is shown in the progress metrics under
 * {@link #name()} and averaged per epoch in {@link EpochStats#terms()}.
 */
public interface LossTerm {
    /** Short metric name, e.g. "wm". Must not be "loss" or "ce". */
    String name();

    /** A differentiable scalar tensor depending on the model's parameters (already weighted). */
    Tensor compute(Model model);
}
