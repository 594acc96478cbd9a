package lady.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import lady.paper.Paper;
import lady.torch.Torch;

class BatchLoaderTest {
    private static final int N = 37;
    /** NORMALIZED[c][v]: (v / 255 - mean[c]) / std[c], the paper's ToTensor + Normalize. */
    private static final double[][] NORMALIZED = new double[3][256];

    static {
        for (int c = 0; c < 3; c++) {
            for (int v = 0; v < 256; v++) {
                NORMALIZED[c][v] = (v / 255.0 - Paper.CIFAR_MEAN[c]) / Paper.CIFAR_STD[c];
            }
        }
    }
    private static Dataset synthetic;

    @BeforeAll
    static void setUp() {
        Torch.init();
        // asymmetric images with every byte value, so crops and flips are recognizable
        synthetic = CifarBinary.parse("synthetic", DataTestFiles.cifar(labels(N)), "synthetic", true);
    }

    private static int[] labels(int n) {
        int[] l = new int[n];
        for (int i = 0; i < n; i++) {
            l[i] = i % 10;
        }
        return l;
    }

    /** All images (flattened floats) and labels of one epoch. */
    private static float[] epochImages(BatchLoader loader, int epoch, List<Long> labelsOut, List<Integer> idxOut) {
        float[] all = new float[loader.size() * Dataset.IMAGE_BYTES];
        int at = 0;
        for (int b = 0; b < loader.batchesPerEpoch(); b++) {
            try (PointerScope scope = new PointerScope()) {
                Batch batch = loader.epoch(epoch).batch(b);
                long[] shape = batch.images().sizes().vec().get();
                assertArrayEquals(new long[] {batch.size(), 3, 32, 32}, shape);
                assertEquals(org.bytedeco.pytorch.global.torch.ScalarType.Long.value, batch.labels().scalar_type().value);
                assertEquals(org.bytedeco.pytorch.global.torch.ScalarType.Float.value, batch.images().scalar_type().value);
                int len = batch.size() * Dataset.IMAGE_BYTES;
                batch.images().data_ptr_float().get(all, at, len);
                at += len;
                long[] l = new long[batch.size()];
                batch.labels().data_ptr_long().get(l);
                for (int k = 0; k < l.length; k++) {
                    labelsOut.add(l[k]);
                    idxOut.add(batch.indices()[k]);
                }
            }
        }
        return all;
    }

    private static float[] epochImages(BatchLoader loader, int epoch) {
        return epochImages(loader, epoch, new ArrayList<>(), new ArrayList<>());
    }

    @Test
    void evalModeNormalizesWithoutAugmentationInDatasetOrder() {
        BatchLoader loader = BatchLoader.builder(synthetic).mode(BatchLoader.Mode.EVAL).batchSize(8).build();
        assertEquals(5, loader.batchesPerEpoch());
        List<Long> labels = new ArrayList<>();
        List<Integer> idx = new ArrayList<>();
        float[] x = epochImages(loader, 0, labels, idx);
        for (int i = 0; i < N; i++) {
            assertEquals(i, idx.get(i));
            assertEquals(i % 10, labels.get(i));
            for (int p = 0; p < Dataset.IMAGE_BYTES; p += 13) {
                int c = p / 1024;
                double v = (DataTestFiles.pixel(i, p) & 0xff) / 255.0;
                double expected = (v - Paper.CIFAR_MEAN[c]) / Paper.CIFAR_STD[c];
                assertEquals(expected, x[i * Dataset.IMAGE_BYTES + p], 1e-5, "image " + i + " byte " + p);
            }
        }
    }

    @Test
    void sameSeedSameBytesWhateverTheBatchSize() {
        BatchLoader a = BatchLoader.builder(synthetic).seed(42).batchSize(5).build();
        BatchLoader b = BatchLoader.builder(synthetic).seed(42).batchSize(16).build();
        BatchLoader c = BatchLoader.builder(synthetic).seed(43).batchSize(5).build();
        float[] a0 = epochImages(a, 0);
        assertArrayEquals(a0, epochImages(b, 0), "same seed, other batch size");
        assertArrayEquals(a0, epochImages(a, 0), "same loader, same epoch again");
        assertFalse(Arrays.equals(a0, epochImages(a, 1)), "next epoch must differ");
        assertFalse(Arrays.equals(a0, epochImages(c, 0)), "other seed must differ");
        assertArrayEquals(a.epoch(3).order(), b.epoch(3).order());
        int[] order = a.epoch(0).order();
        int[] sorted = order.clone();
        Arrays.sort(sorted);
        for (int i = 0; i < N; i++) {
            assertEquals(i, sorted[i], "an epoch visits every image once");
        }
        assertFalse(Arrays.equals(sorted, order), "training order is shuffled");
    }

    @Test
    void augmentationIsACropOfThePaddedImageAndAFlipWhenEnabled() {
        for (boolean flip : new boolean[] {true, false}) {
            BatchLoader loader = BatchLoader.builder(synthetic).seed(7).batchSize(10).flip(flip).build();
            List<Integer> idx = new ArrayList<>();
            float[] x = epochImages(loader, 0, new ArrayList<>(), idx);
            int flipped = 0;
            int shifted = 0;
            for (int k = 0; k < N; k++) {
                int[] found = findCrop(x, k, idx.get(k));
                assertTrue(found != null, "image " + k + " is no crop/flip of its source (flip " + flip + ")");
                flipped += found[2];
                if (found[0] != 4 || found[1] != 4) {
                    shifted++;
                }
            }
            if (flip) {
                assertTrue(flipped > 5 && flipped < N - 5, "about half flipped, got " + flipped);
            } else {
                assertEquals(0, flipped, "flip disabled");
            }
            assertTrue(shifted > N / 2, "most images are shifted, got " + shifted);
        }
    }

    /** {dy, dx, flipped} such that output image k is the crop of padded source at (dy, dx). */
    private static int[] findCrop(float[] x, int k, int src) {
        for (int f = 0; f <= 1; f++) {
            for (int dy = 0; dy <= 8; dy++) {
                for (int dx = 0; dx <= 8; dx++) {
                    if (matches(x, k, src, dy, dx, f == 1)) {
                        return new int[] {dy, dx, f};
                    }
                }
            }
        }
        return null;
    }

    private static boolean matches(float[] x, int k, int src, int dy, int dx, boolean flip) {
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < 32; y++) {
                for (int xx = 0; xx < 32; xx++) {
                    int sy = y + dy - 4;
                    int sx = (flip ? 31 - xx : xx) + dx - 4;
                    int v = sy < 0 || sy >= 32 || sx < 0 || sx >= 32 ? 0
                            : DataTestFiles.pixel(src, c * 1024 + sy * 32 + sx) & 0xff;
                    if (Math.abs(NORMALIZED[c][v] - x[k * 3072 + c * 1024 + y * 32 + xx]) > 1e-5) {
                        return false;
                    }
                }
            }
        }
        return true;
    }

    @Test
    void limitAndDropLast() {
        BatchLoader loader = BatchLoader.builder(synthetic).limit(20).batchSize(8).dropLast(true).build();
        assertEquals(20, loader.size());
        assertEquals(2, loader.batchesPerEpoch());
        int count = 0;
        for (Batch b : loader.epoch(0)) {
            try (PointerScope scope = new PointerScope()) {
                assertEquals(8, b.size());
                for (int i : b.indices()) {
                    assertTrue(i < 20, "limit keeps the first 20 images");
                }
                count++;
            }
        }
        assertEquals(2, count);
        assertEquals(BatchLoader.builder(Digits.test()).build().flip(), false, "digits: flip off by default");
    }

    /** Issue 20, item 10: batches assembled ahead on the background thread are the bytes batch(b) gives. */
    @Test
    void prefetchedBatchesAreTheSameBytesInTheSameOrder() {
        BatchLoader loader = BatchLoader.builder(synthetic).batchSize(8).seed(5).build(); // TRAIN: crop, flip, shuffle
        for (int epoch = 0; epoch < 2; epoch++) {
            BatchLoader.Epoch plan = loader.epoch(epoch);
            try (BatchLoader.Prefetch ahead = plan.prefetch()) {
                for (int b = 0; b < plan.batches(); b++) {
                    assertTrue(ahead.hasNext());
                    try (PointerScope scope = new PointerScope()) {
                        Batch p = ahead.next();
                        Batch d = plan.batch(b);
                        float[] pi = new float[p.size() * Dataset.IMAGE_BYTES];
                        float[] di = new float[d.size() * Dataset.IMAGE_BYTES];
                        p.images().data_ptr_float().get(pi);
                        d.images().data_ptr_float().get(di);
                        assertArrayEquals(di, pi, "epoch " + epoch + ", batch " + b);
                        assertArrayEquals(d.indices(), p.indices());
                        assertEquals(d.labels().sum().item_long(), p.labels().sum().item_long());
                    }
                }
                assertFalse(ahead.hasNext(), "the partial last batch (37 = 4 x 8 + 5) was the last");
            }
        }
        try (BatchLoader.Prefetch early = loader.epoch(3).prefetch()) {
            early.next(); // closed after one batch: the one assembled ahead is dropped
        }
    }
}
