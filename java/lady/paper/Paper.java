package lady.paper;

/**
 * The only home of the paper's numbers (De Sousa Trias et al., AAAI 2024, and the authors'
 * scripts, as read in docs/method.md). Each constant says where it comes from. Code
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
     * [1/r, r] is flagged. Relative to the median so that attacks that change every row alike do not
     * flag; a per-neuron rescaling does.
     *
     * <p>Calibrated 2026-11-26 on the Table 1 attacks (5 runs per cell, vgg16_bn_cifar width 0.25
     * trained on the digits, 5.12 % error, layer features.24; plus a whole-network run of fine-tuning
     * 2/10 and quantization 8/4): the largest ratio any attack produced was 1.024 (fine-tuning, one
     * layer), 1.078 (fine-tuning 10 epochs, whole network), 1.069 (quantization, B = 2), 1.145 (noise,
     * any Omega), 1.184 (pruning 91 %); only pruning at 95 % and more, which leaves the model at
     * chance (87-89 % error), went beyond: 1.385, 1.522, 2.367. With r = 1.25 no attack that leaves a
     * usable model flags a neuron, while the function-preserving scaling attack ({@code lady permute
     * --scale-range 1/f:f}, whole network, 1312 neurons) is flagged on 0 % of neurons at f = 1.1, 3 % at
     * 1.25, 43 % at 1.5, 64.5 % at 2 and 81 % at 4 (with r = 1.5: 0, 0, 3, 40 and 67 %). */
    public static final double RESYNC_INTEGRITY_RATIO = 1.25;

    // ---- re-synchronization without the reference: canonical order (method.md section 5) ----
    /** Basic ranking robustness figure (paper figures 4-5): quantization bits from B = 2 ... */
    public static final int RANKING_QUANT_MIN_BITS = 2;
    /** ... to B = 16, every integer in between. */
    public static final int RANKING_QUANT_MAX_BITS = 16;
    /** Active ranking: images in the learned input (method.md 5: one input, 1 x 3 x 32 x 32). */
    public static final int ACTIVE_INPUT_BATCH = 1;
    /** Active ranking: the learned input starts i.i.d. uniform in [ACTIVE_INPUT_LOW, ACTIVE_INPUT_HIGH). */
    public static final double ACTIVE_INPUT_LOW = 0.0;
    /** Upper end (excluded) of the learned input's initial uniform values (method.md 5: [0, 1)). */
    public static final double ACTIVE_INPUT_HIGH = 1.0;
    /** Active ranking: SGD learning rate on the input, no momentum (method.md 5). */
    public static final double ACTIVE_LR = 1.0;
    /** Active ranking: StepLR step in optimizer steps (method.md 5). */
    public static final int ACTIVE_LR_STEP = 20000;
    /** Active ranking: StepLR factor (method.md 5). */
    public static final double ACTIVE_LR_GAMMA = 0.1;
    /** Active ranking: optimizer steps (method.md 5). */
    public static final int ACTIVE_STEPS = 30000;

    // ---- proof of concept: correlation of layer outputs (paper figure 3, method.md section 6) ----
    /** Points per straight line between two consecutive images in the layer's input space (method.md 6:
     * 101 steps per segment, both ends included). */
    public static final int PROOF_STEPS = 101;
    /** The layer of the figure: VGG16's last conv (method.md 6). */
    public static final String PROOF_LAYER_VGG16 = "features.28";

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

    // ---- Lady's recipe on the built-in digits (ours, not the paper's: the README's first command) ----
    /** The architecture of the recipe: the paper's VGG16 with batch norm and the CIFAR head (plain VGG16 this
     * narrow stays near chance on digits in a few epochs). */
    public static final String DIGITS_RECIPE_ARCH = "vgg16_bn_cifar";
    /** Channel width multiplier of the recipe (half of VGG16's channels). */
    public static final double DIGITS_RECIPE_WIDTH = 0.5;
    /** Epochs of the recipe (2.5 % test error on the 1,505 test digits, about 2.5 minutes on 2 cores). */
    public static final int DIGITS_RECIPE_EPOCHS = 3;
    /** Learning rate of the recipe (the rest as the authors': momentum, weight decay, batch 128). */
    public static final double DIGITS_RECIPE_LR = 0.02;

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

    /**
     * The authors' Table 1 for VGG16 on CIFAR-10 (method.md 9): attack spec ("none", "noise:7",
     * "finetune:2", "quant:8", "prune:95") -> {Psi %, top-1 error %}. Omega 0 and T 0 are "none".
     */
    public static final java.util.Map<String, java.util.List<Double>> TABLE1_VGG16 = java.util.Map.ofEntries(
            java.util.Map.entry("none", java.util.List.of(100.00, 9.96)),
            java.util.Map.entry("noise:1", java.util.List.of(100.0, 10.25)),
            java.util.Map.entry("noise:2", java.util.List.of(100.0, 11.82)),
            java.util.Map.entry("noise:7", java.util.List.of(99.88, 41.27)),
            java.util.Map.entry("noise:10", java.util.List.of(93.50, 56.62)),
            java.util.Map.entry("finetune:2", java.util.List.of(100.0, 9.97)),
            java.util.Map.entry("finetune:6", java.util.List.of(100.0, 9.96)),
            java.util.Map.entry("finetune:8", java.util.List.of(100.0, 9.88)),
            java.util.Map.entry("finetune:10", java.util.List.of(100.0, 9.89)),
            java.util.Map.entry("quant:16", java.util.List.of(100.0, 9.96)),
            java.util.Map.entry("quant:8", java.util.List.of(100.0, 9.97)),
            java.util.Map.entry("quant:6", java.util.List.of(100.0, 9.98)),
            java.util.Map.entry("quant:4", java.util.List.of(100.0, 10.77)),
            java.util.Map.entry("quant:2", java.util.List.of(100.0, 87.73)),
            java.util.Map.entry("prune:91", java.util.List.of(100.0, 10.87)),
            java.util.Map.entry("prune:95", java.util.List.of(100.0, 12.11)),
            java.util.Map.entry("prune:98", java.util.List.of(100.0, 17.53)),
            java.util.Map.entry("prune:99", java.util.List.of(99.90, 26.71)));
    /** The authors' Table 1 for ResNet18 on CIFAR-10 (method.md 9), same keys as {@link #TABLE1_VGG16}. */
    public static final java.util.Map<String, java.util.List<Double>> TABLE1_RESNET18 = java.util.Map.ofEntries(
            java.util.Map.entry("none", java.util.List.of(100.00, 7.03)),
            java.util.Map.entry("noise:1", java.util.List.of(100.0, 7.30)),
            java.util.Map.entry("noise:2", java.util.List.of(100.0, 9.13)),
            java.util.Map.entry("noise:7", java.util.List.of(99.90, 99.55)),
            java.util.Map.entry("noise:10", java.util.List.of(94.90, 75.18)),
            java.util.Map.entry("finetune:2", java.util.List.of(100.0, 6.96)),
            java.util.Map.entry("finetune:6", java.util.List.of(100.0, 6.98)),
            java.util.Map.entry("finetune:8", java.util.List.of(100.0, 7.01)),
            java.util.Map.entry("finetune:10", java.util.List.of(100.0, 6.94)),
            java.util.Map.entry("quant:16", java.util.List.of(100.0, 7.03)),
            java.util.Map.entry("quant:8", java.util.List.of(100.0, 7.05)),
            java.util.Map.entry("quant:6", java.util.List.of(100.0, 7.14)),
            java.util.Map.entry("quant:4", java.util.List.of(100.0, 7.76)),
            java.util.Map.entry("quant:2", java.util.List.of(100.0, 88.20)),
            java.util.Map.entry("prune:91", java.util.List.of(100.0, 9.67)),
            java.util.Map.entry("prune:95", java.util.List.of(100.0, 12.88)),
            java.util.Map.entry("prune:98", java.util.List.of(100.0, 21.71)),
            java.util.Map.entry("prune:99", java.util.List.of(99.63, 28.16)));

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
    /** The group before it (method.md 8): permuting it permutes features.19's input channels, hence w_bar.
     * In other VGG16 variants (batch norm shifts the indices) both are found by position among the convolutions:
     * {@code lady.watermark.Uchida.vgg16Layer}, {@code Uchida.producerGroup}. */
    public static final String UCHIDA_ATTACKED_GROUP_VGG16 = "features.17";
    /** The layer the paper attacks and resyncs in Table 1 and ranks in its figures, named in plain torchvision VGG16
     * (the 8th conv; {@code --layer paper} finds the conv at that position in any VGG16 variant). */
    public static final String TABLE1_LAYER_VGG16 = UCHIDA_ATTACKED_GROUP_VGG16;
}
