package lady.demo;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

import lady.BuildInfo;
import lady.LadyException;
import lady.report.Json;

/**
 * Trained demo models under the user's cache directory, keyed by their training settings and the tool
 * version: {@code <cache>/models/<key>/} holds {@code model.pt}, {@code key.json} and {@code train.json}.
 * {@code train.json} is written last (atomically), so an entry without it is incomplete and ignored.
 *
 * <p>The cache directory: {@code $LADY_CACHE_DIR}, else {@code $XDG_CACHE_HOME/lady}, else
 * {@code ~/.cache/lady}.
 */
public final class ModelCache {
    /** The file that marks a complete entry. */
    public static final String MANIFEST = "train.json";
    /** Hex digits of the settings hash used as the entry's folder name. */
    private static final int KEY_HEX_DIGITS = 16;

    private final Path root;

    public ModelCache(Path root) {
        this.root = root;
    }

    /** The cache of this user (environment as documented above). */
    public static ModelCache user() {
        return new ModelCache(userRoot(System.getenv()));
    }

    static Path userRoot(Map<String, String> env) {
        String lady = env.get("LADY_CACHE_DIR");
        if (lady != null && !lady.isBlank()) {
            return Path.of(lady);
        }
        String xdg = env.get("XDG_CACHE_HOME");
        if (xdg != null && !xdg.isBlank()) {
            return Path.of(xdg, "lady");
        }
        return Path.of(System.getProperty("user.home"), ".cache", "lady");
    }

    public Path root() {
        return root;
    }

    /** The folder of the entry for these settings (it may not exist). */
    public Path entry(Map<String, Object> settings) {
        Map<String, Object> keyed = new LinkedHashMap<>(settings);
        keyed.put("tool_version", BuildInfo.version());
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(Json.write(keyed).getBytes(StandardCharsets.UTF_8));
            return root.resolve("models").resolve(HexFormat.of().formatHex(digest).substring(0, KEY_HEX_DIGITS));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every Java platform", e);
        }
    }

    /** The entry's folder when it is complete (manifest present), else empty. */
    public Optional<Path> lookup(Map<String, Object> settings) {
        Path dir = entry(settings);
        return Files.isRegularFile(dir.resolve(MANIFEST)) ? Optional.of(dir) : Optional.empty();
    }

    /** Creates (if needed) and returns the entry's folder, for the caller to fill and then write the manifest. */
    public Path create(Map<String, Object> settings) {
        Path dir = entry(settings);
        try {
            Files.createDirectories(dir);
            Files.deleteIfExists(dir.resolve(MANIFEST));
        } catch (IOException e) {
            throw new LadyException(LadyException.Kind.IO, "cannot create the model cache folder " + dir + ": "
                    + e.getMessage() + " (set LADY_CACHE_DIR to a writable folder)", e);
        }
        return dir;
    }
}
