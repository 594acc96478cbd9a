package lady.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import lady.app.SpecJob;
import lady.permutation.Group;
import lady.permutation.PermutationSpec;
import lady.permutation.Role;
import lady.permutation.SpecFile;
import lady.progress.ProgressListener;
import lady.report.Json;
import lady.util.Text;

/** {@code lady spec}: the permutation groups of a checkpoint, as a table and as a spec file. */
@Command(name = "spec", mixinStandardHelpOptions = true,
        description = {"Print the permutation groups Lady derives for a checkpoint (from the graph of",
                "its family, or of an ONNX model: the model itself or --graph), or check a spec",
                "file against it. The JSON written by --out is what --spec accepts in permute,",
                "resync, attack and canon: start from it to describe a network Lady does not",
                "know (groups of members, each a tensor, an axis, an offset and a length on that",
                "axis, a block size; see the README)."})
final class SpecCommand implements Callable<Integer> {

    @Spec CommandSpec commandSpec;

    @Mixin ModelInput input;

    /** {@code --spec}: check this spec file against the checkpoint instead of deriving one. */
    @Mixin GraphOptions network;

    @Option(names = "--out", paramLabel = "FILE", description = "Write the spec file (JSON) here.")
    Path out;

    @Mixin FormatOption format;

    @Override
    public Integer call() {
        PermutationSpec spec = SpecJob.run(new SpecJob.Request(input.model, input.arch, network.graph,
                network.specFile, out), ProgressListener.NONE).spec();
        PrintWriter o = commandSpec.commandLine().getOut();
        if (format.json()) {
            o.println(Json.write(SpecFile.toJson(spec)));
            return 0;
        }
        long neurons = spec.groups().stream().mapToLong(Group::size).sum();
        o.printf(Locale.ROOT, "%s: %d groups, %d neurons, %d tensors or axes fixed%n", spec.architecture(),
                spec.groups().size(), neurons, spec.fixed().size());
        List<String> names = spec.groups().stream().map(g -> Text.escape(g.name())).toList();
        String name = "%-" + Text.columnWidth(names, 44) + "s";
        o.printf(Locale.ROOT, name + " %7s %9s %9s %8s%n", "group", "size", "producers", "consumers", "members");
        for (Group g : spec.groups()) {
            o.printf(Locale.ROOT, name + " %7d %9d %9d %8d%n", Text.escape(g.name()), g.size(), g.members(Role.PRODUCER_WEIGHT).size(),
                    g.members(Role.CONSUMER_WEIGHT).size(), g.members().size());
        }
        for (String note : spec.notes()) {
            o.println("note: " + note);
        }
        if (out != null) {
            o.println("spec -> " + out);
        }
        return 0;
    }
}
