package lady.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.LadyException;

class CifarBinaryTest {
    @TempDir
    Path dir;

    @Test
    void parsesRecords() throws IOException {
        Path f = dir.resolve("small.bin");
        Files.write(f, DataTestFiles.cifar(3, 0, 9));
        Dataset d = DataSource.parse("cifar10-files:" + f + "," + f).train();
        assertEquals(3, d.size());
        assertArrayEquals(new int[] {3, 0, 9}, d.labels());
        assertTrue(d.horizontalFlip());
        for (int r = 0; r < 3; r++) {
            byte[] img = d.image(r);
            for (int p = 0; p < Dataset.IMAGE_BYTES; p++) {
                assertEquals(DataTestFiles.pixel(r, p), img[p], "record " + r + " byte " + p);
            }
        }
    }

    @Test
    void readsGzippedFilesToo() throws IOException {
        Path f = dir.resolve("small.bin.gz");
        Files.write(f, DataTestFiles.gzip(DataTestFiles.cifar(1, 2)));
        Dataset d = CifarBinary.read("t", java.util.List.of(f), true);
        assertArrayEquals(new int[] {1, 2}, d.labels());
        assertEquals(DataTestFiles.pixel(1, 100), d.image(1)[100]);
    }

    @Test
    void readsTheArchiveDirectoryLayout() throws IOException {
        Path nested = Files.createDirectories(dir.resolve("cifar-10-batches-bin"));
        for (int b = 1; b <= 5; b++) {
            Files.write(nested.resolve("data_batch_" + b + ".bin"), DataTestFiles.cifar(b, b + 1));
        }
        Files.write(nested.resolve("test_batch.bin"), DataTestFiles.cifar(7));
        DataSource src = DataSource.parse("cifar10:" + dir);
        Dataset train = src.train();
        assertArrayEquals(new int[] {1, 2, 2, 3, 3, 4, 4, 5, 5, 6}, train.labels());
        assertEquals(DataTestFiles.pixel(1, 5), train.image(9)[5], "second record of data_batch_5");
        assertArrayEquals(new int[] {7}, src.test().labels());
    }

    @Test
    void rejectsBadFiles() throws IOException {
        Path shortFile = dir.resolve("short.bin");
        byte[] good = DataTestFiles.cifar(1, 2);
        Files.write(shortFile, Arrays.copyOf(good, good.length - 1));
        LadyException e = assertThrows(LadyException.class,
                () -> DataSource.parse("cifar10-files:" + shortFile + "," + shortFile).train());
        assertEquals(LadyException.Kind.INVALID_INPUT, e.kind());
        assertTrue(e.getMessage().contains("not a positive multiple of the record size 3073"), e.getMessage());

        Path badLabel = dir.resolve("label.bin");
        Files.write(badLabel, DataTestFiles.cifar(1, 10));
        e = assertThrows(LadyException.class, () -> CifarBinary.read("t", java.util.List.of(badLabel), true));
        assertEquals(LadyException.Kind.INVALID_INPUT, e.kind());
        assertTrue(e.getMessage().contains("record 1 has label 10"), e.getMessage());

        e = assertThrows(LadyException.class,
                () -> DataSource.parse("cifar10-files:" + dir.resolve("nope.bin") + "," + shortFile).train());
        assertEquals(LadyException.Kind.IO, e.kind());

        Files.write(dir.resolve("test_batch.bin"), good);
        e = assertThrows(LadyException.class, () -> DataSource.parse("cifar10:" + dir).train());
        assertEquals(LadyException.Kind.IO, e.kind());
        assertTrue(e.getMessage().contains("data_batch_1.bin"), e.getMessage());

        e = assertThrows(LadyException.class, () -> DataSource.parse("cifar10:" + dir.resolve("missing")).test());
        assertEquals(LadyException.Kind.IO, e.kind());
    }
}
