package lady.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import javax.imageio.ImageIO;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import lady.checkpoint.Checkpoints;
import lady.checkpoint.StateDict;
import lady.paper.Paper;
import lady.progress.ProgressListener;
import lady.report.Json;

/**
 * The demo end to end on a tiny configuration (width 0.125, 512 images): every claim holds, every step wrote its
 * JSON, the report references files that exist, a second run takes the model from the cache, and the report
 * renders in a real browser when Chromium is installed.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DemoTest {

    private Path tmp;
    private DemoReport first;
    private DemoReport second;
    private final List<String> narrative = new ArrayList<>();

    static DemoConfig tiny() {
        return new DemoConfig(DemoConfig.ARCH, 0.125, 1, 0.02, 32, 512, 200, 3L, DemoConfig.WATERMARK_LAYER,
                Paper.UCHIDA_BITS, DemoConfig.EMBED_STEPS, DemoConfig.ATTACKED_LAYER, List.of(2.0), List.of(), 0, 200,
                List.of(8), List.of(95.0), List.of(8, 16));
    }

    @BeforeAll
    void runTwice(@TempDir Path dir) {
        tmp = dir;
        ModelCache cache = new ModelCache(tmp.resolve("cache"));
        first = Demo.run(tiny(), tmp.resolve("out1"), false, cache, ProgressListener.NONE, narrative::add);
        HtmlReport.write(tmp.resolve("out1"), first);
        second = Demo.run(tiny(), tmp.resolve("out2"), false, cache, ProgressListener.NONE, line -> {});
    }

    @Test
    void everyClaimHolds() {
        assertTrue(first.ok(), () -> "verdicts: " + first.verdicts() + "\n" + String.join("\n", narrative));
        assertEquals(List.of("train", "permute", "resync", "obfuscate", "table1", "ranking"),
                first.steps().stream().map(DemoReport.Step::id).toList());
        assertTrue(narrative.stream().anyMatch(l -> l.startsWith("3. ") && l.contains("restored bit for bit")),
                () -> String.join("\n", narrative));
    }

    @Test
    void restoredModelEqualsTheOwnersAndPermutedOneDoesNot() {
        StateDict model = Checkpoints.read(tmp.resolve("out1/model.pt"));
        assertTrue(model.sameTensors(Checkpoints.read(tmp.resolve("out1/restored.pt"))));
        assertFalse(model.sameTensors(Checkpoints.read(tmp.resolve("out1/permuted.pt"))));
    }

    @Test
    void everyStepWroteItsJsonAndEveryReferencedFileExists() throws IOException {
        Path out = tmp.resolve("out1");
        for (DemoReport.Step s : first.steps()) {
            assertTrue(Json.parse(Files.readString(out.resolve(s.id() + ".json"))) instanceof Map, s.id());
            for (String f : s.files()) {
                assertTrue(Files.isRegularFile(out.resolve(f)), f);
            }
            for (String img : s.images()) {
                assertTrue(ImageIO.read(out.resolve(img).toFile()).getWidth() > 0, img);
            }
        }
        String html = Files.readString(out.resolve(HtmlReport.FILE));
        assertTrue(html.contains("lady resync --reference model.pt --suspect permuted.pt"), "commands in the report");
        assertTrue(html.contains("table1/table1_quant.png") && html.contains("ranking/ranking_quant.png"));
    }

    @Test
    void secondRunTakesTheModelFromTheCacheAndTellsTheSameStory() throws IOException {
        Map<?, ?> train1 = (Map<?, ?>) Json.parse(Files.readString(tmp.resolve("out1/train.json")));
        Map<?, ?> train2 = (Map<?, ?>) Json.parse(Files.readString(tmp.resolve("out2/train.json")));
        assertEquals(false, train1.get("cached"));
        assertEquals(true, train2.get("cached"));
        assertEquals(train1.get("error_pct"), train2.get("error_pct"));
        assertTrue(second.ok());
        assertTrue(java.util.Arrays.equals(Files.readAllBytes(tmp.resolve("out1/model.pt")),
                Files.readAllBytes(tmp.resolve("out2/model.pt"))), "the cached model is the model");
        assertTrue(java.util.Arrays.equals(Files.readAllBytes(tmp.resolve("out1/permuted.pt")),
                Files.readAllBytes(tmp.resolve("out2/permuted.pt"))), "same seed, same permuted bytes");
    }

    /** The report in a real browser: the page loads, every image loads, no console message. */
    @Test
    void reportRendersInChromium() throws Exception {
        String browser = findBrowser();
        Assumptions.assumeTrue(browser != null,
                "skipped: no Chromium on PATH (install Debian's 'chromium' to check the report in a browser)");
        Path page = tmp.resolve("out1").resolve(HtmlReport.FILE).toAbsolutePath();
        Path stderr = tmp.resolve("chromium.err");
        Process p = new ProcessBuilder(browser, "--headless", "--no-sandbox", "--disable-gpu",
                "--user-data-dir=" + tmp.resolve("chromium-profile"), "--virtual-time-budget=5000",
                "--enable-logging=stderr", "--v=0", "--dump-dom", page.toUri().toString())
                .redirectError(stderr.toFile()).start();
        byte[] dom = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "chromium did not finish");
        String html = new String(dom, StandardCharsets.UTF_8);
        assertTrue(html.contains("data-images=\"ok\""), () -> "images did not all load: "
                + html.substring(0, Math.min(400, html.length())));
        int images = first.steps().stream().mapToInt(s -> s.images().size()).sum();
        assertTrue(html.contains("data-image-count=\"" + images + "\""), "image count " + images);
        List<String> console = Files.readAllLines(stderr).stream().filter(l -> l.contains(":CONSOLE")).toList();
        assertEquals(List.of(), console, "console messages");
    }

    static String findBrowser() {
        for (String name : List.of("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")) {
            for (String dir : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
                Path exe = Path.of(dir, name);
                if (Files.isExecutable(exe)) {
                    return exe.toString();
                }
            }
        }
        return null;
    }
}
