package lady.attack;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.paper.Paper;
import lady.util.Seeds;

/**
 * Fine-tuning (method.md 7): Theta epochs of training of the whole network on the training set,
 * with the training augmentation, SGD with the given settings (defaults: {@link Paper}'s
 * FINETUNE_* constants: lr 0.01, momentum 0.9, weight decay 1e-4, batch 100). The training itself
 * is delegated to the context's {@link FineTuner}.
 *
 * @param epochs      Theta >= 0
 * @param lr          SGD learning rate
 * @param momentum    SGD momentum
 * @param weightDecay SGD weight decay
 * @param batchSize   images per step
 */
public record FinetuneAttack(int epochs, double lr, double momentum, double weightDecay, int batchSize)
        implements Attack {
    public FinetuneAttack {
        if (epochs < 0) {
            throw new LadyException(LadyException.Kind.USAGE, "fine-tuning epochs Theta must be >= 0, got " + epochs);
        }
        if (!(lr > 0) || !(momentum >= 0 && momentum < 1) || !(weightDecay >= 0) || batchSize < 1) {
            throw new LadyException(LadyException.Kind.USAGE, "invalid fine-tuning settings: lr " + lr + ", momentum "
                    + momentum + ", weight decay " + weightDecay + ", batch " + batchSize);
        }
    }

    /** Theta epochs with the paper's (method.md 7) settings. */
    public static FinetuneAttack of(int epochs) {
        return new FinetuneAttack(epochs, Paper.FINETUNE_LR, Paper.FINETUNE_MOMENTUM, Paper.FINETUNE_WEIGHT_DECAY,
                Paper.FINETUNE_BATCH_SIZE);
    }

    @Override
    public String kind() {
        return "finetune";
    }

    @Override
    public double level() {
        return epochs;
    }

    /** Training in train mode re-estimates the batch-norm statistics itself. */
    @Override
    public boolean needsRecalibration() {
        return false;
    }

    @Override
    public AttackResult apply(StateDict state, AttackContext context) {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("epochs", epochs);
        d.put("lr", lr);
        d.put("momentum", momentum);
        d.put("weight_decay", weightDecay);
        d.put("batch_size", batchSize);
        if (epochs == 0) {
            return new AttackResult(spec(), List.of(), d);
        }
        if (context.fineTuner() == null) {
            throw new LadyException(LadyException.Kind.USAGE,
                    "the finetune attack needs a model and training data to train on (no fine-tuner was given)");
        }
        context.fineTuner().fineTune(state, this, Seeds.derive(context.seed(), "attack.finetune"), context.progress());
        return new AttackResult(spec(), List.copyOf(state.names()), d);
    }
}
