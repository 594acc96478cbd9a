package lady.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.app.ResyncReportFile;
import lady.report.Json;
import lady.torch.Torch;

/** {@code lady resync --report FILE}: JSON, or by the extension CSV, Markdown or HTML with the same figures. */
class ResyncReportFormatsTest {

    @BeforeAll
    static void init() {
        Torch.init();
    }

    @Test
    @SuppressWarnings("unchecked")
    void theExtensionChoosesTheFormatAndEveryFormatCarriesTheSameGroups(@TempDir Path dir) throws IOException {
        assertEquals(ResyncReportFile.Format.CSV, ResyncReportFile.Format.of(Path.of("a/R.CSV")));
        assertEquals(ResyncReportFile.Format.MARKDOWN, ResyncReportFile.Format.of(Path.of("r.md")));
        assertEquals(ResyncReportFile.Format.HTML, ResyncReportFile.Format.of(Path.of("r.htm")));
        assertEquals(ResyncReportFile.Format.JSON, ResyncReportFile.Format.of(Path.of("r.txt")));

        Path[] pair = ResyncMarginsCliTest.permutedToynet(dir);
        Path model = pair[0];
        Path permuted = pair[1];
        Path secret = pair[2];
        for (String ext : List.of("json", "csv", "md", "html")) {
            Path report = dir.resolve("r." + ext);
            CliRun r = CliRun.of("resync", "--reference", model.toString(), "--suspect", permuted.toString(), "--secret",
                    secret.toString(), "--report", report.toString(), "--quiet");
            assertEquals(0, r.code(), r.err());
        }
        Map<?, ?> json = (Map<?, ?>) Json.parse(Files.readString(dir.resolve("r.json")));
        CliRun stdout = CliRun.of("resync", "--reference", model.toString(), "--suspect", permuted.toString(), "--secret",
                secret.toString(), "--format", "json", "--quiet");
        assertEquals(0, stdout.code(), stdout.err());
        Map<String, Object> printed = new java.util.HashMap<>((Map<String, Object>) Json.parse(stdout.out()));
        Map<String, Object> written = new java.util.HashMap<>((Map<String, Object>) json);
        for (String timed : List.of("timings", "seconds", "cpu_seconds")) {
            assertTrue(printed.remove(timed) != null && written.remove(timed) != null, timed);
        }
        assertTrue(((Map<?, ?>) printed.get("structural")).remove("seconds") != null
                && ((Map<?, ?>) written.get("structural")).remove("seconds") != null, "the undo's own timing");
        assertEquals(written, printed, "--format json prints the JSON report");
        List<?> groups = (List<?>) json.get("groups");

        Path again = dir.resolve("again.pt");
        CliRun permute = CliRun.of("permute", "--model", model.toString(), "--seed", "4", "--out", again.toString(),
                "--secret", dir.resolve("again.json").toString(), "--format", "json", "--quiet");
        assertEquals(0, permute.code(), permute.err());
        Map<?, ?> p = (Map<?, ?>) Json.parse(permute.out());
        assertEquals(4L, ((Number) p.get("seed")).longValue());
        assertEquals((long) groups.size(), ((Number) p.get("groups_permuted")).longValue(), permute.out());
        assertEquals(-1, Files.mismatch(permuted, again), "the same seed, the same bytes");
        assertTrue(groups.size() >= 2, "toynet has groups");

        List<String> csv = Files.readAllLines(dir.resolve("r.csv"));
        assertEquals(groups.size() + 1, csv.size(), "a header and one row per group");
        int columns = csv.get(0).split(",").length;
        for (int g = 0; g < groups.size(); g++) {
            String[] cells = csv.get(g + 1).split(",");
            assertEquals(columns, cells.length, csv.get(g + 1));
            Map<?, ?> jg = (Map<?, ?>) groups.get(g);
            assertEquals(jg.get("name"), cells[0]);
            assertEquals(((Number) jg.get("min_margin")).doubleValue(), Double.parseDouble(cells[4]), 0.0);
            assertEquals(100.0, Double.parseDouble(cells[2]), 0.0, "Psi with the secret");
        }

        String md = Files.readString(dir.resolve("r.md"));
        assertTrue(md.startsWith("# Lady resync report"), md);
        assertTrue(md.contains("Psi (neuron-weighted) 100.00 %") && md.contains("verdict: "), md);
        assertEquals(groups.size() + 2, md.lines().filter(l -> l.startsWith("|")).count(), "header, rule, one row per group");

        String html = Files.readString(dir.resolve("r.html"));
        assertTrue(html.startsWith("<!DOCTYPE html>") && html.trim().endsWith("</html>"), html);
        assertEquals(groups.size() + 1, html.split("<tr>", -1).length - 1, "header row and one row per group");
        for (Object g : groups) {
            assertTrue(html.contains("<td>" + ((Map<?, ?>) g).get("name") + "</td>"), html);
        }
    }

    /** A resync of some groups names the groups outside the selection that order their evidence (taken as they are). */
    @Test
    void groupsOutsideTheSelectionThatOrderItsEvidenceAreNamed(@TempDir Path dir) throws IOException {
        Path[] pair = ResyncMarginsCliTest.permutedToynet(dir);
        Path report = dir.resolve("r.json");
        CliRun some = CliRun.of("resync", "--reference", pair[0].toString(), "--suspect", pair[1].toString(), "--groups",
                "conv2", "--report", report.toString(), "--quiet");
        assertEquals(0, some.code(), some.err());
        assertEquals(List.of("conv1", "fc1"), ((Map<?, ?>) Json.parse(Files.readString(report))).get("taken_as_they_are"));
        assertTrue(some.out().contains("taken in the suspect's order as they are") && some.out().contains("conv1, fc1"),
                some.out());
        CliRun all = CliRun.of("resync", "--reference", pair[0].toString(), "--suspect", pair[1].toString(), "--report",
                report.toString(), "--quiet");
        assertEquals(0, all.code(), all.err());
        assertEquals(null, ((Map<?, ?>) Json.parse(Files.readString(report))).get("taken_as_they_are"));
        assertTrue(!all.out().contains("taken in the suspect's order"), all.out());
    }
}
