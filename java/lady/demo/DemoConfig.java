package lady.demo;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.experiment.RankingFigures;
import lady.paper.Paper;

/**
 * What {@code lady demo} runs: the model it trains (and caches), the watermark, the attack, the reduced
 * Table 1 grid and the canonical-ranking sweep. The two presets ({@link #full()}, {@link #quick()}) are
 * the one place where the demo's sizes live; the paper's own parameters come from {@link Paper}.
 *
 * <p>The demo trains the BatchNorm variant of the CIFAR-head VGG16: at a narrow width it reaches a
 * few percent error on the digits in three epochs, where the plain VGG16 sits on its initial plateau.
 * Its conv layers carry other indices than torchvision's plain VGG16 (each conv is followed by a
 * BatchNorm): the paper's watermarked layer {@code features.19} (the 9th conv) is {@code features.27}
 * here, and the paper's attacked layer {@code features.17} (the 8th conv) is {@code features.24}.
 *
 * @param arch          architecture name (Models.NAMES)
 * @param width         channel-width multiplier
 * @param epochs        training epochs
 * @param lr            training learning rate
 * @param batchSize     training batch size
 * @param trainLimit    training images (first N of the digits; negative: all)
 * @param testLimit     test images for every error figure (negative: all)
 * @param seed          master seed of every step
 * @param watermarkLayer the watermarked conv (group name)
 * @param watermarkBits  T
 * @param embedSteps    embedding-only steps after training ({@code lady train --watermark-steps})
 * @param attackedLayer the layer the attacks of the reduced Table 1 target (the group feeding the watermarked conv)
 * @param noise         Omega levels of the reduced Table 1
 * @param finetune      fine-tuning epochs of the reduced Table 1 (empty: none)
 * @param finetuneLimit training images of the fine-tuning attack (negative: all)
 * @param table1EvalLimit test images of every error in the reduced Table 1 (negative: all)
 * @param quant         B levels of the reduced Table 1
 * @param prune         T (%) levels of the reduced Table 1
 * @param rankingBits   B levels of the blind canonical-ranking sweep
 */
public record DemoConfig(String arch, double width, int epochs, double lr, int batchSize, int trainLimit, int testLimit, long seed,
        String watermarkLayer, int watermarkBits, int embedSteps, String attackedLayer, List<Double> noise,
        List<Integer> finetune, int finetuneLimit, int table1EvalLimit, List<Integer> quant, List<Double> prune, List<Integer> rankingBits) {

    /** Architecture of both presets. */
    public static final String ARCH = "vgg16_bn_cifar";
    /** The conv of vgg16_bn_cifar at the place of the paper's features.19 (the 9th conv). */
    public static final String WATERMARK_LAYER = lady.model.Models.layerFor(lady.model.Models.PAPER_LAYER,
            Paper.UCHIDA_LAYER_VGG16, ARCH);
    /** The conv of vgg16_bn_cifar at the place of the paper's features.17 (the 8th conv). */
    public static final String ATTACKED_LAYER = lady.model.Models.layerFor(lady.model.Models.PAPER_LAYER,
            Paper.TABLE1_LAYER_VGG16, ARCH);
    /**
     * Embedding-only steps after training: three short epochs are about 200 SGD steps, and Uchida's regularizer
     * at lambda = 0.1 needs hundreds more to bring every bit home (WatermarkStory measured 1,000 enough).
     */
    public static final int EMBED_STEPS = 1000;
    /** Batch size of the quick preset: 3,000 images in batches of 128 are too few SGD steps to leave the plateau. */
    public static final int QUICK_BATCH_SIZE = 32;
    /** Learning rate of the quick preset: 0.02 in batches of 32 diverged in the second epoch (32 % vs 56 % error). */
    public static final double QUICK_LR = 0.01;

    public DemoConfig {
        if (epochs < 1 || batchSize < 1 || width <= 0 || lr <= 0 || watermarkBits < 1 || embedSteps < 0) {
            throw new LadyException(LadyException.Kind.USAGE, "demo: epochs, width, lr and watermark bits must be positive");
        }
        noise = List.copyOf(noise);
        finetune = List.copyOf(finetune);
        quant = List.copyOf(quant);
        prune = List.copyOf(prune);
        rankingBits = List.copyOf(rankingBits);
    }

    /**
     * The full demo: the README's recipe (width 0.5, 3 epochs, lr 0.02, all 8,495 training digits), one run
     * per cell of a reduced Table 1 (two levels per attack, the mildest and the harshest the paper shows except
     * fine-tuning: one epoch on 2,000 images), and the ranking sweep over B = 2..16 (paper figures 4-5).
     */
    public static DemoConfig full() {
        return new DemoConfig(ARCH, 0.5, 3, 0.02, Paper.TRAIN_BATCH_SIZE, -1, -1, 0L, WATERMARK_LAYER, Paper.UCHIDA_BITS, EMBED_STEPS,
                ATTACKED_LAYER, List.of(Paper.NOISE_OMEGAS.get(2), Paper.NOISE_OMEGAS.get(4)), List.of(1), 2000, 500,
                List.of(Paper.QUANT_BITS.get(1), Paper.QUANT_BITS.get(3)),
                List.of(Paper.PRUNE_PERCENTS.get(2), Paper.PRUNE_PERCENTS.get(4)), RankingFigures.paperBits());
    }

    /**
     * The quick demo (under a minute cold): width 0.25, 2 epochs on 3,000 images in batches of 32, 500 test images,
     * two levels per attack and no fine-tuning, the ranking at the paper's Table 1 bit widths.
     */
    public static DemoConfig quick() {
        return new DemoConfig(ARCH, 0.25, 2, QUICK_LR, QUICK_BATCH_SIZE, 3000, 500, 0L, WATERMARK_LAYER, Paper.UCHIDA_BITS, EMBED_STEPS,
                ATTACKED_LAYER, List.of(Paper.NOISE_OMEGAS.get(2), Paper.NOISE_OMEGAS.get(4)), List.of(), 0, 300,
                List.of(Paper.QUANT_BITS.get(1), Paper.QUANT_BITS.get(3)),
                List.of(Paper.PRUNE_PERCENTS.get(2), Paper.PRUNE_PERCENTS.get(4)), Paper.QUANT_BITS);
    }

    public DemoConfig withSeed(long s) {
        return new DemoConfig(arch, width, epochs, lr, batchSize, trainLimit, testLimit, s, watermarkLayer, watermarkBits,
                embedSteps, attackedLayer, noise, finetune, finetuneLimit, table1EvalLimit, quant, prune, rankingBits);
    }

    /** The training settings: what identifies a cached model (with the tool version). */
    public Map<String, Object> trainingKey() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("arch", arch);
        m.put("width", width);
        m.put("epochs", epochs);
        m.put("lr", lr);
        m.put("batch_size", batchSize);
        m.put("train_limit", trainLimit);
        m.put("seed", seed);
        m.put("watermark_layer", watermarkLayer);
        m.put("watermark_bits", watermarkBits);
        m.put("embed_steps", embedSteps);
        return m;
    }

    public Map<String, Object> toJson() {
        Map<String, Object> m = trainingKey();
        m.put("test_limit", testLimit);
        m.put("attacked_layer", attackedLayer);
        m.put("table1_noise", noise);
        m.put("table1_finetune", finetune);
        m.put("table1_finetune_limit", finetuneLimit);
        m.put("table1_eval_limit", table1EvalLimit);
        m.put("table1_quant", quant);
        m.put("table1_prune", prune);
        m.put("ranking_bits", rankingBits);
        return m;
    }
}
