package lady.attack;

import lady.checkpoint.StateDict;
import lady.progress.ProgressListener;

/**
 * Re-estimates the batch-norm running statistics of an attacked network, as a real attacker does
 * after changing the weights (a few forward passes over unlabeled data in train mode, no gradient):
 * without it the running statistics of the unattacked network stay in place and the attacked
 * network's test error is far worse than the attack alone makes it. Implemented by the training
 * code, which knows the model and the data ({@code lady.train.BatchNormRecalibration}).
 */
@FunctionalInterface
public interface BatchNormRecalibrator {
    /**
     * Recalibrates {@code state} in place and says what it did, or returns null when the network has
     * no batch norm (nothing to do).
     *
     * @param seed the order (and augmentation) of the data batches
     */
    AttackResult recalibrate(StateDict state, long seed, ProgressListener progress);
}
