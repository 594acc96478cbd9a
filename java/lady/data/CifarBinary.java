package lady.data;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import lady.LadyException;

/**
 * CIFAR-10 binary format: records of 1 label byte (0-9) followed by 3,072 pixel bytes (red, green
 * and blue planes of 32 x 32, row-major). Files may be gzipped. See
 * https://www.cs.toronto.edu/~kriz/cifar.html ("binary version").
 */
public final class CifarBinary {
    private CifarBinary() {}

    /** Bytes of one record. */
    public static final int RECORD_BYTES = 1 + Dataset.IMAGE_BYTES;
    /** CIFAR-10 has 10 classes. */
    public static final int CLASSES = 10;
    /** The five training files of the official archive, in order. */
    public static final List<String> TRAIN_FILES = List.of("data_batch_1.bin", "data_batch_2.bin",
            "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin");
    /** The test file of the official archive. */
    public static final String TEST_FILE = "test_batch.bin";

    /** Reads and concatenates {@code files} (in order) into one dataset. */
    public static Dataset read(String name, List<Path> files, boolean horizontalFlip) {
        List<byte[]> contents = new ArrayList<>();
        List<String> whats = new ArrayList<>();
        for (Path f : files) {
            contents.add(DataFiles.read(f));
            whats.add(f.toString());
        }
        return parse(name, contents, whats, horizontalFlip);
    }

    /** Parses the content of one file ({@code what} names it in messages). */
    public static Dataset parse(String name, byte[] content, String what, boolean horizontalFlip) {
        return parse(name, List.of(content), List.of(what), horizontalFlip);
    }

    static Dataset parse(String name, List<byte[]> contents, List<String> whats, boolean horizontalFlip) {
        long records = 0;
        for (int f = 0; f < contents.size(); f++) {
            long len = contents.get(f).length;
            if (len == 0 || len % RECORD_BYTES != 0) {
                throw LadyException.invalidInput(whats.get(f) + ": not a CIFAR-10 binary file: its length " + len
                        + " is not a positive multiple of the record size " + RECORD_BYTES);
            }
            records += len / RECORD_BYTES;
        }
        if (records * Dataset.IMAGE_BYTES > Integer.MAX_VALUE - 8) {
            throw LadyException.invalidInput(name + ": too many images for one in-memory dataset (" + records + ")");
        }
        int n = (int) records;
        byte[] pixels = new byte[n * Dataset.IMAGE_BYTES];
        int[] labels = new int[n];
        int i = 0;
        for (int f = 0; f < contents.size(); f++) {
            byte[] c = contents.get(f);
            for (int off = 0; off < c.length; off += RECORD_BYTES, i++) {
                int label = c[off] & 0xff;
                if (label >= CLASSES) {
                    throw LadyException.invalidInput(whats.get(f) + ": record " + (off / RECORD_BYTES) + " has label "
                            + label + ", out of range [0, " + CLASSES + ")");
                }
                labels[i] = label;
                System.arraycopy(c, off + 1, pixels, i * Dataset.IMAGE_BYTES, Dataset.IMAGE_BYTES);
            }
        }
        return new Dataset(name, pixels, labels, CLASSES, horizontalFlip);
    }
}
