package lady.app;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import lady.report.Json;
import lady.resync.GroupResult;
import lady.resync.ResyncReport;
import lady.util.Text;

/**
 * The resync's report file in the format its name asks for: {@code .csv} (one row per group, the columns of the
 * command's table plus what tells a bound from an exact figure), {@code .md} (Markdown: the summary, then the
 * table), {@code .html} (the same as a page), anything else JSON (every field, the format tools read). Every
 * format carries the same figures; a margin that is a lower bound is marked {@code >=} in the table formats and
 * by its {@code *_exact} / {@code margin_bounds} fields in CSV and JSON.
 */
public final class ResyncReportFile {
    private ResyncReportFile() {}

    /** What a report file holds. */
    public enum Format {
        JSON, CSV, MARKDOWN, HTML;

        /** The format named by {@code file}'s extension (case-insensitive); JSON for any other. */
        public static Format of(Path file) {
            String name = file.getFileName() == null ? "" : file.getFileName().toString().toLowerCase(Locale.ROOT);
            if (name.endsWith(".csv")) {
                return CSV;
            }
            if (name.endsWith(".md") || name.endsWith(".markdown")) {
                return MARKDOWN;
            }
            if (name.endsWith(".html") || name.endsWith(".htm")) {
                return HTML;
            }
            return JSON;
        }
    }

    /** The columns of the group table (the command's own, in the same order). */
    public static final List<String> COLUMNS = List.of("group", "size", "psi", "dup", "min_margin", "med_margin", "low",
            "zero", "flags", "max_ratio");

    /** One group's cells of the table, as the command prints them. */
    public static List<String> cells(GroupResult g) {
        return List.of(g.name(), Long.toString(g.size()), g.psi() == null ? "-" : String.format(Locale.ROOT, "%.2f", g.psi()),
                Integer.toString(g.duplicates()), g.unrelated() ? UNRELATED_CELL : margin(g.minMargin(), !g.minMarginExact()),
                g.unrelated() ? UNRELATED_CELL : margin(g.medianMargin(), g.marginBounds() > 0),
                g.unrelated() ? "-" : Integer.toString(g.lowMargin()), Integer.toString(g.zeroRows()),
                g.unrelated() ? "-" : Integer.toString(g.integrityFlags().size()),
                Double.isNaN(g.integrityMaxRatio()) ? "-" : String.format(Locale.ROOT, "%.3f", g.integrityMaxRatio()));
    }

    /** The margin cells of a group that showed no relation to the reference (not matched: no margin). */
    public static final String UNRELATED_CELL = "unrelated";

    /** A margin of the table, {@code >=} before it when it is a lower bound. */
    public static String margin(double v, boolean bound) {
        return (bound ? ">=" : "") + String.format(Locale.ROOT, "%.4f", v);
    }

    /** What the summary says of the groups that showed no relation. */
    public static final String UNRELATED_NOTE = "showed no relation to the reference (\"unrelated\": on the verdict's "
            + "sample of neurons, no exact similarity stood out of its row where the prefilter's estimates pointed): "
            + "not matched, kept in the suspect's order; --prefilter off computes their exact assignment anyway";

    /** The summary lines under the table: method, groups, time and Psi; the margins' kind when bounds are shown; the verdict. */
    public static List<String> summary(ResyncReport r) {
        List<String> lines = new ArrayList<>();
        Double psi = r.psi();
        lines.add(String.format(Locale.ROOT, "method %s, %d groups, %.2f s%s", r.method().name().toLowerCase(Locale.ROOT),
                r.groups().size(), r.seconds(), psi == null ? "" : String.format(Locale.ROOT, ", Psi (neuron-weighted) %.2f %%", psi)));
        if (r.margins().boundGroups() > 0) {
            lines.add("margins: " + r.margins().label() + " (\">=\": a lower bound)");
        }
        long unrelated = r.groups().stream().filter(lady.resync.GroupResult::unrelated).count();
        if (unrelated > 0) {
            lines.add(unrelated + " group(s) " + UNRELATED_NOTE);
        }
        lines.add(r.verdict().summary());
        return lines;
    }

    /**
     * The report in {@code format}: {@code json} is the whole JSON report (what {@link ResyncJob} builds), {@code
     * report} its figures.
     */
    public static String render(Format format, Map<String, Object> json, ResyncReport report) {
        return switch (format) {
            case JSON -> Json.write(json) + "\n";
            case CSV -> csv(report);
            case MARKDOWN -> markdown(json, report);
            case HTML -> html(json, report);
        };
    }

    private static String csv(ResyncReport r) {
        StringBuilder b = new StringBuilder();
        b.append("group,size,psi,duplicates,min_margin,min_margin_exact,median_margin,margin_bounds,low_margin,"
                + "zero_rows,integrity_flags,integrity_max_ratio,prefiltered,passes,unrelated\n");
        for (GroupResult g : r.groups()) {
            b.append(csvField(g.name())).append(',').append(g.size()).append(',')
                    .append(g.psi() == null ? "" : number(g.psi())).append(',').append(g.duplicates()).append(',')
                    .append(number(g.minMargin())).append(',').append(g.minMarginExact()).append(',')
                    .append(number(g.medianMargin())).append(',').append(g.marginBounds()).append(',')
                    .append(g.unrelated() ? "" : Integer.toString(g.lowMargin())).append(',').append(g.zeroRows())
                    .append(',').append(g.unrelated() ? "" : Integer.toString(g.integrityFlags().size())).append(',')
                    .append(number(g.integrityMaxRatio())).append(',')
                    .append(g.prefiltered()).append(',').append(g.passes()).append(',').append(g.unrelated())
                    .append('\n');
        }
        return b.toString();
    }

    private static String number(double v) {
        return Double.isNaN(v) ? "" : Double.toString(v);
    }

    /** A CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180). */
    private static String csvField(String s) {
        if (s.indexOf(',') < 0 && s.indexOf('"') < 0 && s.indexOf('\n') < 0 && s.indexOf('\r') < 0) {
            return s;
        }
        return '"' + s.replace("\"", "\"\"") + '"';
    }

    /** The header facts of the page: what was compared, with what, how long it took. */
    private static List<String[]> facts(Map<String, Object> json) {
        List<String[]> facts = new ArrayList<>();
        for (String k : List.of("reference", "suspect", "architecture", "signal", "evidence", "backend", "tool")) {
            if (json.get(k) != null) {
                facts.add(new String[] {k, String.valueOf(json.get(k))});
            }
        }
        // what the comparison read otherwise than plainly (the notes of the text output)
        for (String k : List.of("suspect_config", "vocabulary", "left_out_of_comparison", "taken_as_they_are")) {
            if (json.get(k) != null) {
                facts.add(new String[] {k, fact(json.get(k), false)});
            }
        }
        if (json.get("timings") != null) {
            facts.add(new String[] {"timings", fact(json.get("timings"), true)});
        }
        return facts;
    }

    /** A fact's value in a line: a map as "key value, ...", a list comma-separated ({@code round}: numbers to 0.01). */
    private static String fact(Object v, boolean round) {
        if (v instanceof Map<?, ?> m) {
            StringBuilder s = new StringBuilder();
            m.forEach((k, x) -> s.append(s.length() == 0 ? "" : ", ").append(k).append(' ').append(fact(x, round)));
            return s.toString();
        }
        if (v instanceof List<?> l) {
            return String.join(", ", l.stream().map(x -> fact(x, round)).toList());
        }
        return v instanceof Number n && round ? String.format(Locale.ROOT, "%.2f", n.doubleValue()) : String.valueOf(v);
    }

    private static String markdown(Map<String, Object> json, ResyncReport r) {
        StringBuilder b = new StringBuilder("# Lady resync report\n\n");
        for (String[] f : facts(json)) {
            b.append("- **").append(f[0]).append("**: ").append(mdCell(f[1])).append('\n');
        }
        b.append('\n');
        for (String line : summary(r)) {
            b.append(mdCell(line)).append("  \n");
        }
        b.append("\n|");
        COLUMNS.forEach(c -> b.append(' ').append(c).append(" |"));
        b.append("\n|");
        for (int i = 0; i < COLUMNS.size(); i++) {
            b.append(i == 0 ? ":---|" : "---:|");
        }
        b.append('\n');
        for (GroupResult g : r.groups()) {
            b.append('|');
            cells(g).forEach(c -> b.append(' ').append(mdCell(c)).append(" |"));
            b.append('\n');
        }
        return b.toString();
    }

    /** Text in a Markdown table or line: pipes, markup characters and line breaks neutralized. */
    private static String mdCell(String s) {
        return Text.escape(s).replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*").replace("_", "\\_")
                .replace("<", "&lt;").replace("`", "\\`");
    }

    private static String html(Map<String, Object> json, ResyncReport r) {
        StringBuilder b = new StringBuilder("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                + "<title>Lady resync report</title><style>body{font-family:system-ui,sans-serif;max-width:1100px;"
                + "margin:2em auto;padding:0 1em;color:#1d232a}table{border-collapse:collapse}td,th{border:1px solid "
                + "#d0d7de;padding:.25em .6em;text-align:right}th{background:#f6f8fa}td:first-child,th:first-child"
                + "{text-align:left}dt{font-weight:600}dd{margin:0 0 .4em 1em;word-break:break-all}</style></head><body>\n"
                + "<h1>Lady resync report</h1>\n<dl>\n");
        for (String[] f : facts(json)) {
            b.append("<dt>").append(Text.html(f[0])).append("</dt><dd>").append(Text.html(Text.escape(f[1])))
                    .append("</dd>\n");
        }
        b.append("</dl>\n");
        for (String line : summary(r)) {
            b.append("<p>").append(Text.html(Text.escape(line))).append("</p>\n");
        }
        b.append("<table>\n<tr>");
        COLUMNS.forEach(c -> b.append("<th>").append(c).append("</th>"));
        b.append("</tr>\n");
        for (GroupResult g : r.groups()) {
            b.append("<tr>");
            cells(g).forEach(c -> b.append("<td>").append(Text.html(Text.escape(c))).append("</td>"));
            b.append("</tr>\n");
        }
        b.append("</table>\n</body></html>\n");
        return b.toString();
    }
}
