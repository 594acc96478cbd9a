package lady.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.LadyException;

class AtomicFilesTest {
    @TempDir
    Path dir;

    private List<String> listing() throws IOException {
        try (var s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void writesAndReplaces() throws IOException {
        Path p = dir.resolve("r.json");
        AtomicFiles.writeString(p, "one");
        assertEquals("one", Files.readString(p));
        AtomicFiles.writeStream(p, out -> out.write("two".getBytes()));
        assertEquals("two", Files.readString(p));
        assertEquals(List.of("r.json"), listing());
    }

    @Test
    void failureHalfWayLeavesNoFile() throws IOException {
        Path p = dir.resolve("half.bin");
        IOException boom = new IOException("disk full");
        LadyException e = assertThrows(LadyException.class, () -> AtomicFiles.write(p, ch -> {
            AtomicFiles.writeFully(ch, ByteBuffer.wrap(new byte[1000]));
            throw boom;
        }));
        assertEquals(LadyException.Kind.IO, e.kind());
        assertTrue(e.getMessage().contains("half.bin") && e.getMessage().contains("disk full"), e.getMessage());
        assertEquals(List.of(), listing(), "neither the target nor a temporary file");
    }

    @Test
    void failureKeepsTheOldFileAndPassesLadyExceptionsThrough() throws IOException {
        Path p = dir.resolve("keep.txt");
        AtomicFiles.writeString(p, "old");
        LadyException mine = LadyException.invalidInput("bad tensor");
        LadyException e = assertThrows(LadyException.class, () -> AtomicFiles.writeStream(p, out -> {
            out.write(new byte[100_000]);
            throw mine;
        }));
        assertSame(mine, e);
        assertEquals("old", Files.readString(p));
        assertEquals(List.of("keep.txt"), listing());
    }

    @Test
    void missingDirectoryIsAnIoError() {
        LadyException e = assertThrows(LadyException.class,
                () -> AtomicFiles.writeString(dir.resolve("no/such/x.txt"), "x"));
        assertEquals(LadyException.Kind.IO, e.kind());
        assertTrue(e.getMessage().contains("no such folder"), e.getMessage());
    }
}
