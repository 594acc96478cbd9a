package lady.train;

import lady.LadyException;
import lady.paper.Paper;

/**
 * Hyper-parameters of one training (or fine-tuning) run: SGD with momentum and weight decay, a
 * StepLR schedule, cross-entropy, batch size, epochs and the seed every random choice derives from.
 *
 * @param epochs      passes over the training data (0 is allowed: nothing happens)
 * @param batchSize   images per step
 * @param lr          initial learning rate
 * @param momentum    SGD momentum (0: plain SGD)
 * @param weightDecay L2 weight decay of SGD
 * @param lrStep      StepLR: multiply the learning rate by {@code lrGamma} every {@code lrStep} epochs
 * @param lrGamma     StepLR factor
 * @param seed        seed of the data order, the augmentation and libtorch's generator (dropout)
 * @param limit       use only the first {@code limit} training images; negative: all
 */
public record TrainConfig(int epochs, int batchSize, double lr, double momentum, double weightDecay,
                          int lrStep, double lrGamma, long seed, int limit) {

    public TrainConfig {
        if (epochs < 0) {
            throw usage("epochs must be >= 0, got " + epochs);
        }
        if (batchSize < 1) {
            throw usage("batch size must be >= 1, got " + batchSize);
        }
        if (!(lr > 0) || Double.isInfinite(lr)) {
            throw usage("learning rate must be > 0, got " + lr);
        }
        if (!(momentum >= 0 && momentum < 1)) {
            throw usage("momentum must be in [0, 1), got " + momentum);
        }
        if (!(weightDecay >= 0) || Double.isInfinite(weightDecay)) {
            throw usage("weight decay must be >= 0, got " + weightDecay);
        }
        if (lrStep < 1) {
            throw usage("StepLR step must be >= 1 epoch, got " + lrStep);
        }
        if (!(lrGamma > 0 && lrGamma <= 1)) {
            throw usage("StepLR gamma must be in (0, 1], got " + lrGamma);
        }
        if (limit == 0) {
            throw usage("limit must be positive (or absent), got 0");
        }
    }

    /** The authors' training recipe (Training.py): lr 0.01, momentum 0.9, wd 5e-4, batch 128, StepLR(50, 0.1). */
    public static TrainConfig paper(int epochs) {
        return new TrainConfig(epochs, Paper.TRAIN_BATCH_SIZE, Paper.TRAIN_LR, Paper.TRAIN_MOMENTUM,
                Paper.TRAIN_WEIGHT_DECAY, Paper.TRAIN_LR_STEP, Paper.TRAIN_LR_GAMMA, 0L, -1);
    }

    /** The fine-tuning attack (method.md 7): lr 0.01, momentum 0.9, wd 1e-4, batch 100, constant lr. */
    public static TrainConfig fineTuning(int epochs) {
        return new TrainConfig(epochs, Paper.FINETUNE_BATCH_SIZE, Paper.FINETUNE_LR, Paper.FINETUNE_MOMENTUM,
                Paper.FINETUNE_WEIGHT_DECAY, Integer.MAX_VALUE, 1.0, 0L, -1);
    }

    /** The StepLR learning rate of epoch {@code epoch} (0-based). */
    public double lrAt(int epoch) {
        return lr * Math.pow(lrGamma, epoch / lrStep);
    }

    public TrainConfig withEpochs(int e) {
        return new TrainConfig(e, batchSize, lr, momentum, weightDecay, lrStep, lrGamma, seed, limit);
    }

    public TrainConfig withBatchSize(int b) {
        return new TrainConfig(epochs, b, lr, momentum, weightDecay, lrStep, lrGamma, seed, limit);
    }

    public TrainConfig withLr(double v) {
        return new TrainConfig(epochs, batchSize, v, momentum, weightDecay, lrStep, lrGamma, seed, limit);
    }

    public TrainConfig withMomentum(double v) {
        return new TrainConfig(epochs, batchSize, lr, v, weightDecay, lrStep, lrGamma, seed, limit);
    }

    public TrainConfig withWeightDecay(double v) {
        return new TrainConfig(epochs, batchSize, lr, momentum, v, lrStep, lrGamma, seed, limit);
    }

    public TrainConfig withSchedule(int step, double gamma) {
        return new TrainConfig(epochs, batchSize, lr, momentum, weightDecay, step, gamma, seed, limit);
    }

    public TrainConfig withSeed(long s) {
        return new TrainConfig(epochs, batchSize, lr, momentum, weightDecay, lrStep, lrGamma, s, limit);
    }

    /** Only the first {@code n} training images ({@code n < 0}: all). */
    public TrainConfig withLimit(int n) {
        return new TrainConfig(epochs, batchSize, lr, momentum, weightDecay, lrStep, lrGamma, seed, n);
    }

    private static LadyException usage(String message) {
        return new LadyException(LadyException.Kind.USAGE, message);
    }
}
