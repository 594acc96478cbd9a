package lady.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.junit.jupiter.api.Test;

import lady.report.Json;

/** {@code lady bench}: the JSON report's structure; every entry has its baseline and a ratio. Not a timing test. */
class BenchCommandTest {

    @Test
    void smallRunReportsEveryEntryWithABaselineAndARatio() {
        CliRun r = CliRun.of("bench", "all", "--size", "small", "--format", "json", "--quiet");
        assertEquals(0, r.code(), r.err());
        Map<?, ?> report = assertInstanceOf(Map.class, Json.parse(r.out().trim()));
        assertEquals("all", report.get("suite"));
        assertEquals("small", report.get("size"));
        Map<?, ?> machine = assertInstanceOf(Map.class, report.get("machine"));
        for (String key : List.of("cpu", "cores", "date", "lady", "java", "libtorch", "load_average_start",
                "load_average_end")) {
            assertTrue(machine.containsKey(key), "machine." + key + " missing: " + machine);
        }
        List<?> entries = assertInstanceOf(List.class, report.get("entries"));
        Set<String> prefixes = new HashSet<>();
        for (Object o : entries) {
            Map<?, ?> e = assertInstanceOf(Map.class, o);
            String name = (String) e.get("name");
            prefixes.add(name.substring(0, name.indexOf('.')));
            assertPositive(e, "seconds", name);
            Map<?, ?> base = assertInstanceOf(Map.class, e.get("baseline"), name + ": no baseline");
            assertFalse(((String) base.get("what")).isBlank(), name + ": baseline not described");
            assertPositive(base, "seconds", name + " baseline");
            double ratio = ((Number) e.get("ratio")).doubleValue();
            assertEquals(((Number) base.get("seconds")).doubleValue() / ((Number) e.get("seconds")).doubleValue(), ratio,
                    1e-9 * ratio, name + ": ratio is not baseline / Lady");
            assertInstanceOf(Map.class, e.get("details"), name);
        }
        assertEquals(Set.of("permute", "similarity", "resync", "assign", "train", "read", "write"), prefixes);
        for (Object o : entries) {
            Map<?, ?> e = (Map<?, ?>) o;
            Map<?, ?> d = (Map<?, ?>) e.get("details");
            String name = (String) e.get("name");
            if (name.startsWith("resync.")) {
                assertEquals(100.0, ((Number) d.get("psi")).doubleValue(), name);
                assertEquals(true, d.get("same_matches_as_dense"), name);
                assertEquals(true, d.get("restored_exactly"), name);
            }
            if (name.startsWith("permute.")) {
                assertEquals(true, d.get("same_result"), name + ": Lady and index_select disagree");
            }
            if (name.startsWith("assign.")) {
                assertEquals(true, d.get("assignment_is_permutation"), name);
            }
            if (name.startsWith("read.") || name.startsWith("write.")) {
                assertEquals(true, d.get("same_tensors"), name + ": the file does not hold the tensors");
            }
        }
    }

    @Test
    void unknownSuiteIsAUsageError() {
        CliRun r = CliRun.of("bench", "nothing", "--size", "small");
        assertEquals(2, r.code(), r.out());
        assertTrue(r.err().contains("nothing"), r.err());
    }

    private static void assertPositive(Map<?, ?> m, String key, String what) {
        Object v = m.get(key);
        assertTrue(v instanceof Number n && n.doubleValue() > 0, what + ": " + key + " = " + v);
    }
}
