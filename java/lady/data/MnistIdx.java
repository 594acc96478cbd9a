package lady.data;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import lady.LadyException;

/**
 * MNIST in its IDX format (http://yann.lecun.com/exdb/mnist/), raw or gzipped: an images file
 * (magic 0x00000803, dimensions N x H x W, unsigned bytes) and a labels file (magic 0x00000801,
 * dimension N). Each H x W image (28 x 28 for MNIST) is centered on a black 32 x 32 canvas (padded
 * by 2 on every side for MNIST) and copied into the three channel planes, the layout of the
 * built-in digits.
 */
public final class MnistIdx {
    private MnistIdx() {}

    /** MNIST has 10 classes. */
    public static final int CLASSES = 10;
    private static final int IMAGES_MAGIC = 0x00000803;
    private static final int LABELS_MAGIC = 0x00000801;

    /** Reads {@code prefix}-images / -labels of an MNIST directory ("train" or "t10k"). */
    public static Dataset readDirectory(String name, Path dir, String prefix) {
        if (!Files.isDirectory(dir)) {
            throw new LadyException(LadyException.Kind.IO, "MNIST directory not found: " + dir);
        }
        Path images = find(dir, prefix + "-images", "idx3-ubyte");
        Path labels = find(dir, prefix + "-labels", "idx1-ubyte");
        return read(name, images, labels);
    }

    /** The file of the official name ("train-images-idx3-ubyte") or a common variant of it
     * ("train-images.idx3-ubyte"), optionally ending in ".gz". */
    static Path find(Path dir, String stem, String suffix) {
        List<String> tried = new ArrayList<>();
        for (String sep : new String[] {"-", "."}) {
            for (String gz : new String[] {"", ".gz"}) {
                String candidate = stem + sep + suffix + gz;
                tried.add(candidate);
                Path p = dir.resolve(candidate);
                if (Files.isRegularFile(p)) {
                    return p;
                }
            }
        }
        throw new LadyException(LadyException.Kind.IO, "MNIST file missing in " + dir + ": expected one of " + tried);
    }

    public static Dataset read(String name, Path images, Path labels) {
        return parse(name, DataFiles.read(images), images.toString(), DataFiles.read(labels), labels.toString());
    }

    /** Parses the (already gunzipped or raw) content of an images file and a labels file. */
    public static Dataset parse(String name, byte[] images, String imagesWhat, byte[] labels, String labelsWhat) {
        images = DataFiles.maybeGunzip(images, imagesWhat);
        labels = DataFiles.maybeGunzip(labels, labelsWhat);
        int[] imageDims = header(images, IMAGES_MAGIC, 3, imagesWhat);
        int[] labelDims = header(labels, LABELS_MAGIC, 1, labelsWhat);
        int n = imageDims[0];
        int h = imageDims[1];
        int w = imageDims[2];
        if (labelDims[0] != n) {
            throw LadyException.invalidInput(imagesWhat + " holds " + n + " images but " + labelsWhat + " holds "
                    + labelDims[0] + " labels");
        }
        if (h < 1 || w < 1 || h > Dataset.SIDE || w > Dataset.SIDE) {
            throw LadyException.invalidInput(imagesWhat + ": images of " + h + " x " + w
                    + " do not fit a " + Dataset.SIDE + " x " + Dataset.SIDE + " canvas");
        }
        int top = (Dataset.SIDE - h) / 2;
        int left = (Dataset.SIDE - w) / 2;
        int plane = Dataset.SIDE * Dataset.SIDE;
        if ((long) n * Dataset.IMAGE_BYTES > Integer.MAX_VALUE - 8) {
            throw LadyException.invalidInput(imagesWhat + ": too many images (" + n + ")");
        }
        byte[] pixels = new byte[n * Dataset.IMAGE_BYTES];
        int[] lab = new int[n];
        int src = 16;
        for (int i = 0; i < n; i++) {
            int label = labels[8 + i] & 0xff;
            if (label >= CLASSES) {
                throw LadyException.invalidInput(labelsWhat + ": label " + label + " of image " + i
                        + " is out of range [0, " + CLASSES + ")");
            }
            lab[i] = label;
            int base = i * Dataset.IMAGE_BYTES;
            for (int y = 0; y < h; y++, src += w) {
                int dst = base + (top + y) * Dataset.SIDE + left;
                System.arraycopy(images, src, pixels, dst, w);
                System.arraycopy(images, src, pixels, dst + plane, w);
                System.arraycopy(images, src, pixels, dst + 2 * plane, w);
            }
        }
        return new Dataset(name, pixels, lab, CLASSES, false);
    }

    /** Checks the IDX header and the exact length; returns the dimensions. */
    private static int[] header(byte[] b, int magic, int ndim, String what) {
        int headerBytes = 4 + 4 * ndim;
        if (b.length < headerBytes) {
            throw LadyException.invalidInput(what + ": too short for an IDX header (" + b.length + " bytes)");
        }
        int m = readInt(b, 0);
        if (m != magic) {
            throw LadyException.invalidInput(String.format(
                    "%s: not an IDX file of unsigned bytes with %d dimension(s): magic 0x%08x, expected 0x%08x", what,
                    ndim, m, magic));
        }
        int[] dims = new int[ndim];
        long count = 1;
        for (int d = 0; d < ndim; d++) {
            dims[d] = readInt(b, 4 + 4 * d);
            if (dims[d] < 0) {
                throw LadyException.invalidInput(what + ": negative dimension " + dims[d]);
            }
            count *= dims[d];
        }
        if (b.length - headerBytes != count) {
            throw LadyException.invalidInput(what + ": header announces " + count + " data bytes but the file holds "
                    + (b.length - headerBytes));
        }
        return dims;
    }

    private static int readInt(byte[] b, int off) {
        return ((b[off] & 0xff) << 24) | ((b[off + 1] & 0xff) << 16) | ((b[off + 2] & 0xff) << 8) | (b[off + 3] & 0xff);
    }
}
