package lady;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

/**
 * Rules of the code base that a reader relies on (docs/architecture.md): the package import graph has no
 * cycle, every package says what it is (package-info.java), and no code comment or document points to a
 * file outside the repository.
 */
class ArchitectureRulesTest {
    private static final Path SOURCES = Path.of("java", "lady");
    private static final Pattern REFERENCE = Pattern.compile("\\blady\\.([a-z]+)\\.[A-Za-z]");

    /** Top-level package (lady.x) -> the top-level packages its code (not its comments) names. */
    static Map<String, Set<String>> imports() throws IOException {
        Map<String, Set<String>> deps = new TreeMap<>();
        try (Stream<Path> files = Files.walk(SOURCES)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                Path rel = SOURCES.relativize(f.getParent());
                if (rel.toString().isEmpty()) {
                    continue; // lady.LadyException, lady.BuildInfo: the root, imported by all
                }
                String pkg = rel.getName(0).toString();
                String code = Files.readString(f).replaceAll("(?s)/\\*.*?\\*/", "").replaceAll("//[^\\n]*", "");
                Matcher m = REFERENCE.matcher(code);
                Set<String> out = deps.computeIfAbsent(pkg, k -> new TreeSet<>());
                while (m.find()) {
                    String d = m.group(1);
                    if (!d.equals(pkg) && Files.isDirectory(SOURCES.resolve(d))) {
                        out.add(d);
                    }
                }
            }
        }
        return deps;
    }

    @Test
    void thePackageImportGraphHasNoCycle() throws IOException {
        Map<String, Set<String>> deps = imports();
        assertTrue(deps.size() > 10, "the sources were not found: " + deps.keySet());
        Map<String, Integer> state = new HashMap<>(); // 1 visiting, 2 done
        for (String p : deps.keySet()) {
            List<String> cycle = cycleFrom(p, deps, state, new ArrayDeque<>());
            assertEquals(List.of(), cycle, "package cycle: " + String.join(" -> ", cycle));
        }
    }

    private static List<String> cycleFrom(String p, Map<String, Set<String>> deps, Map<String, Integer> state,
            Deque<String> path) {
        Integer s = state.get(p);
        if (s != null && s == 2) {
            return List.of();
        }
        if (s != null && s == 1) {
            List<String> cycle = new ArrayList<>();
            boolean on = false;
            for (String q : path) {
                on |= q.equals(p);
                if (on) {
                    cycle.add(q);
                }
            }
            cycle.add(p);
            return cycle;
        }
        state.put(p, 1);
        path.addLast(p);
        for (String d : deps.getOrDefault(p, Set.of())) {
            List<String> c = cycleFrom(d, deps, state, path);
            if (!c.isEmpty()) {
                return c;
            }
        }
        path.removeLast();
        state.put(p, 2);
        return List.of();
    }

    @Test
    void everyPackageSaysWhatItIs() throws IOException {
        List<String> missing = new ArrayList<>();
        try (Stream<Path> dirs = Files.walk(SOURCES)) {
            for (Path d : dirs.filter(Files::isDirectory).toList()) {
                boolean hasJava;
                try (Stream<Path> l = Files.list(d)) {
                    hasJava = l.anyMatch(p -> p.toString().endsWith(".java"));
                }
                if (hasJava && !Files.exists(d.resolve("package-info.java"))) {
                    missing.add(d.toString());
                }
            }
        }
        assertEquals(List.of(), missing);
    }

    @Test
    void nothingPointsOutsideTheRepository() throws IOException {
        List<String> found = new ArrayList<>();
        List<Path> roots = List.of(Path.of("java"), Path.of("tests", "java"), Path.of("docs"), Path.of("bench"),
                Path.of("native"), Path.of("README.md"));
        for (Path root : roots) {
            if (!Files.exists(root)) {
                continue;
            }
            try (Stream<Path> files = Files.walk(root)) {
                for (Path f : files.filter(Files::isRegularFile)
                        .filter(p -> p.toString().matches(".*\\.(java|md|h|cpp|cu|sh|py|txt)$")).toList()) {
                    String text = Files.readString(f);
                    if (text.contains("shared" + "/docs")) {
                        found.add(f.toString());
                    }
                }
            }
        }
        assertEquals(List.of(), found, "these files point at documents outside the repository (use docs/)");
    }

    /**
     * Every parallel loop goes through lady.util.Parallel, which honours --threads: a bare parallel stream (or
     * parallelStream) runs on the JVM's common pool, two threads on two cores even under --threads 1 (issue 15's
     * "one core" check failed that way in the prefilter, the integrity norms and the structural check).
     */
    @Test
    void noParallelStreamOutsideParallel() throws IOException {
        List<String> found = new ArrayList<>();
        Path allowed = SOURCES.resolve(Path.of("util", "Parallel.java"));
        try (Stream<Path> files = Files.walk(SOURCES)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java") && !p.equals(allowed)).toList()) {
                String code = Files.readString(f).replaceAll("(?s)/\\*.*?\\*/", "").replaceAll("//[^\\n]*", "");
                if (code.contains(".parallel()") || code.contains(".parallelStream()") || code.contains("commonPool()")) {
                    found.add(f.toString());
                }
            }
        }
        assertEquals(List.of(), found, "parallel streams outside lady.util.Parallel (use Parallel.forEach)");
    }
}
