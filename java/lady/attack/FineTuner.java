package lady.attack;

import lady.checkpoint.StateDict;
import lady.progress.ProgressListener;

/**
 * Trains the whole network for the fine-tuning attack (method.md 7): implemented by the training
 * code, which knows the model and the training data; the attack only says how.
 */
@FunctionalInterface
public interface FineTuner {
    /**
     * Fine-tunes the network whose parameters are {@code state} for {@code attack.epochs()} epochs
     * with the attack's SGD settings, on the training set with the training augmentation, and
     * writes the trained parameters and buffers back into {@code state} (same names and shapes).
     *
     * @param seed data order, augmentation and any other randomness of the run
     */
    void fineTune(StateDict state, FinetuneAttack attack, long seed, ProgressListener progress);
}
