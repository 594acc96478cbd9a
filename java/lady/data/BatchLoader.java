package lady.data;

import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;

import lady.LadyException;
import lady.paper.Paper;
import lady.torch.Torch;
import lady.util.Seeds;

/**
 * Turns a {@link Dataset} into batches of libtorch tensors, as the paper's pipeline does:
 * {@code ToTensor} (bytes / 255) then {@code Normalize(Paper.CIFAR_MEAN, Paper.CIFAR_STD)}; in
 * training mode, first {@code RandomCrop(32, padding=4)} (black padding) then
 * {@code RandomHorizontalFlip} (p = 0.5, when enabled).
 *
 * <p>Deterministic: the order and the augmentation of epoch {@code e} come only from
 * {@code (seed, e)}, drawn for the whole epoch up front, so the same seed gives the same bytes
 * whatever the batch size. A batch is assembled in a Java float array (a lookup table maps each
 * byte to its normalized value) and copied into the tensor in one call.
 */
public final class BatchLoader {
    /** TRAIN: shuffled and augmented by default; EVAL: dataset order, no augmentation. */
    public enum Mode { TRAIN, EVAL }

    private final Dataset dataset;
    private final int batchSize;
    private final Mode mode;
    private final long seed;
    private final boolean shuffle;
    private final boolean flip;
    private final int padding;
    private final int size;
    private final boolean dropLast;
    /** lut[c * 256 + v]: normalized value of byte v in channel c. */
    private final float[] lut = new float[Dataset.CHANNELS * 256];

    private BatchLoader(Builder b) {
        this.dataset = b.dataset;
        this.batchSize = b.batchSize;
        this.mode = b.mode;
        this.seed = b.seed;
        this.shuffle = b.shuffle != null ? b.shuffle : b.mode == Mode.TRAIN;
        this.flip = b.mode == Mode.TRAIN && (b.flip != null ? b.flip : b.dataset.horizontalFlip());
        this.padding = b.mode == Mode.TRAIN ? b.padding : 0;
        this.size = b.limit < 0 ? b.dataset.size() : Math.min(b.limit, b.dataset.size());
        this.dropLast = b.dropLast;
        for (int c = 0; c < Dataset.CHANNELS; c++) {
            for (int v = 0; v < 256; v++) {
                lut[c * 256 + v] = (float) ((v / 255.0 - Paper.CIFAR_MEAN[c]) / Paper.CIFAR_STD[c]);
            }
        }
    }

    /**
     * The first {@code n} images of {@code data} in dataset order as one N x 3 x 32 x 32 float tensor,
     * normalized as for evaluation (no augmentation): a probe batch. The tensor belongs to the innermost
     * open {@link org.bytedeco.javacpp.PointerScope}, if any.
     */
    public static Tensor firstImages(Dataset data, int n) {
        if (n < 1 || n > data.size()) {
            throw new LadyException(LadyException.Kind.USAGE, "asked for " + n + " images of '" + data.name()
                    + "', which has " + data.size() + " (1.." + data.size() + ")");
        }
        return builder(data).mode(Mode.EVAL).batchSize(n).limit(n).build().epoch(0).batch(0).images();
    }

    public static Builder builder(Dataset dataset) {
        return new Builder(dataset);
    }

    public Dataset dataset() {
        return dataset;
    }

    public Mode mode() {
        return mode;
    }

    public int batchSize() {
        return batchSize;
    }

    /** Images per epoch (the dataset size, or the limit). */
    public int size() {
        return size;
    }

    public boolean flip() {
        return flip;
    }

    public int batchesPerEpoch() {
        return dropLast ? size / batchSize : (size + batchSize - 1) / batchSize;
    }

    /** The plan (order and augmentation) of epoch {@code epoch}. */
    public Epoch epoch(int epoch) {
        return new Epoch(epoch);
    }

    /** Order and augmentation of one epoch; iterate it for its batches (each call starts over). */
    public final class Epoch implements Iterable<Batch> {
        private final int[] order;
        private final byte[] dx;
        private final byte[] dy;
        private final boolean[] flips;

        private Epoch(int epoch) {
            order = new int[size];
            for (int i = 0; i < size; i++) {
                order[i] = i;
            }
            if (shuffle) {
                SplittableRandom r = new SplittableRandom(Seeds.derive(seed, "data.shuffle", epoch));
                for (int i = size - 1; i > 0; i--) { // Fisher-Yates
                    int j = r.nextInt(i + 1);
                    int t = order[i];
                    order[i] = order[j];
                    order[j] = t;
                }
            }
            if (mode == Mode.TRAIN) {
                SplittableRandom r = new SplittableRandom(Seeds.derive(seed, "data.augment", epoch));
                dx = new byte[size];
                dy = new byte[size];
                flips = new boolean[size];
                for (int i = 0; i < size; i++) {
                    dy[i] = (byte) r.nextInt(2 * padding + 1);
                    dx[i] = (byte) r.nextInt(2 * padding + 1);
                    flips[i] = flip && r.nextBoolean();
                }
            } else {
                dx = dy = null;
                flips = null;
            }
        }

        /** Dataset indices in the order of this epoch. */
        public int[] order() {
            return order.clone();
        }

        public int batches() {
            return batchesPerEpoch();
        }

        /** Batch {@code b} of this epoch (random access). */
        public Batch batch(int b) {
            if (b < 0 || b >= batchesPerEpoch()) {
                throw new LadyException(LadyException.Kind.INTERNAL, "batch " + b + " out of range [0, "
                        + batchesPerEpoch() + ")");
            }
            return assembleHost(this, b).toTensors();
        }

        /**
         * This epoch's batches in order, each assembled (crop, flip, normalization: the Java work) on a background
         * thread while the caller trains on the previous one; the caller's thread only copies the finished arrays
         * into tensors, which belong to its innermost {@link org.bytedeco.javacpp.PointerScope}. The batches are
         * the bytes {@link #batch} gives (assembly depends only on the epoch's plan and the batch index). Close it
         * to stop the assembly ahead.
         */
        public Prefetch prefetch() {
            return new Prefetch(this);
        }

        /** The batches in order, each assembled ahead ({@link #prefetch()}; an early break leaves at most one
         * batch assembled for nothing). */
        @Override
        public Iterator<Batch> iterator() {
            return prefetch();
        }
    }

    /** A batch assembled in Java arrays, not yet in tensors (what the background thread of {@link Prefetch} makes). */
    private record HostBatch(float[] images, long[] labels, int[] indices) {
        Batch toTensors() {
            Torch.init();
            int n = labels.length;
            Tensor t = torch.empty(new long[] {n, Dataset.CHANNELS, Dataset.SIDE, Dataset.SIDE},
                    new TensorOptions(torch.ScalarType.Float), new MemoryFormatOptional());
            t.data_ptr_float().put(images, 0, images.length);
            Tensor labelTensor = torch.empty(new long[] {n}, new TensorOptions(torch.ScalarType.Long),
                    new MemoryFormatOptional());
            labelTensor.data_ptr_long().put(labels, 0, n);
            return new Batch(t, labelTensor, indices);
        }
    }

    /** Daemon threads that assemble the next batch of every {@link Prefetch} (one is enough: assembly is cheap
     * next to a training step; more would compete with libtorch for the cores). */
    private static final ExecutorService ASSEMBLY = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "lady-batch-assembly");
        t.setDaemon(true);
        return t;
    });

    /** The batches of one epoch, the next one assembled ahead on a background thread ({@link Epoch#prefetch()}). */
    public final class Prefetch implements Iterator<Batch>, AutoCloseable {
        private final Epoch epoch;
        private int next;
        private Future<HostBatch> ahead;

        private Prefetch(Epoch epoch) {
            this.epoch = epoch;
            this.ahead = submit(0);
        }

        private Future<HostBatch> submit(int b) {
            if (b >= batchesPerEpoch()) {
                return null;
            }
            return ASSEMBLY.submit(() -> assembleHost(epoch, b));
        }

        @Override
        public boolean hasNext() {
            return next < batchesPerEpoch();
        }

        /** The next batch, in tensors of the caller's PointerScope; the one after it starts assembling now. */
        @Override
        public Batch next() {
            if (!hasNext()) {
                throw new NoSuchElementException();
            }
            HostBatch host = lady.util.Parallel.await(ahead, "batch assembly");
            next++;
            ahead = submit(next);
            return host.toTensors();
        }

        @Override
        public void close() {
            if (ahead != null) {
                ahead.cancel(false);
                ahead = null;
            }
        }
    }

    /** Batch {@code b} of epoch {@code e} in Java arrays; touches no libtorch state (any thread). */
    private HostBatch assembleHost(Epoch e, int b) {
        int from = b * batchSize;
        int n = Math.min(batchSize, size - from);
        final int side = Dataset.SIDE;
        final int plane = side * side;
        byte[] pixels = dataset.rawPixels();
        float[] out = new float[n * Dataset.IMAGE_BYTES];
        long[] labels = new long[n];
        int[] indices = new int[n];
        for (int k = 0; k < n; k++) {
            int pos = from + k;
            int idx = e.order[pos];
            indices[k] = idx;
            labels[k] = dataset.label(idx);
            int src = idx * Dataset.IMAGE_BYTES;
            int dst = k * Dataset.IMAGE_BYTES;
            if (e.dx == null || (padding == 0 && !e.flips[pos])) {
                for (int c = 0; c < Dataset.CHANNELS; c++) {
                    int lo = c * 256;
                    int s = src + c * plane;
                    int d = dst + c * plane;
                    for (int i = 0; i < plane; i++) {
                        out[d + i] = lut[lo + (pixels[s + i] & 0xff)];
                    }
                }
                continue;
            }
            // crop from the zero-padded image at offset (dy, dx), then mirror the crop if flipped:
            // out[y][x] = padded[y + dy][(flip ? side - 1 - x : x) + dx]
            int oy = e.dy[pos] - padding;
            int ox = e.dx[pos] - padding;
            boolean f = e.flips[pos];
            for (int c = 0; c < Dataset.CHANNELS; c++) {
                int lo = c * 256;
                float black = lut[lo];
                for (int y = 0; y < side; y++) {
                    int sy = y + oy;
                    int d = dst + c * plane + y * side;
                    if (sy < 0 || sy >= side) {
                        java.util.Arrays.fill(out, d, d + side, black);
                        continue;
                    }
                    int row = src + c * plane + sy * side;
                    for (int x = 0; x < side; x++) {
                        int sx = (f ? side - 1 - x : x) + ox;
                        out[d + x] = sx < 0 || sx >= side ? black : lut[lo + (pixels[row + sx] & 0xff)];
                    }
                }
            }
        }
        return new HostBatch(out, labels, indices);
    }

    /** Options of a loader; defaults: batch 128, TRAIN, seed 0, shuffle in TRAIN only, flip as the
     * dataset says, padding {@link Paper#CROP_PADDING}, no limit, keep the last partial batch. */
    public static final class Builder {
        private final Dataset dataset;
        private int batchSize = 128;
        private Mode mode = Mode.TRAIN;
        private long seed;
        private Boolean shuffle;
        private Boolean flip;
        private int padding = Paper.CROP_PADDING;
        private int limit = -1;
        private boolean dropLast;

        private Builder(Dataset dataset) {
            if (dataset == null) {
                throw new LadyException(LadyException.Kind.INTERNAL, "dataset is null");
            }
            this.dataset = dataset;
        }

        public Builder batchSize(int batchSize) {
            if (batchSize < 1) {
                throw new LadyException(LadyException.Kind.USAGE, "batch size must be >= 1, got " + batchSize);
            }
            this.batchSize = batchSize;
            return this;
        }

        public Builder mode(Mode mode) {
            this.mode = mode;
            return this;
        }

        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        /** Shuffle each epoch (default: in TRAIN mode only). */
        public Builder shuffle(boolean shuffle) {
            this.shuffle = shuffle;
            return this;
        }

        /** Random horizontal flip in TRAIN mode (default: {@link Dataset#horizontalFlip()}). */
        public Builder flip(boolean flip) {
            this.flip = flip;
            return this;
        }

        /** Padding of the random crop in TRAIN mode (default 4; 0 disables cropping). */
        public Builder padding(int padding) {
            if (padding < 0 || padding > 127) {
                throw new LadyException(LadyException.Kind.USAGE, "crop padding must be in [0, 127], got " + padding);
            }
            this.padding = padding;
            return this;
        }

        /** Use only the first {@code limit} images of the dataset (fast tests and demos). */
        public Builder limit(int limit) {
            if (limit < 0) {
                throw new LadyException(LadyException.Kind.USAGE, "image limit must be >= 0, got " + limit);
            }
            this.limit = limit;
            return this;
        }

        /** Drop the last batch when it is smaller than the batch size. */
        public Builder dropLast(boolean dropLast) {
            this.dropLast = dropLast;
            return this;
        }

        public BatchLoader build() {
            return new BatchLoader(this);
        }
    }
}
