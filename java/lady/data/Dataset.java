package lady.data;

import java.util.Arrays;

import lady.LadyException;
import lady.paper.Paper;

/**
 * Images and labels held in memory: {@code size()} images of 3 x 32 x 32 unsigned bytes, stored
 * back to back in CIFAR-10's layout (red plane, green plane, blue plane, each row-major), and one
 * int label per image in {@code [0, classes)}. Immutable once built.
 */
public final class Dataset {
    /** Channels of every image. */
    public static final int CHANNELS = 3;
    /** Side of every (square) image. */
    public static final int SIDE = Paper.IMAGE_SIZE;
    /** Bytes of one image: 3 planes of 32 x 32. */
    public static final int IMAGE_BYTES = CHANNELS * SIDE * SIDE;

    private final String name;
    private final byte[] pixels;
    private final int[] labels;
    private final int classes;
    private final boolean horizontalFlip;

    /**
     * @param name           a short description for messages and reports (e.g. "digits/train")
     * @param pixels         {@code labels.length * IMAGE_BYTES} bytes, kept (not copied)
     * @param labels         one label per image, kept (not copied)
     * @param classes        number of classes; every label must lie in {@code [0, classes)}
     * @param horizontalFlip whether a horizontal flip is a label-preserving augmentation for this
     *                       data (true for CIFAR-10 photographs, false for digits)
     */
    public Dataset(String name, byte[] pixels, int[] labels, int classes, boolean horizontalFlip) {
        if (classes < 1) {
            throw LadyException.invalidInput(name + ": number of classes must be positive, got " + classes);
        }
        if ((long) labels.length * IMAGE_BYTES != pixels.length) {
            throw LadyException.invalidInput(name + ": " + pixels.length + " pixel bytes for " + labels.length
                    + " labels (expected " + (long) labels.length * IMAGE_BYTES + ")");
        }
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0 || labels[i] >= classes) {
                throw LadyException.invalidInput(name + ": label " + labels[i] + " of image " + i
                        + " is out of range [0, " + classes + ")");
            }
        }
        this.name = name;
        this.pixels = pixels;
        this.labels = labels;
        this.classes = classes;
        this.horizontalFlip = horizontalFlip;
    }

    public String name() {
        return name;
    }

    public int size() {
        return labels.length;
    }

    public int classes() {
        return classes;
    }

    /** Whether horizontal flipping is a sensible training augmentation for this data. */
    public boolean horizontalFlip() {
        return horizontalFlip;
    }

    public int label(int i) {
        return labels[i];
    }

    /** A copy of all labels. */
    public int[] labels() {
        return labels.clone();
    }

    /** A copy of image {@code i}: 3 x 32 x 32 bytes, channel planes. */
    public byte[] image(int i) {
        int off = Math.multiplyExact(i, IMAGE_BYTES);
        return Arrays.copyOfRange(pixels, off, off + IMAGE_BYTES);
    }

    /** Number of images of each class. */
    public int[] classCounts() {
        int[] counts = new int[classes];
        for (int l : labels) {
            counts[l]++;
        }
        return counts;
    }

    /** The first {@code n} images (all of them when {@code n >= size()}). */
    public Dataset limit(int n) {
        if (n < 0) {
            throw new LadyException(LadyException.Kind.USAGE, "image limit must be >= 0, got " + n);
        }
        if (n >= size()) {
            return this;
        }
        return new Dataset(name + "[:" + n + "]", Arrays.copyOf(pixels, n * IMAGE_BYTES), Arrays.copyOf(labels, n),
                classes, horizontalFlip);
    }

    /** The backing pixel array, for the batch loader (never handed out of the package). */
    byte[] rawPixels() {
        return pixels;
    }

    @Override
    public String toString() {
        return name + " (" + size() + " images, " + classes + " classes)";
    }
}
