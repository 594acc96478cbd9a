package lady.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import lady.bench.Benchmarks;
import lady.bench.Entry;
import lady.report.Json;

/** {@code lady bench}: end-to-end timings against baselines measured in the same run (work in lady.bench). */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Time Lady's operations on generated models (random torchvision VGG16",
            "and ResNet18 permuted by a random secret; nothing is downloaded), each",
            "against a baseline measured in the same run: permutation vs libtorch",
            "index_select, similarity vs libtorch mm, whole-network resync vs the",
            "dense similarity, assignment vs row argmax, a training step vs a plain",
            "libtorch loop, checkpoint reading and writing vs memcpy. Medians of",
            "repetitions, wall and process CPU time."})
final class BenchCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", arity = "0..1", defaultValue = "all", paramLabel = "SUITE",
            description = "resync, permute, train, io or all. Default: ${DEFAULT-VALUE}.")
    String suite;

    @Option(names = "--size", defaultValue = "paper",
            description = "small (seconds), paper (torchvision VGG16 / ResNet18, 4096 and 11008 assignments) or large. "
                    + "Default: ${DEFAULT-VALUE}.")
    String size;

    @Option(names = "--format", defaultValue = "text", description = "Output format: ${COMPLETION-CANDIDATES}.")
    OutputFormat format;

    @CommandLine.Mixin
    RunOptions run;

    @Override
    public Integer call() {
        Benchmarks.Suite s = Benchmarks.Suite.parse(suite);
        Benchmarks.Size z = Benchmarks.Size.parse(size);
        Benchmarks.Report r = Benchmarks.run(s, z, run.progress());
        PrintWriter w = spec.commandLine().getOut();
        if (format == OutputFormat.json) {
            w.println(Json.write(r.toJson()));
            return 0;
        }
        w.printf("%s, %s cores, %s, load %s -> %s%n", r.machine().get("cpu"), r.machine().get("cores"),
                r.machine().get("date"), r.machine().get("load_average_start"), r.machine().get("load_average_end"));
        w.printf("%-22s %12s %12s   %12s %12s %8s%n", "benchmark", "Lady s", "(cpu s)", "baseline s", "(cpu s)", "ratio");
        for (Entry e : r.entries()) {
            w.printf("%-22s %12.4f %12.4f   %12.4f %12.4f %7.2fx%n", e.name(), e.lady().wallSeconds(),
                    e.lady().cpuSeconds(), e.base().wallSeconds(), e.base().cpuSeconds(), e.ratio());
            w.printf("    Lady:     %s%n    baseline: %s%n    %s%n", e.what(), e.baseline(), Json.write(e.details()));
        }
        w.printf("ratio = baseline time / Lady's time (medians of wall time); total %.1f s%n", r.seconds());
        return 0;
    }
}
