package lady.checkpoint;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import lady.LadyException;

/**
 * The module classes of a TorchScript archive ({@code torch.jit.save} of a scripted or traced model) and which of
 * their attributes are parameters and buffers, read from the archive's code ({@code code/__torch__/...py}, which
 * declares each class as {@code class Linear(Module):} followed by {@code __parameters__ = ["weight", "bias", ]}
 * and {@code __buffers__ = [...]}). Only those two declarations are read; the code is never run. A class's qualified
 * name is its file's path under {@code code/} with dots ({@code __torch__.torch.nn.modules.linear.Linear},
 * {@code __torch__.M} for {@code code/__torch__.py}), as the archive's {@code data.pkl} names it.
 */
final class ScriptClasses {
    /** What a module class declares: its parameters' and its buffers' names, in their order. */
    record Roles(List<String> parameters, List<String> buffers) {}

    /** Bytes of code read at most (all files together): real archives hold a few megabytes. */
    static final long MAX_CODE_BYTES = 64L << 20;

    private static final Pattern CLASS = Pattern.compile("^class ([A-Za-z_][A-Za-z0-9_]*)\\(Module\\):\\s*$");
    private static final Pattern ROLE = Pattern.compile("^\\s+(__parameters__|__buffers__) = \\[(.*)\\]\\s*$");
    private static final Pattern NAME = Pattern.compile("\"([^\"\\\\]*)\"");

    private final Map<String, Roles> classes;

    private ScriptClasses(Map<String, Roles> classes) {
        this.classes = classes;
    }

    /** The module class named {@code qualifiedName}, or null when the archive's code declares none by that name. */
    Roles get(String qualifiedName) {
        return classes.get(qualifiedName);
    }

    /** Whether {@code zip}'s folder {@code prefix} holds TorchScript code. */
    static boolean isScript(ZipArchive zip, String prefix) {
        return zip.entries().containsKey(prefix + "constants.pkl")
                || zip.entries().keySet().stream().anyMatch(n -> n.startsWith(prefix + "code/"));
    }

    /** Reads the module classes declared under {@code prefix + "code/"}. */
    static ScriptClasses read(ZipArchive zip, String prefix) throws IOException {
        String root = prefix + "code/";
        Map<String, Roles> found = new HashMap<>();
        long left = MAX_CODE_BYTES;
        for (ZipArchive.Entry e : zip.entries().values()) {
            String name = e.name();
            if (!name.startsWith(root) || !name.endsWith(".py")) {
                continue;
            }
            if (e.size() > left) {
                throw zip.bad("its TorchScript code is larger than " + (MAX_CODE_BYTES >> 20) + " MB");
            }
            left -= e.size();
            String module = name.substring(root.length(), name.length() - ".py".length()).replace('/', '.');
            parse(module, new String(zip.readSmall(e, e.size()), StandardCharsets.UTF_8), found);
        }
        return new ScriptClasses(found);
    }

    /** The module classes of one code file, {@code module} its dotted path. */
    static void parse(String module, String code, Map<String, Roles> into) {
        String current = null;
        List<String> parameters = null;
        List<String> buffers = null;
        for (String line : code.split("\n", -1)) {
            if (!line.isEmpty() && !Character.isWhitespace(line.charAt(0))) { // a new top-level statement
                if (current != null) {
                    into.put(current, new Roles(List.copyOf(parameters), List.copyOf(buffers)));
                    current = null;
                }
                Matcher c = CLASS.matcher(line);
                if (c.matches()) {
                    current = module + "." + c.group(1);
                    parameters = new ArrayList<>();
                    buffers = new ArrayList<>();
                }
                continue;
            }
            Matcher r = current == null ? null : ROLE.matcher(line);
            if (r != null && r.matches()) {
                List<String> to = r.group(1).equals("__parameters__") ? parameters : buffers;
                Matcher n = NAME.matcher(r.group(2));
                while (n.find()) {
                    to.add(n.group(1));
                }
            }
        }
        if (current != null) {
            into.put(current, new Roles(List.copyOf(parameters), List.copyOf(buffers)));
        }
    }

    /** Refusal of an archive whose root object is no module its code declares. */
    static LadyException noModule(String file, String what) {
        return LadyException.invalidInput(file + " is a TorchScript archive whose data.pkl holds " + what
                + ", not a module its code declares; save the weights with torch.save(model.state_dict(), path)");
    }
}
