package lady.paper;

/**
 * The only home of the paper's numbers (De Sousa Trias et al., AAAI 2024, and the authors'
 * scripts, as read in shared/docs/method.md). Each constant says where it comes from. Code
 * elsewhere refers to these, never to literals.
 */
public final class Paper {
    private Paper() {}

    // ---- data (method.md 9; authors' Training.py) ----
    /** CIFAR-10 per-channel mean used to normalize inputs. */
    public static final float[] CIFAR_MEAN = {0.4914f, 0.4822f, 0.4465f};
    /** CIFAR-10 per-channel std used to normalize inputs. */
    public static final float[] CIFAR_STD = {0.2023f, 0.1994f, 0.2010f};
    /** Training augmentation: random crop of 32 with padding 4. */
    public static final int CROP_SIZE = 32;
    public static final int CROP_PADDING = 4;
    /** Image side of CIFAR-10 records. */
    public static final int IMAGE_SIZE = 32;

    // ---- resync with the reference (method.md section 4) ----
    // The epsilon of the row L2 normalization (1e-12, method.md 4) lives with the kernels that use
    // it: LADY_NORMALIZE_EPS in native/common/resync_common.h.
    /** Ours, not the paper's: a matched neuron whose margin (best minus second-best cosine of its
     * reference row) is below this is reported as low-confidence. Clean permutations give margins
     * of about 1 - max off-diagonal cosine (typically > 0.5); 0.05 marks near-ties. */
    public static final double RESYNC_LOW_MARGIN = 0.05;
    /** Ours (the paper's countermeasure to scale attacks, method.md 4): a matched neuron whose L2
     * norm ratio (suspect row / reference row), divided by the group's median ratio, lies outside
     * [1/r, r] is flagged. Relative to the median so that attacks that change every row alike
     * (noise, quantization, pruning, fine-tuning) do not flag; a per-neuron rescaling does. */
    public static final double RESYNC_INTEGRITY_RATIO = 1.5;

    // ---- training (authors' Training.py; digits README confirms the recipe) ----
    /** SGD learning rate of the authors' training script (Training.py: optim.SGD(lr=0.01)). */
    public static final double TRAIN_LR = 0.01;
    /** SGD momentum (Training.py: momentum=0.9). */
    public static final double TRAIN_MOMENTUM = 0.9;
    /** SGD weight decay (Training.py: weight_decay=5e-4). */
    public static final double TRAIN_WEIGHT_DECAY = 5e-4;
    /** Batch size of the training loader (Training.py: batch_size=128). */
    public static final int TRAIN_BATCH_SIZE = 128;
    /** StepLR step in epochs (Training.py: StepLR(step_size=50)). */
    public static final int TRAIN_LR_STEP = 50;
    /** StepLR factor (Training.py: StepLR(gamma=0.1)). */
    public static final double TRAIN_LR_GAMMA = 0.1;

    // ---- fine-tuning attack, Theta epochs (method.md 7: decision, the paper does not say) ----
    /** Fine-tuning learning rate (method.md 7). */
    public static final double FINETUNE_LR = 0.01;
    /** Fine-tuning momentum (method.md 7). */
    public static final double FINETUNE_MOMENTUM = 0.9;
    /** Fine-tuning weight decay (method.md 7). */
    public static final double FINETUNE_WEIGHT_DECAY = 1e-4;
    /** Fine-tuning batch size (method.md 7). */
    public static final int FINETUNE_BATCH_SIZE = 100;

    // ---- attacks: the levels of Table 1 (paper Table 1; method.md 7 and 9) ----
    /** Gaussian noise levels Omega: noise std = Omega * std of the attacked weight (Table 1). */
    public static final java.util.List<Double> NOISE_OMEGAS = java.util.List.of(0.0, 1.0, 2.0, 7.0, 10.0);
    /** Fine-tuning epochs Theta (Table 1). */
    public static final java.util.List<Integer> FINETUNE_EPOCHS = java.util.List.of(2, 6, 8, 10);
    /** Quantization bits B, per-tensor min-max on every Conv2d / Linear weight (Table 1). */
    public static final java.util.List<Integer> QUANT_BITS = java.util.List.of(16, 8, 6, 4, 2);
    /** Magnitude-pruning rates T in % of the attacked weight's entries (Table 1). */
    public static final java.util.List<Double> PRUNE_PERCENTS = java.util.List.of(0.0, 91.0, 95.0, 98.0, 99.0);

    // ---- Uchida et al. 2017 white-box watermark, as the authors parameterize it (method.md 8; NNWmethods/UCHI.py) ----
    /** Watermark length T in bits (method.md 8). */
    public static final int UCHIDA_BITS = 64;
    /** Probability that a watermark bit is 1 (method.md 8: bits drawn with P(1) = 2/3). */
    public static final double UCHIDA_P_ONE = 2.0 / 3.0;
    /** Weight of the watermark loss: loss = cross-entropy + lambda * L_wm (method.md 8). */
    public static final double UCHIDA_LAMBDA = 0.1;
    /** Logarithm base of the watermark's binary cross-entropy (method.md 8: the authors use log2). */
    public static final double UCHIDA_LOG_BASE = 2.0;
    /** The watermarked layer group of VGG16 (method.md 8: features.19, weight 512 x 512 x 3 x 3). */
    public static final String UCHIDA_LAYER_VGG16 = "features.19";
    /** The group before it (method.md 8): permuting it permutes features.19's input channels, hence w_bar. */
    public static final String UCHIDA_ATTACKED_GROUP_VGG16 = "features.17";
}
