package lady.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import lady.io.OutputSet;
import lady.checkpoint.Checkpoints;
import lady.checkpoint.StateDict;
import lady.data.DataSource;
import lady.experiment.RankingFigures;
import lady.model.Models;
import lady.paper.Paper;
import lady.permutation.Permuter;

/** {@code lady figure ranking-quant}: basic ranking vs quantization (paper figures 4-5). */
@Command(name = "ranking-quant", mixinStandardHelpOptions = true,
        description = {"Basic ranking vs quantization bits B (paper figures 4-5).",
                "For each B: quantize every Conv2d/Linear weight, permute the ranked groups",
                "with a new secret, re-rank the suspect (method.md 5); Psi_rank vs B, test",
                "error on a second axis. Writes ranking_quant.png, .csv and .json into --out."})
final class FigureRankingQuantCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    FigureOptions figure;

    @Option(names = "--layer", defaultValue = Models.PAPER_LAYER, paramLabel = "GROUPS",
            description = "Ranked groups: all, names such as features.17, " + Table1Command.PAPER_LAYER_HELP
                    + " (default: ${DEFAULT-VALUE}).")
    String layer;

    @Option(names = "--bits", paramLabel = "LIST", split = ",",
            description = "Quantization bits B (default: " + Paper.RANKING_QUANT_MIN_BITS + ".."
                    + Paper.RANKING_QUANT_MAX_BITS + ").")
    List<Integer> bits;

    @Override
    public Integer call() {
        try (OutputSet outs = new OutputSet()) {
            outs.input("--model", figure.model);
            run(outs.directory("--out", figure.out), outs);
        }
        return 0;
    }

    private void run(Path dir, OutputSet outs) {
        StateDict reference = Checkpoints.read(figure.model);
        var mc = Models.infer(reference, figure.arch);
        List<String> layers = Permuter.select(mc.description().permutationSpec(),
                Models.layerFor(layer, Paper.TABLE1_LAYER_VGG16, mc.architecture()));
        DataSource source = figure.source();
        RankingFigures.Result r = RankingFigures.quant(reference, mc.architecture(), layers,
                bits != null ? bits : RankingFigures.paperBits(), source == null ? null : source.test(),
                figure.evalLimit(), figure.seed, figure.run.progress());
        List<Path> files = RankingFigures.write(dir, "ranking_quant", r, figure.provenance());
        outs.commit();
        PrintWriter w = spec.commandLine().getOut();
        w.printf(Locale.ROOT, "ranking-quant: %s, basic ranking of %s; reference error %s%n", r.architecture(),
                String.join(", ", layers), FigureOptions.pct(r.baseError()));
        for (RankingFigures.Row row : r.rows()) {
            w.printf(Locale.ROOT, "  B %-3s Psi_rank %7.2f %%   error %s%n", (int) row.level(), row.psi().mean(),
                    FigureOptions.pct(row.error().mean()));
        }
        w.println(FigureOptions.wrote(files, figure.out, r.seconds()));
        w.flush();
    }
}
