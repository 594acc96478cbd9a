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
import lady.LadyException;
import lady.canon.ActiveConfig;
import lady.checkpoint.Checkpoints;
import lady.checkpoint.StateDict;
import lady.model.Models;
import lady.data.DataSource;
import lady.experiment.RankingFigures;
import lady.paper.Paper;

/** {@code lady figure ranking-noise}: active ranking vs noise Omega and fine-tuning epochs Theta. */
@Command(name = "ranking-noise", mixinStandardHelpOptions = true,
        description = {"Active ranking vs noise Omega and fine-tuning epochs Theta.",
                "Learn the input once on the reference (method.md 5); for each level attack",
                "(Gaussian noise on the layer's weight; fine-tuning of the whole network),",
                "permute the layer's group with a new secret, re-rank the suspect with the",
                "saved input; Psi_rank vs the level, test error on a second axis. Writes",
                "ranking_noise_noise.png/.csv, ranking_noise_finetune.png/.csv and",
                "ranking_noise.json into --out. --steps, --noise, --finetune, --train-limit",
                "and --eval-limit trade fidelity for speed."})
final class FigureRankingNoiseCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    FigureOptions figure;

    @Option(names = "--layer", defaultValue = Models.PAPER_LAYER, paramLabel = "GROUP",
            description = "The ranked (and noise-attacked) group: a name, " + Table1Command.PAPER_LAYER_HELP
                    + " (default: ${DEFAULT-VALUE}).")
    String layer;

    @Option(names = "--steps", paramLabel = "N",
            description = "Active ranking steps (default: the paper's " + Paper.ACTIVE_STEPS + ").")
    Integer steps;

    @Option(names = "--noise", paramLabel = "LIST", split = ",",
            description = "Omega levels; 'none' for no noise curve (default: the paper's 0,1,2,7,10).")
    List<String> noise;

    @Option(names = "--finetune", paramLabel = "LIST", split = ",",
            description = "Theta levels (epochs); 'none' for no fine-tuning curve (default: 0,2,6,8,10).")
    List<String> finetune;

    @Option(names = "--runs", defaultValue = "1", paramLabel = "N", description = "Runs per level (default: ${DEFAULT-VALUE}).")
    int runs;

    @Option(names = "--train-limit", paramLabel = "N", description = "Fine-tune on the first N training images only.")
    Integer trainLimit;

    @Option(names = "--authors-slice", description = "Responses one layer later, as the authors' script (method.md 10, item 6).")
    boolean authorsSlice;

    @Override
    public Integer call() {
        try (OutputSet outs = new OutputSet()) {
            outs.input("--model", figure.model);
            run(outs.directory("--out", figure.out), outs);
        }
        return 0;
    }

    private void run(Path dir, OutputSet outs) {
        List<Double> omegas = noise == null ? Paper.NOISE_OMEGAS : levels(noise, "--noise").stream()
                .map(Double::parseDouble).toList();
        List<Integer> thetas = finetune == null ? withZero(Paper.FINETUNE_EPOCHS)
                : levels(finetune, "--finetune").stream().map(v -> epochs(v)).toList();
        if (omegas.isEmpty() && thetas.isEmpty()) {
            throw new LadyException(LadyException.Kind.USAGE, "nothing to measure: --noise none and --finetune none");
        }
        ActiveConfig active = ActiveConfig.paper(figure.seed).withAuthorsSlice(authorsSlice);
        if (steps != null) {
            active = active.withSteps(steps);
        }
        DataSource source = figure.source();
        boolean training = thetas.stream().anyMatch(t -> t > 0);
        if (training && source == null) {
            throw new LadyException(LadyException.Kind.USAGE, "fine-tuning levels need --data (or --finetune none)");
        }
        StateDict reference = Checkpoints.read(figure.model);
        String group = Models.layerFor(layer, Paper.TABLE1_LAYER_VGG16, Models.infer(reference, figure.arch).architecture());
        RankingFigures.Result r = RankingFigures.activeRobustness(reference, figure.arch, group, active, omegas, thetas,
                runs, training ? source.train() : null, source == null ? null : source.test(), figure.evalLimit(),
                trainLimit == null ? -1 : trainLimit, figure.seed, figure.run.progress());
        List<Path> files = RankingFigures.write(dir, "ranking_noise", r, figure.provenance());
        outs.commit();
        PrintWriter w = spec.commandLine().getOut();
        var ref = r.reference().layers().get(0);
        w.printf(Locale.ROOT, "ranking-noise: %s, active ranking of %s (%d steps, loss %.4g -> %.4g); reference error "
                + "%s%n", r.architecture(), group, active.steps(), ref.active().lossFirst(), ref.active().lossLast(),
                FigureOptions.pct(r.baseError()));
        for (RankingFigures.Row row : r.rows()) {
            String level = row.level() == Math.rint(row.level()) ? Long.toString((long) row.level())
                    : Double.toString(row.level());
            w.printf(Locale.ROOT, "  %-8s %-5s Psi_rank %s   error %s%n", row.attack(), level, row.psi().format(),
                    Double.isNaN(row.error().mean()) ? "-" : row.error().format());
        }
        w.println(FigureOptions.wrote(files, figure.out, r.seconds()));
        w.flush();
    }

    /** The values of a level list; "none" gives an empty list; a bad number is a usage error. */
    private static List<String> levels(List<String> values, String option) {
        if (values.size() == 1 && values.get(0).trim().equalsIgnoreCase("none")) {
            return List.of();
        }
        for (String v : values) {
            try {
                Double.parseDouble(v.trim());
            } catch (NumberFormatException e) {
                throw new LadyException(LadyException.Kind.USAGE, option + ": '" + v + "' is not a number");
            }
        }
        return values.stream().map(String::trim).toList();
    }

    private static int epochs(String v) {
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new LadyException(LadyException.Kind.USAGE, "--finetune: '" + v + "' is not a whole number of epochs");
        }
    }

    private static List<Integer> withZero(List<Integer> thetas) {
        java.util.List<Integer> out = new java.util.ArrayList<>();
        out.add(0);
        thetas.stream().filter(t -> t != 0).forEach(out::add);
        return out;
    }
}
