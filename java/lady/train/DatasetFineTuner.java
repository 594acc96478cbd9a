package lady.train;

import java.util.Map;
import java.util.Objects;

import lady.attack.FineTuner;
import lady.attack.FinetuneAttack;
import lady.checkpoint.StateDict;
import lady.data.Dataset;
import lady.model.Model;
import lady.model.Models;
import lady.progress.ProgressListener;
import lady.tensor.HostTensor;

/**
 * The fine-tuning attack's trainer (method.md 7): builds the network a state dict describes, trains
 * it with the attack's SGD settings (constant learning rate) on a training set with the training
 * augmentation, and writes the trained tensors back into the state dict.
 */
public final class DatasetFineTuner implements FineTuner {
    private final Dataset train;
    private final String arch;

    /**
     * @param train the training set (augmented as in training)
     * @param arch  the architecture, or {@code null} to infer it from the state dict
     */
    public DatasetFineTuner(Dataset train, String arch) {
        this.train = Objects.requireNonNull(train, "train");
        this.arch = arch;
    }

    @Override
    public void fineTune(StateDict state, FinetuneAttack attack, long seed, ProgressListener progress) {
        Model model = Models.fromStateDict(state, arch);
        TrainConfig config = TrainConfig.fineTuning(attack.epochs()).withLr(attack.lr()).withMomentum(attack.momentum())
                .withWeightDecay(attack.weightDecay()).withBatchSize(attack.batchSize()).withSeed(seed);
        new Trainer(config).progress(progress == null ? ProgressListener.NONE : progress).train(model, train);
        for (Map.Entry<String, HostTensor> e : model.stateDict()) {
            state.put(e.getKey(), e.getValue());
        }
    }
}
