package lady.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.LadyException;

class MnistIdxTest {
    @TempDir
    Path dir;

    @Test
    void readsRawAndGzippedDirectories() throws IOException {
        Files.write(dir.resolve("train-images-idx3-ubyte"), DataTestFiles.idxImages(3, 28, 28));
        Files.write(dir.resolve("train-labels-idx1-ubyte"), DataTestFiles.idxLabels(5, 0, 9));
        Files.write(dir.resolve("t10k-images-idx3-ubyte.gz"), DataTestFiles.gzip(DataTestFiles.idxImages(2, 28, 28)));
        Files.write(dir.resolve("t10k-labels-idx1-ubyte.gz"), DataTestFiles.gzip(DataTestFiles.idxLabels(1, 7)));
        DataSource src = DataSource.parse("mnist:" + dir);
        Dataset train = src.train();
        Dataset test = src.test();
        assertArrayEquals(new int[] {5, 0, 9}, train.labels());
        assertArrayEquals(new int[] {1, 7}, test.labels());
        assertFalse(train.horizontalFlip());
        for (Dataset d : new Dataset[] {train, test}) {
            for (int i = 0; i < d.size(); i++) {
                byte[] img = d.image(i);
                for (int c = 0; c < 3; c++) {
                    for (int y = 0; y < 32; y++) {
                        for (int x = 0; x < 32; x++) {
                            boolean inside = y >= 2 && y < 30 && x >= 2 && x < 30;
                            byte expected = inside ? (byte) (i + 3 * (y - 2) + 5 * (x - 2)) : 0;
                            assertEquals(expected, img[c * 1024 + y * 32 + x],
                                    d.name() + " image " + i + " c" + c + " (" + y + "," + x + ")");
                        }
                    }
                }
            }
        }
    }

    @Test
    void rejectsBadFiles() throws IOException {
        byte[] images = DataTestFiles.idxImages(2, 28, 28);
        LadyException e = assertThrows(LadyException.class,
                () -> MnistIdx.parse("t", images, "img", DataTestFiles.idxLabels(1, 2, 3), "lab"));
        assertEquals(LadyException.Kind.INVALID_INPUT, e.kind());
        assertTrue(e.getMessage().contains("2 images but lab holds 3 labels"), e.getMessage());

        e = assertThrows(LadyException.class,
                () -> MnistIdx.parse("t", images, "img", DataTestFiles.idxLabels(1, 12), "lab"));
        assertEquals(LadyException.Kind.INVALID_INPUT, e.kind());
        assertTrue(e.getMessage().contains("label 12 of image 1 is out of range"), e.getMessage());

        e = assertThrows(LadyException.class, () -> MnistIdx.parse("t", DataTestFiles.idxLabels(1, 2, 3, 4, 5, 6, 7, 8, 9), "img",
                DataTestFiles.idxLabels(1, 2), "lab"));
        assertEquals(LadyException.Kind.INVALID_INPUT, e.kind());
        assertTrue(e.getMessage().contains("magic 0x00000801, expected 0x00000803"), e.getMessage());

        byte[] truncated = java.util.Arrays.copyOf(images, images.length - 5);
        e = assertThrows(LadyException.class,
                () -> MnistIdx.parse("t", truncated, "img", DataTestFiles.idxLabels(1, 2), "lab"));
        assertEquals(LadyException.Kind.INVALID_INPUT, e.kind());

        e = assertThrows(LadyException.class, () -> MnistIdx.parse("t", DataTestFiles.idxImages(1, 40, 40), "img",
                DataTestFiles.idxLabels(1), "lab"));
        assertEquals(LadyException.Kind.INVALID_INPUT, e.kind());

        e = assertThrows(LadyException.class, () -> DataSource.parse("mnist:" + dir).train());
        assertEquals(LadyException.Kind.IO, e.kind());
        assertTrue(e.getMessage().contains("train-images-idx3-ubyte"), e.getMessage());
    }
}
