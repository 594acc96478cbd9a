package lady.data;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;

import lady.LadyException;

/** Reads whole data files into memory, gunzipping them when they start with the gzip magic. */
final class DataFiles {
    private DataFiles() {}

    static byte[] read(Path file) {
        if (!Files.exists(file)) {
            throw new LadyException(LadyException.Kind.IO, "data file not found: " + file);
        }
        if (!Files.isRegularFile(file)) {
            throw new LadyException(LadyException.Kind.IO, "not a regular file: " + file);
        }
        try {
            return maybeGunzip(Files.readAllBytes(file), file.toString());
        } catch (NoSuchFileException e) {
            throw new LadyException(LadyException.Kind.IO, "data file not found: " + file, e);
        } catch (IOException e) {
            throw new LadyException(LadyException.Kind.IO, "cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    static byte[] readResource(String resource) {
        try (InputStream in = DataFiles.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new LadyException(LadyException.Kind.IO, "built-in data missing from the class path: " + resource);
            }
            return maybeGunzip(in.readAllBytes(), resource);
        } catch (IOException e) {
            throw new LadyException(LadyException.Kind.IO, "cannot read " + resource + ": " + e.getMessage(), e);
        }
    }

    /** The bytes themselves, or their gunzipped content when they start with 1f 8b. */
    static byte[] maybeGunzip(byte[] bytes, String what) {
        if (bytes.length < 2 || (bytes[0] & 0xff) != 0x1f || (bytes[1] & 0xff) != 0x8b) {
            return bytes;
        }
        try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(bytes), 1 << 16)) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw LadyException.invalidInput(what + ": corrupt gzip data (" + e.getMessage() + ")");
        }
    }
}
