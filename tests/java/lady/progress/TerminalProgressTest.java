package lady.progress;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;

class TerminalProgressTest {
    @Test
    void durations() {
        assertEquals("0:00", TerminalProgress.formatDuration(0));
        assertEquals("0:05", TerminalProgress.formatDuration(5.2));
        assertEquals("1:05", TerminalProgress.formatDuration(65));
        assertEquals("59:59", TerminalProgress.formatDuration(3599));
        assertEquals("1:02:05", TerminalProgress.formatDuration(3725));
        assertEquals("--:--", TerminalProgress.formatDuration(Double.NaN));
        assertEquals("--:--", TerminalProgress.formatDuration(Double.POSITIVE_INFINITY));
    }

    @Test
    void rates() {
        assertEquals("312 img/s", TerminalProgress.formatRate(312.4, "img"));
        assertEquals("12.3 img/s", TerminalProgress.formatRate(12.345, "img"));
        assertEquals("0.50 batch/s", TerminalProgress.formatRate(0.5, "batch"));
        assertEquals("12.3k img/s", TerminalProgress.formatRate(12345, "img"));
        assertEquals("4.57M /s".replace(" /s", "/s"), TerminalProgress.formatRate(4.567e6, ""));
        assertEquals("- img/s", TerminalProgress.formatRate(Double.NaN, "img"));
    }

    @Test
    void values() {
        assertEquals("0.5321", TerminalProgress.formatValue(0.532149));
        assertEquals("12.35", TerminalProgress.formatValue(12.3456f));
        assertEquals("1.235e+05", TerminalProgress.formatValue(123456.0));
        assertEquals("7", TerminalProgress.formatValue(7));
        assertEquals("features.17", TerminalProgress.formatValue("features.17"));
    }

    @Test
    void lineShowsBarCountRateEtaAndMetrics() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("loss", 0.5);
        m.put("acc", 0.9125);
        String line = TerminalProgress.line("train", 50, 100, "img", 10, m);
        assertEquals("train [############------------]  50/100 img  5.00 img/s  ETA 0:10  loss=0.5  acc=0.9125", line);
        assertEquals("scan  7 files  0.70 files/s  0:10", TerminalProgress.line("scan", 7, 0, "files", 10, Map.of()));
        assertTrue(TerminalProgress.line("t", 100, 100, "img", 65, Map.of()).endsWith("in 1:05"));
        assertEquals("[----]", TerminalProgress.bar(-1, 4));
        assertEquals("[####]", TerminalProgress.bar(2, 4));
    }

    @Test
    void notATerminalPrintsALineEveryFewSecondsAndAtTheEnd() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        AtomicLong now = new AtomicLong();
        TerminalProgress p = new TerminalProgress(new PrintStream(bytes, true, StandardCharsets.UTF_8), false, now::get);
        p.start("epoch", 100, "img");
        now.set(1_000_000_000L);
        p.advance(10, Map.of("loss", 2.0));
        assertEquals("", bytes.toString(StandardCharsets.UTF_8), "nothing before the interval");
        now.set(6_000_000_000L);
        p.advance(20, Map.of("loss", 1.5));
        now.set(7_000_000_000L);
        p.advance(70);
        p.finish();
        String[] lines = bytes.toString(StandardCharsets.UTF_8).split("\n");
        assertEquals(2, lines.length, bytes.toString(StandardCharsets.UTF_8));
        assertEquals("epoch [#######-----------------]  30/100 img  5.00 img/s  ETA 0:14  loss=1.5", lines[0]);
        assertEquals("epoch [########################]  100/100 img  14.3 img/s  in 0:07  loss=1.5", lines[1]);
        assertFalse(bytes.toString(StandardCharsets.UTF_8).contains("\r"));
    }

    @Test
    void terminalRedrawsInPlace() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        AtomicLong now = new AtomicLong();
        TerminalProgress p = new TerminalProgress(new PrintStream(bytes, true, StandardCharsets.UTF_8), true, now::get);
        p.start("resync", 4, "groups");
        now.set(500_000_000L);
        p.advance(1, Map.of("group", "features.0"));
        now.set(550_000_000L);
        p.advance(1); // within 0.1 s of the last draw: not redrawn
        now.set(1_000_000_000L);
        p.advance(2);
        p.finish();
        String s = bytes.toString(StandardCharsets.UTF_8);
        assertEquals(4, s.chars().filter(c -> c == '\r').count(), s);
        assertTrue(s.endsWith("4/4 groups  4.00 groups/s  in 0:01  group=features.0\n"), s);
        ProgressListener.NONE.start("x", 1, "y");
        ProgressListener.NONE.advance(1);
        ProgressListener.NONE.finish();
    }
}
