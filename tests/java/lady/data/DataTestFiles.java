package lady.data;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.zip.GZIPOutputStream;

/** Small generated data files for the tests. */
final class DataTestFiles {
    private DataTestFiles() {}

    /** Pixel {@code p} of record {@code r}: a pattern that differs per record, channel and position. */
    static byte pixel(int r, int p) {
        return (byte) (r * 31 + p * 7 + (p >> 10) * 101);
    }

    /** CIFAR-10 binary records with the given labels and {@link #pixel} content. */
    static byte[] cifar(int... labels) {
        byte[] b = new byte[labels.length * CifarBinary.RECORD_BYTES];
        for (int r = 0; r < labels.length; r++) {
            int off = r * CifarBinary.RECORD_BYTES;
            b[off] = (byte) labels[r];
            for (int p = 0; p < Dataset.IMAGE_BYTES; p++) {
                b[off + 1 + p] = pixel(r, p);
            }
        }
        return b;
    }

    /** An IDX images file of n images h x w, pixel (i, y, x) = (i + 3y + 5x) mod 256. */
    static byte[] idxImages(int n, int h, int w) {
        ByteBuffer b = ByteBuffer.allocate(16 + n * h * w);
        b.putInt(0x803).putInt(n).putInt(h).putInt(w);
        for (int i = 0; i < n; i++) {
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    b.put((byte) (i + 3 * y + 5 * x));
                }
            }
        }
        return b.array();
    }

    static byte[] idxLabels(int... labels) {
        ByteBuffer b = ByteBuffer.allocate(8 + labels.length);
        b.putInt(0x801).putInt(labels.length);
        for (int l : labels) {
            b.put((byte) l);
        }
        return b.array();
    }

    static byte[] gzip(byte[] data) throws IOException {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(bos)) {
            gz.write(data);
        }
        return bos.toByteArray();
    }
}
