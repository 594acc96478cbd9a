package lady.torch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import lady.data.Batch;
import lady.data.BatchLoader;
import lady.data.Digits;
import lady.model.Model;
import lady.model.ModelOptions;
import lady.model.Models;
import lady.train.ProbeTerm;
import lady.train.TrainConfig;
import lady.train.Trainer;

/**
 * Issue 7: training the narrow plain VGG16 intermittently turned the first conv's weight and bias
 * into NaN after one SGD step. On some CPUs (the AVX-512 EPYC development machines) libtorch 2.10's oneDNN
 * backward-data of a convolution whose output channels are not a multiple of its channel block
 * (features.2 at width 0.125 has 8) reads channel padding that nobody wrote; when recycled heap memory
 * holds NaN there, NaN * 0 poisons the input gradient and every layer below it. On other CPUs (an
 * AVX2-only EPYC, an AVX-512 + AMX Xeon, or this one with {@code ONEDNN_MAX_CPU_ISA=AVX2}) oneDNN picks
 * other kernels and the bug does not show. Lady's protection does not depend on the CPU: every training
 * step runs with the allocator's zero fill ({@link Torch#zeroFillWhileTraining()}).
 *
 * <p>These tests make the garbage NaN on purpose (freed NaN tensors, or the allocator's junk
 * fill), so that what happened about once in a dozen runs happens every time where the CPU has the
 * bug. The bug itself is assumed, never asserted: where it does not show, that test is skipped.
 */
@Tag("cpu-sensitive")
class AllocatorFillTest {
    /** Width at which VGG16's first two convolutions have 8 channels (not a multiple of 16). */
    private static final double NARROW = 0.125;
    private static final int BATCH = 32;
    /** Poisoned heap: 30 NaN tensors of each size 16 << k elements, k = 0..13 (where the bug showed most). */
    private static final int POISON_COPIES = 30;
    private static final int POISON_MAX_SHIFT = 13;
    /** Steps on a freshly poisoned heap: without the zero fill, each one hit NaN about 2 times in 3 where the bug shows. */
    private static final int ATTEMPTS = 4;

    @BeforeAll
    static void init() {
        Torch.init();
    }

    /**
     * The trainer zeroes new memory for every model (here one whose channel counts are all multiples of 16,
     * which the old rule left unprotected), whatever the CPU, and gives the allocator back as it found it.
     */
    @Test
    void everyTrainingStepRunsWithTheZeroFillWhichIsRestoredAfterwards() {
        Torch.AllocatorFill found = Torch.allocatorFill();
        Torch.setAllocatorFill(Torch.AllocatorFill.NONE);
        try {
            Trainer.seedLibtorch(1);
            Model model = Models.create("vgg16_cifar", ModelOptions.defaults().withWidth(2 * NARROW));
            assertEquals(Torch.AllocatorFill.NONE, Torch.allocatorFill(), "building a model changes nothing");
            List<Torch.AllocatorFill> seen = new ArrayList<>();
            List<Double> empties = new ArrayList<>();
            ProbeTerm probe = new ProbeTerm(() -> {
                seen.add(Torch.allocatorFill());
                for (long n : poisonHeap()) {
                    empties.add(torch.empty(n).abs().max().item_double());
                }
            });
            new Trainer(TrainConfig.paper(1).withBatchSize(BATCH).withLimit(2 * BATCH).withSeed(1)).lossTerm(probe)
                    .train(model, Digits.train());
            assertEquals(List.of(Torch.AllocatorFill.ZERO, Torch.AllocatorFill.ZERO), seen, "the fill during each step");
            assertTrue(empties.stream().allMatch(v -> v == 0.0), "torch.empty on recycled NaN memory inside a step");
            assertEquals(Torch.AllocatorFill.NONE, Torch.allocatorFill(), "the fill after training");
            try (Torch.ZeroFill outer = Torch.zeroFillWhileTraining()) {
                try (Torch.ZeroFill inner = Torch.zeroFillWhileTraining()) {
                    assertEquals(Torch.AllocatorFill.ZERO, Torch.allocatorFill());
                }
                assertEquals(Torch.AllocatorFill.ZERO, Torch.allocatorFill(), "nested scopes: the outer one still holds");
            }
            assertEquals(Torch.AllocatorFill.NONE, Torch.allocatorFill());
            Torch.setAllocatorFill(Torch.AllocatorFill.JUNK);
            try (Torch.ZeroFill scope = Torch.zeroFillWhileTraining()) {
                assertEquals(Torch.AllocatorFill.JUNK, Torch.allocatorFill(), "a fill a test chose is left alone");
            }
        } finally {
            Torch.setAllocatorFill(found);
        }
    }

    @Test
    void narrowVggGradientsStayFiniteOnRecycledNaNMemory() {
        Torch.AllocatorFill found = Torch.allocatorFill();
        Torch.setAllocatorFill(Torch.AllocatorFill.NONE);
        try (Torch.ZeroFill fill = Torch.zeroFillWhileTraining()) {
            for (int attempt = 1; attempt <= ATTEMPTS; attempt++) {
                Map<String, Boolean> finite = oneStepGradientsFinite(true);
                List<String> bad = finite.entrySet().stream().filter(e -> !e.getValue()).map(Map.Entry::getKey).toList();
                assertTrue(bad.isEmpty(), "non-finite gradients after one step of vgg16_cifar width " + NARROW
                        + " (attempt " + attempt + "): " + bad);
            }
        } finally {
            Torch.setAllocatorFill(found);
        }
    }

    /**
     * The bug itself, where this CPU has it: with the allocator's NaN junk fill instead of zeros, the same
     * step gives NaN gradients below the narrow convolution, and the training fill makes them finite again.
     * This shows the test above can fail. Skipped where oneDNN's kernels for this CPU read no unwritten
     * memory (then there is nothing to show; the zero fill stays on regardless).
     */
    @Test
    void whereTheCpuHasThePaddingBugTheZeroFillIsWhatKeepsGradientsFinite() {
        Map<String, Boolean> junk;
        Torch.AllocatorFill found = Torch.allocatorFill();
        Torch.setAllocatorFill(Torch.AllocatorFill.JUNK);
        try {
            junk = oneStepGradientsFinite(false);
        } finally {
            Torch.setAllocatorFill(found);
        }
        List<String> poisoned = junk.entrySet().stream().filter(e -> !e.getValue()).map(Map.Entry::getKey).toList();
        assumeFalse(poisoned.isEmpty(), "libtorch's oneDNN read no unwritten padding on this CPU (every gradient "
                + "finite on NaN junk memory): the upstream bug does not show here, nothing to demonstrate");
        Torch.setAllocatorFill(Torch.AllocatorFill.NONE);
        Map<String, Boolean> zero;
        try (Torch.ZeroFill fill = Torch.zeroFillWhileTraining()) {
            zero = oneStepGradientsFinite(true);
        } finally {
            Torch.setAllocatorFill(found);
        }
        assertTrue(zero.values().stream().allMatch(v -> v), "with the training fill, after " + poisoned
                + " were NaN on junk memory: " + zero);
    }

    /** Forward and backward of one batch of digits through vgg16_cifar at width 1/8; per parameter, whether its gradient is finite. */
    @SuppressWarnings("try")
    private static Map<String, Boolean> oneStepGradientsFinite(boolean poison) {
        Trainer.seedLibtorch(1);
        Model model = Models.create("vgg16_cifar", ModelOptions.defaults().withWidth(NARROW));
        model.train(true);
        Map<String, Tensor> params = Torch.namedParameters(model.module());
        BatchLoader loader = BatchLoader.builder(Digits.train()).batchSize(BATCH).limit(BATCH).seed(1).build();
        Map<String, Boolean> finite = new java.util.LinkedHashMap<>();
        try (PointerScope scope = new PointerScope()) {
            Batch batch = loader.epoch(0).batch(0);
            if (poison) {
                poisonHeap();
            }
            Tensor loss = torch.cross_entropy(model.forward(batch.images()), batch.labels());
            loss.backward();
            params.forEach((name, p) -> finite.put(name, p.grad().isfinite().all().item_bool()));
        }
        return finite;
    }

    /**
     * Allocates and frees NaN-filled tensors of many sizes (powers of two from 64 bytes to 512 KiB,
     * several of each), so that the heap's free blocks hold NaN; returns the sizes in elements.
     */
    @SuppressWarnings("try")
    private static List<Long> poisonHeap() {
        List<Long> sizes = new ArrayList<>();
        try (PointerScope scope = new PointerScope()) {
            for (int copy = 0; copy < POISON_COPIES; copy++) {
                for (int k = 0; k <= POISON_MAX_SHIFT; k++) {
                    long n = 16L << k;
                    sizes.add(n);
                    torch.full(new long[] {n}, new Scalar(Float.NaN));
                }
            }
        }
        return sizes;
    }
}
