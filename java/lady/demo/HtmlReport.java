package lady.demo;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import lady.BuildInfo;
import lady.io.AtomicFiles;
import lady.util.Text;

/**
 * {@code report.html}: a self-contained page (inline style, no external resource, no script library) with
 * the demo's steps, their figures, tables and plots (PNG files beside the page), and the CLI commands that
 * reproduce each step. A small inline script marks the body with {@code data-images="ok"} once every image
 * has loaded ({@code "broken"} otherwise), which the browser test reads.
 */
public final class HtmlReport {
    private HtmlReport() {}

    /** The page's file name in the output folder. */
    public static final String FILE = "report.html";

    private static final String STYLE = """
            body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:960px;margin:2em auto;\
            padding:0 1em;color:#1d232a;line-height:1.5}
            h1{font-size:1.7em;margin-bottom:.2em}h2{margin-top:2em;border-bottom:1px solid #d0d7de;padding-bottom:.2em}
            .sub{color:#57606a}.verdicts li.ok::marker{content:'\\2714  ';color:#1a7f37}
            .verdicts li.fail::marker{content:'\\2718  ';color:#cf222e}
            .numbers{display:flex;flex-wrap:wrap;gap:.8em;margin:1em 0}
            .num{border:1px solid #d0d7de;border-radius:6px;padding:.5em .9em;min-width:9em}
            .num b{display:block;font-size:1.3em}.num span{color:#57606a;font-size:.85em}
            pre{white-space:pre-wrap;word-break:break-all;background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;padding:.7em;overflow-x:auto;font-size:.85em}
            table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #d0d7de;padding:.3em .7em;text-align:right}
            th{background:#f6f8fa}td:first-child,th:first-child{text-align:left}
            img{max-width:100%;border:1px solid #d0d7de;border-radius:6px;margin:.5em 0}
            .files{font-size:.9em;color:#57606a}
            """;

    private static final String SCRIPT = """
            window.addEventListener('load',function(){var imgs=document.images,ok=true;\
            for(var i=0;i<imgs.length;i++){if(!imgs[i].complete||imgs[i].naturalWidth===0){ok=false;}}\
            document.body.setAttribute('data-images',ok?'ok':'broken');\
            document.body.setAttribute('data-image-count',String(imgs.length));});
            """;

    /** Writes {@code report.html} into {@code dir} (atomically) and returns its path. */
    public static Path write(Path dir, DemoReport report) {
        Path file = dir.resolve(FILE);
        AtomicFiles.writeString(file, render(report));
        return file;
    }

    static String render(DemoReport r) {
        StringBuilder h = new StringBuilder(16_384);
        h.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
                .append("<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">")
                .append("<title>Lady demo: find the lady</title><style>").append(STYLE).append("</style></head>\n<body>\n");
        h.append("<h1>Find the Lady: permutation and re-synchronization</h1>\n<p class=\"sub\">")
                .append(Text.html(BuildInfo.describe())).append(String.format(Locale.ROOT,
                        " &middot; %.1f s on %d threads &middot; ", r.seconds(), r.threads()))
                .append("<a href=\"demo.json\">demo.json</a></p>\n");
        h.append("<p>A white-box watermark is read from a layer's weights in a fixed order. Permuting the neurons of a "
                + "network changes that order without changing what the network computes: the watermark is erased "
                + "and the model works as before. Lady finds the permutation and undoes it.</p>\n");
        h.append("<ul class=\"verdicts\">\n");
        for (Map.Entry<String, Boolean> v : r.verdicts().entrySet()) {
            h.append("<li class=\"").append(v.getValue() ? "ok" : "fail").append("\">").append(Text.html(v.getKey()))
                    .append(v.getValue() ? "" : ": <b>no</b>").append("</li>\n");
        }
        h.append("</ul>\n");
        for (DemoReport.Step s : r.steps()) {
            h.append("<section id=\"").append(Text.html(s.id())).append("\">\n<h2>").append(Text.html(s.title())).append("</h2>\n");
            h.append("<p>").append(Text.html(s.story())).append("</p>\n<div class=\"numbers\">\n");
            for (Map.Entry<String, String> n : s.numbers().entrySet()) {
                h.append("<div class=\"num\"><b>").append(Text.html(n.getValue())).append("</b><span>")
                        .append(Text.html(n.getKey())).append("</span></div>\n");
            }
            h.append("</div>\n");
            if (!s.table().isEmpty()) {
                h.append("<table>\n");
                List<List<String>> t = s.table();
                for (int i = 0; i < t.size(); i++) {
                    h.append("<tr>");
                    for (String cell : t.get(i)) {
                        String tag = i == 0 ? "th" : "td";
                        h.append('<').append(tag).append('>').append(Text.html(cell)).append("</").append(tag).append('>');
                    }
                    h.append("</tr>\n");
                }
                h.append("</table>\n");
            }
            for (String img : s.images()) {
                h.append("<img src=\"").append(Text.html(img)).append("\" alt=\"").append(Text.html(img)).append("\">\n");
            }
            h.append("<p>Reproduce with the CLI:</p>\n<pre>");
            for (String cmd : s.commands()) {
                h.append(Text.html(cmd)).append('\n');
            }
            h.append("</pre>\n<p class=\"files\">Files: <a href=\"").append(Text.html(s.id())).append(".json\">")
                    .append(Text.html(s.id())).append(".json</a>");
            for (String f : s.files()) {
                if (!f.equals(s.id() + ".json")) {
                    h.append(", <a href=\"").append(Text.html(f)).append("\">").append(Text.html(f)).append("</a>");
                }
            }
            h.append(String.format(Locale.ROOT, " &middot; %.1f s</p>\n</section>\n", s.seconds()));
        }
        h.append("<script>").append(SCRIPT).append("</script>\n</body></html>\n");
        return h.toString();
    }
}
