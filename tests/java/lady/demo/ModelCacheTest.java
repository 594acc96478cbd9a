package lady.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelCacheTest {

    @TempDir
    Path tmp;

    @Test
    void entryIsKeyedBySettingsAndCompleteOnlyWithItsManifest() throws IOException {
        ModelCache cache = new ModelCache(tmp);
        Map<String, Object> a = DemoConfig.full().trainingKey();
        Map<String, Object> b = DemoConfig.full().withSeed(1).trainingKey();
        assertEquals(cache.entry(a), cache.entry(DemoConfig.full().trainingKey()));
        assertNotEquals(cache.entry(a), cache.entry(b));
        assertNotEquals(cache.entry(a), cache.entry(DemoConfig.quick().trainingKey()));
        Path dir = cache.create(a);
        Files.writeString(dir.resolve("model.pt"), "half");
        assertTrue(cache.lookup(a).isEmpty(), "no manifest: incomplete");
        Files.writeString(dir.resolve(ModelCache.MANIFEST), "{}");
        assertEquals(dir, cache.lookup(a).orElseThrow());
        cache.create(a);
        assertTrue(cache.lookup(a).isEmpty(), "re-creating an entry invalidates it until its manifest is written");
    }

    @Test
    void rootFollowsTheEnvironment() {
        assertEquals(Path.of("/x/lady-cache"), ModelCache.userRoot(Map.of("LADY_CACHE_DIR", "/x/lady-cache",
                "XDG_CACHE_HOME", "/y")));
        assertEquals(Path.of("/y", "lady"), ModelCache.userRoot(Map.of("XDG_CACHE_HOME", "/y")));
        assertEquals(Path.of(System.getProperty("user.home"), ".cache", "lady"), ModelCache.userRoot(Map.of()));
    }

    @Test
    void reportEscapesText() {
        assertEquals("a&lt;b&gt; &amp; &quot;c&quot; &#39;d&#39;", lady.util.Text.html("a<b> & \"c\" 'd'"));
    }
}
