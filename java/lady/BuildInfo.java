package lady;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/** Version and git commit of this build (written by cmake/build-native.sh at build time). */
public final class BuildInfo {
    private BuildInfo() {}

    private static final Properties PROPS = load();

    private static Properties load() {
        Properties p = new Properties();
        try (InputStream in = BuildInfo.class.getResourceAsStream("/lady/build-info.properties")) {
            if (in != null) {
                p.load(in);
            }
        } catch (IOException e) {
            // no build facts: reported as "unknown"
        }
        return p;
    }

    public static String version() {
        return PROPS.getProperty("version", "unknown");
    }

    public static String commit() {
        return PROPS.getProperty("commit", "unknown");
    }

    /** "lady 0.1.0 (commit abc123)". */
    public static String describe() {
        return "lady " + version() + " (commit " + commit() + ")";
    }
}
