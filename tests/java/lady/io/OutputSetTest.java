package lady.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.LadyException;

/** The output policy of every command ({@link OutputSet}): no input overwritten, nothing left by a failure. */
class OutputSetTest {

    /** Every entry under {@code dir} (relative paths, sorted). */
    static List<String> listing(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(p -> !p.equals(dir)).map(p -> dir.relativize(p).toString()).sorted().toList();
        }
    }

    @Test
    void outputsAppearOnlyAtTheCommitAndAFailureLeavesNothing(@TempDir Path dir) throws IOException {
        Path in = Files.writeString(dir.resolve("in.pt"), "input");
        Path out = dir.resolve("out.pt");
        Path report = dir.resolve("report.json");
        try (OutputSet outs = new OutputSet()) {
            outs.input("--model", in);
            Path a = outs.file("--out", out);
            Path b = outs.file("--report", report);
            assertTrue(a.getFileName().toString().startsWith(".lady-") && a.getFileName().toString().endsWith("-out.pt"),
                    "a hidden temporary that keeps the target's name (and extension) at its end: " + a);
            assertEquals(dir, a.getParent(), "in the target's folder");
            AtomicFiles.writeString(a, "model");
            AtomicFiles.writeString(b, "report");
            assertFalse(Files.exists(out), "nothing in place before the commit");
            assertEquals(out.toAbsolutePath(), outs.published(a));
            outs.commit();
        }
        assertEquals("model", Files.readString(out));
        assertEquals("report", Files.readString(report));
        assertEquals(List.of("in.pt", "out.pt", "report.json"), listing(dir));

        Path out2 = dir.resolve("out2.pt");
        assertThrows(IllegalStateException.class, () -> {
            try (OutputSet outs = new OutputSet()) {
                AtomicFiles.writeString(outs.file("--out", out2), "half");
                AtomicFiles.writeString(outs.file("--report", report), "new report");
                throw new IllegalStateException("the command failed");
            }
        });
        assertEquals(List.of("in.pt", "out.pt", "report.json"), listing(dir), "no new file, no temporary");
        assertEquals("report", Files.readString(report), "an existing output is untouched by a failed command");
    }

    @Test
    void anOutputThatIsAnInputByNameLinkOrHardLinkIsRefusedBeforeAnyWork(@TempDir Path dir) throws IOException {
        Path in = Files.writeString(dir.resolve("model.pt"), "input");
        Path secret = Files.writeString(dir.resolve("secret.json"), "{}");
        Path link = Files.createSymbolicLink(dir.resolve("link.pt"), in);
        Path hard = Files.createLink(dir.resolve("hard.pt"), in);
        Path sub = Files.createDirectory(dir.resolve("sub"));
        Path dotted = sub.resolve("..").resolve("model.pt");
        Path linkedDir = Files.createSymbolicLink(dir.resolve("alias"), dir);
        for (Path same : List.of(in, link, hard, dotted, linkedDir.resolve("secret.json"),
                Path.of("").toAbsolutePath().relativize(in))) {
            try (OutputSet outs = new OutputSet()) {
                outs.input("--model", in).input("--secret", secret);
                LadyException e = assertThrows(LadyException.class, () -> outs.file("--out", same), same.toString());
                assertEquals(LadyException.Kind.USAGE, e.kind());
                assertTrue(e.getMessage().contains("is the same file as --"), e.getMessage());
            }
        }
        // declared the other way round: the output first, then the input
        try (OutputSet outs = new OutputSet()) {
            outs.file("--report", link);
            LadyException e = assertThrows(LadyException.class, () -> outs.input("--model", in));
            assertTrue(e.getMessage().contains("--report"), e.getMessage());
        }
        // two outputs on one file
        try (OutputSet outs = new OutputSet()) {
            outs.file("--out", dir.resolve("x.pt"));
            LadyException e = assertThrows(LadyException.class, () -> outs.file("--report", sub.resolve("../x.pt")));
            assertTrue(e.getMessage().contains("--report and --out name the same file"), e.getMessage());
        }
        assertEquals("input", Files.readString(in));
        assertEquals(List.of("alias", "hard.pt", "link.pt", "model.pt", "secret.json", "sub"), listing(dir));
    }

    @Test
    void aMissingFolderAFileInThePathOrAFolderAsTheFileFailAtOnce(@TempDir Path dir) throws IOException {
        Path file = Files.writeString(dir.resolve("file"), "x");
        try (OutputSet outs = new OutputSet()) {
            LadyException missing = assertThrows(LadyException.class, () -> outs.file("--out", dir.resolve("no/out.pt")));
            assertEquals(LadyException.Kind.IO, missing.kind());
            assertTrue(missing.getMessage().contains("no such folder"), missing.getMessage());
            LadyException under = assertThrows(LadyException.class, () -> outs.file("--out", file.resolve("out.pt")));
            assertTrue(under.getMessage().contains("is not a folder"), under.getMessage());
            LadyException folder = assertThrows(LadyException.class, () -> outs.file("--out", dir));
            assertEquals(LadyException.Kind.USAGE, folder.kind());
            assertTrue(folder.getMessage().contains("is a folder"), folder.getMessage());
            LadyException notDir = assertThrows(LadyException.class, () -> outs.directory("--out", file));
            assertTrue(notDir.getMessage().contains("exists and is not a folder"), notDir.getMessage());
            LadyException underFile = assertThrows(LadyException.class,
                    () -> outs.directory("--out", file.resolve("results")));
            assertTrue(underFile.getMessage().contains("is not a folder"), underFile.getMessage());
        }
        assertEquals(List.of("file"), listing(dir));
    }

    @Test
    void anUnwritableFolderFailsAtRegistration(@TempDir Path dir) throws IOException {
        Path locked = Files.createDirectory(dir.resolve("locked"));
        Files.setPosixFilePermissions(locked, PosixFilePermissions.fromString("r-xr-xr-x"));
        try {
            // root ignores permission bits; sysfs refuses new files even to root
            Path target = Files.isWritable(locked) ? Path.of("/sys/lady-out.pt") : locked.resolve("out.pt");
            assumeTrue(!Files.isWritable(target.getParent()) || target.startsWith("/sys"),
                    "no folder that refuses new files here");
            assumeTrue(Files.isDirectory(target.getParent()), "no " + target.getParent());
            try (OutputSet outs = new OutputSet()) {
                LadyException e = assertThrows(LadyException.class, () -> outs.file("--out", target));
                assertEquals(LadyException.Kind.IO, e.kind());
                assertTrue(e.getMessage().startsWith("cannot write"), e.getMessage());
            }
            assertFalse(Files.exists(target));
        } finally {
            Files.setPosixFilePermissions(locked, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        assertEquals(List.of("locked"), listing(dir));
    }

    @Test
    void aFolderOutputIsMergedAtTheCommitAndCreatedOnlyThen(@TempDir Path dir) throws IOException {
        Path results = dir.resolve("a/b/results");
        try (OutputSet outs = new OutputSet()) {
            Path staged = outs.directory("--out", results);
            assertEquals(dir, staged.getParent(), "staged in the nearest folder that exists");
            Files.createDirectories(staged.resolve("plots"));
            AtomicFiles.writeString(staged.resolve("table.md"), "t");
            AtomicFiles.writeString(staged.resolve("plots/p.png"), "p");
            assertEquals(results.toAbsolutePath().resolve("plots/p.png"), outs.published(staged.resolve("plots/p.png")));
            assertFalse(Files.exists(dir.resolve("a")), "no folder created before the commit");
            outs.commit();
        }
        assertEquals(List.of("a", "a/b", "a/b/results", "a/b/results/plots", "a/b/results/plots/p.png",
                "a/b/results/table.md"), listing(dir));
        // into an existing folder: other files are kept, the command's files replaced
        AtomicFiles.writeString(results.resolve("mine.txt"), "keep");
        try (OutputSet outs = new OutputSet()) {
            AtomicFiles.writeString(outs.directory("--out", results).resolve("table.md"), "t2");
            outs.commit();
        }
        assertEquals("t2", Files.readString(results.resolve("table.md")));
        assertEquals("keep", Files.readString(results.resolve("mine.txt")));
        // a failure: the existing folder is as it was, the temporary folder gone
        assertThrows(IllegalStateException.class, () -> {
            try (OutputSet outs = new OutputSet()) {
                AtomicFiles.writeString(outs.directory("--out", results).resolve("table.md"), "t3");
                throw new IllegalStateException("failed");
            }
        });
        assertEquals("t2", Files.readString(results.resolve("table.md")));
        assertEquals(List.of("a"), listing(dir).stream().filter(p -> !p.startsWith("a/")).toList());
    }

    @Test
    void aFileOfAnOutputFolderThatWouldLandOnAnInputIsRefusedAtTheCommit(@TempDir Path dir) throws IOException {
        Path results = Files.createDirectory(dir.resolve("results"));
        Path model = Files.writeString(results.resolve("table1.csv"), "the user's input, oddly named");
        LadyException e = assertThrows(LadyException.class, () -> {
            try (OutputSet outs = new OutputSet()) {
                outs.input("--model", model);
                AtomicFiles.writeString(outs.directory("--out", results).resolve("table1.csv"), "rows");
                outs.commit();
            }
        });
        assertEquals(LadyException.Kind.USAGE, e.kind());
        assertEquals("the user's input, oddly named", Files.readString(model));
        assertEquals(List.of("results", "results/table1.csv"), listing(dir));
    }

    /** A model folder (Hugging Face layout, Checkpoints.writeLike) replaces the target folder as a whole. */
    @Test
    void aModelFolderReplacesItsTargetAsAWholeAndNeverAnInput(@TempDir Path dir) throws IOException {
        Path in = Files.createDirectory(dir.resolve("in"));
        Files.writeString(in.resolve("model.safetensors"), "weights");
        Path out = Files.createDirectory(dir.resolve("out"));
        Files.writeString(out.resolve("model.safetensors"), "from an earlier run");
        // a folder holding files the model's has not (notes, another model's shards) is never replaced
        Path notes = Files.createDirectory(dir.resolve("notes"));
        Files.writeString(notes.resolve("notes.txt"), "the user's");
        try (OutputSet outs = new OutputSet()) {
            outs.input("--model", in);
            LadyException e = assertThrows(LadyException.class, () -> outs.like("--out", notes, in));
            assertEquals(LadyException.Kind.USAGE, e.kind());
            assertTrue(e.getMessage().contains("notes.txt") && e.getMessage().contains("give a new folder name"),
                    e.getMessage());
        }
        assertEquals("the user's", Files.readString(notes.resolve("notes.txt")));
        Files.delete(notes.resolve("notes.txt"));
        Files.delete(notes);
        try (OutputSet outs = new OutputSet()) {
            outs.input("--model", in);
            Path tmp = outs.like("--out", out, in);
            assertTrue(Files.isDirectory(tmp) && tmp.getFileName().toString().startsWith(".lady-"), tmp.toString());
            AtomicFiles.writeString(tmp.resolve("model.safetensors"), "permuted");
            assertEquals(out.resolve("model.safetensors").toAbsolutePath(), outs.published(tmp.resolve("model.safetensors")));
            assertEquals("from an earlier run", Files.readString(out.resolve("model.safetensors")), "nothing before the commit");
            outs.commit();
        }
        assertEquals(List.of("in", "in/model.safetensors", "out", "out/model.safetensors"), listing(dir),
                "the old folder replaced, no temporary left");
        assertEquals("permuted", Files.readString(out.resolve("model.safetensors")));

        // the input folder itself, or a folder holding the input, is never replaced
        for (Path bad : List.of(in, dir)) {
            try (OutputSet outs = new OutputSet()) {
                outs.input("--model", in);
                LadyException e = assertThrows(LadyException.class, () -> outs.like("--out", bad, in), bad.toString());
                assertEquals(LadyException.Kind.USAGE, e.kind());
            }
        }
        // nor may another output lie inside it; a file input gives a file output
        try (OutputSet outs = new OutputSet()) {
            outs.folder("--out", out);
            assertThrows(LadyException.class, () -> outs.file("--secret", out.resolve("secret.json")));
            assertFalse(Files.isDirectory(outs.like("--report", dir.resolve("r.json"), in.resolve("model.safetensors"))));
        }
        // a failure leaves the existing folder as it was
        assertThrows(IllegalStateException.class, () -> {
            try (OutputSet outs = new OutputSet()) {
                AtomicFiles.writeString(outs.folder("--out", out).resolve("model.safetensors"), "half");
                throw new IllegalStateException("failed");
            }
        });
        assertEquals(List.of("in", "in/model.safetensors", "out", "out/model.safetensors"), listing(dir));
        assertEquals("permuted", Files.readString(out.resolve("model.safetensors")));
    }
}
