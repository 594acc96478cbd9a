package lady.permutation;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import lady.LadyException;
import lady.io.AtomicFiles;
import lady.report.Json;

/**
 * A permutation spec as a JSON file: what {@code lady spec} prints for a recognized network and what
 * {@code --spec} reads for any other. The format:
 * <pre>{@code
 * {"format": "lady-spec", "format_version": 1, "architecture": "my_net",
 *  "groups": [
 *    {"name": "conv1", "size": 64, "members": [
 *       {"tensor": "conv1.weight", "axis": 0, "offset": 0, "length": 64, "block": 1, "role": "producer_weight"},
 *       {"tensor": "conv1.bias",   "axis": 0, "offset": 0, "length": 64, "block": 1, "role": "producer_bias"},
 *       {"tensor": "fc.weight",    "axis": 1, "offset": 0, "length": 3136, "block": 49, "role": "consumer_weight"}]}],
 *  "fixed": ["conv1.weight[1]", "fc.weight[0]", "fc.bias"],
 *  "notes": []}
 * }</pre>
 * A group is {@code size} neurons; each member is a range of one axis of one tensor:
 * {@code [offset, offset + length)} with {@code length = size * block}, neuron j owning
 * {@code [offset + j*block, offset + (j+1)*block)}. Roles: producer_weight (rows resync compares;
 * every group needs one), producer_bias, norm_weight, norm_bias, running_mean, running_var,
 * channel_weight, channel_bias (depthwise filters), parameter (e.g. a class token), consumer_weight
 * (columns). Groups are listed in topological order (a group's producers read earlier groups).
 * {@code fixed} lists tensors ({@code name}) or axes ({@code name[axis]}) nothing moves; every tensor of
 * the model must be in a group or fixed ({@link SpecValidator}). Optional fields: offset (0), block (1),
 * length (size * block), notes.
 */
public final class SpecFile {
    private SpecFile() {}

    /** The "format" of a spec file. */
    public static final String FORMAT = "lady-spec";
    /** The version this Lady writes and reads. */
    public static final int FORMAT_VERSION = 1;

    /** The spec as the JSON object of a spec file. */
    public static Map<String, Object> toJson(PermutationSpec spec) {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("format", FORMAT);
        json.put("format_version", FORMAT_VERSION);
        json.put("architecture", spec.architecture());
        List<Object> groups = new ArrayList<>();
        for (Group g : spec.groups()) {
            Map<String, Object> gj = new LinkedHashMap<>();
            gj.put("name", g.name());
            gj.put("size", g.size());
            List<Object> members = new ArrayList<>();
            for (Member m : g.members()) {
                Map<String, Object> mj = new LinkedHashMap<>();
                mj.put("tensor", m.tensor());
                mj.put("axis", (long) m.axis());
                mj.put("offset", m.offset());
                mj.put("length", m.length(g.size()));
                mj.put("block", m.block());
                mj.put("role", m.role().key());
                members.add(mj);
            }
            gj.put("members", members);
            groups.add(gj);
        }
        json.put("groups", groups);
        json.put("fixed", new ArrayList<>(spec.fixed()));
        json.put("notes", new ArrayList<>(spec.notes()));
        return json;
    }

    /** Writes {@code spec} to {@code path}, atomically. */
    public static void write(Path path, PermutationSpec spec) {
        AtomicFiles.writeString(path, Json.write(toJson(spec)) + "\n");
    }

    /** Reads a spec file (not yet validated against a model: {@link SpecValidator#validate}). */
    public static PermutationSpec read(Path path) {
        Map<?, ?> m = Json.readVersionedFile(path, "spec file", FORMAT, FORMAT_VERSION);
        String what = path.toString();
        String arch = m.get("architecture") instanceof String s ? s : "spec";
        if (!(m.get("groups") instanceof List<?> gl)) {
            throw LadyException.invalidInput(what + ": missing \"groups\" (a list)");
        }
        List<Group> groups = new ArrayList<>();
        for (int gi = 0; gi < gl.size(); gi++) {
            if (!(gl.get(gi) instanceof Map<?, ?> g)) {
                throw LadyException.invalidInput(what + ": group " + gi + " is not an object");
            }
            String gwhat = what + ": group " + gi;
            String name = Json.stringField(g, "name", gwhat);
            long size = Json.longField(g, "size", gwhat + " '" + name + "'");
            if (size < 1 || size > Integer.MAX_VALUE) {
                throw LadyException.invalidInput(gwhat + " '" + name + "': size " + size + " is not in 1.." + Integer.MAX_VALUE);
            }
            if (!(g.get("members") instanceof List<?> ml) || ml.isEmpty()) {
                throw LadyException.invalidInput(gwhat + " '" + name + "': missing \"members\" (a non-empty list)");
            }
            List<Member> members = new ArrayList<>();
            for (int mi = 0; mi < ml.size(); mi++) {
                String mwhat = gwhat + " '" + name + "' member " + mi;
                if (!(ml.get(mi) instanceof Map<?, ?> mm)) {
                    throw LadyException.invalidInput(mwhat + " is not an object");
                }
                String tensor = Json.stringField(mm, "tensor", mwhat);
                long axis = Json.longField(mm, "axis", mwhat);
                long offset = mm.containsKey("offset") ? Json.longField(mm, "offset", mwhat) : 0;
                long block = mm.containsKey("block") ? Json.longField(mm, "block", mwhat) : 1;
                if (axis < 0 || axis > Integer.MAX_VALUE / 2 || offset < 0 || block < 1 || block > Integer.MAX_VALUE) {
                    throw LadyException.invalidInput(mwhat + " ('" + tensor + "'): axis, offset and block must be "
                            + "non-negative and block at least 1");
                }
                if (mm.containsKey("length")) {
                    long length = Json.longField(mm, "length", mwhat);
                    if (length != size * block) {
                        throw LadyException.invalidInput(mwhat + " ('" + tensor + "'): length " + length
                                + " is not size * block = " + size + " * " + block);
                    }
                }
                Role role = Role.ofKey(Json.stringField(mm, "role", mwhat));
                members.add(new Member(tensor, (int) axis, offset, block, role));
            }
            groups.add(new Group(name, size, members));
        }
        Set<String> fixed = new LinkedHashSet<>();
        if (m.get("fixed") instanceof List<?> fl) {
            for (Object f : fl) {
                if (!(f instanceof String s)) {
                    throw LadyException.invalidInput(what + ": \"fixed\" holds a non-string entry");
                }
                fixed.add(s);
            }
        } else if (m.containsKey("fixed")) {
            throw LadyException.invalidInput(what + ": \"fixed\" must be a list of tensor names");
        }
        List<String> notes = new ArrayList<>();
        if (m.get("notes") instanceof List<?> nl) {
            nl.forEach(n -> notes.add(String.valueOf(n)));
        }
        return new PermutationSpec(arch, groups, fixed, notes);
    }
}
