package lady.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import lady.io.OutputSet;
import lady.io.AtomicFiles;
import lady.paper.Paper;
import lady.progress.ProgressListener;
import lady.report.Json;
import lady.resync.Method;
import lady.watermark.WatermarkStory;

/** {@code lady watermark story}: embed, attack by permutation (and noise, quantization), resync, on the digits. */
@Command(name = "story", mixinStandardHelpOptions = true,
        description = {"The attack-and-recover story on the built-in digits: train the README's VGG16",
                "(batch norm, half width) with an Uchida watermark in the paper's conv",
                "(features.19 of VGG16, features.27 with batch norm), permute the group feeding",
                "it and then the whole network (BER to chance, test error unchanged), resync",
                "with the reference (BER back, model restored exactly), also with noise and",
                "8-bit quantization before the permutation, and structural obfuscation (nso:",
                "dummy neurons, splits, rescaling, permutation) undone by Lady. Prints a table;",
                "--out writes the JSON."})
final class WatermarkStoryCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--width", description = "VGG16 width multiplier (default: " + Paper.DIGITS_RECIPE_WIDTH + ").")
    Double width;

    @Option(names = "--epochs", description = "Training epochs with the watermark loss (default: " + Paper.DIGITS_RECIPE_EPOCHS + ").")
    Integer epochs;

    @Option(names = "--lr", description = "Training learning rate (default: " + Paper.DIGITS_RECIPE_LR + ").")
    Double lr;

    @Option(names = "--limit", description = "Training images (default: all 8495 digits).")
    Integer limit;

    @Option(names = "--batch-size", description = "Training batch size (default: 128, the paper's).")
    Integer batchSize;

    @Option(names = "--embed-steps", description = "Embedding-only fine-tune steps after training (default: 1000; 0: none).")
    Integer embedSteps;

    @Option(names = "--test-limit", description = "Test images (default: 500; the digits have 1505).")
    Integer testLimit;

    @Mixin SeedOption seed;

    @Option(names = "--method", description = "Resync matching: assignment or argmax (default: argmax, the paper's).")
    Method method;

    @Option(names = "--out", description = "Write the story as JSON (atomically).")
    Path out;


    @Mixin RunOptions run;

    @Mixin FormatOption format;

    @Override
    public Integer call() {
        WatermarkStory.Options o = WatermarkStory.Options.defaults();
        if (width != null) {
            o = o.withWidth(width);
        }
        if (epochs != null) {
            o = o.withEpochs(epochs);
        }
        if (lr != null) {
            o = o.withLr(lr);
        }
        if (limit != null) {
            o = o.withLimit(limit);
        }
        if (batchSize != null) {
            o = o.withBatchSize(batchSize);
        }
        if (embedSteps != null) {
            o = o.withEmbedSteps(embedSteps);
        }
        if (testLimit != null) {
            o = o.withTestLimit(testLimit);
        }
        o = o.withSeed(seed.seed);
        if (method != null) {
            o = o.withMethod(method);
        }
        ProgressListener progress = run.progress();
        WatermarkStory.Report r;
        String json;
        try (OutputSet outs = new OutputSet()) {
            Path outTmp = outs.file("--out", out);
            r = WatermarkStory.run(o, progress);
            json = Json.write(r.toJson());
            if (outTmp != null) {
                AtomicFiles.writeString(outTmp, json + "\n");
            }
            outs.commit();
        }
        PrintWriter w = spec.commandLine().getOut();
        if (format.json()) {
            w.println(json);
            return 0;
        }
        w.printf("Uchida watermark in %s of %s (width %s), T = %d bits, lambda %s, w_bar length %d; digits, %d training"
                + " images x %d epochs in batches of %d at lr %s (%.1f s), %d test images%n", r.key().layer(), WatermarkStory.ARCH,
                r.options().width(), r.key().size(), r.key().lambda(), r.key().length(), r.trainImages(),
                r.options().epochs(), r.options().batchSize(), r.options().lr(), r.trainSeconds(), r.testImages());
        w.printf("after training with the watermark loss: BER %.2f %%, test error %.2f %%%n", r.berTrained(),
                r.errorTrained());
        w.printf("after %d embedding-only steps (%.1f s): BER %.2f %%, test error %.2f %%  <- the reference model%n%n",
                r.options().embedSteps(), r.embedSeconds(), r.ber(), r.errorPct());
        w.printf("%-36s %9s %9s %9s %8s %5s %9s %9s %8s%n", "scenario (then resync, " + r.options().method().name()
                .toLowerCase(java.util.Locale.ROOT) + ")", "BER atk", "BER perm", "err perm", "Psi", "dup", "BER sync",
                "err sync", "restored");
        for (WatermarkStory.Row row : r.rows()) {
            w.printf("%-36s %8.2f%% %8.2f%% %8.2f%% %8.2f %5d %8.2f%% %8.2f%% %8s%n", row.scenario(),
                    row.berAttackOnly(), row.berAttacked(), row.errorAttacked(), row.psi(), row.duplicates(),
                    row.berResynced(), row.errorResynced(), row.restored() ? "yes" : "no");
        }
        w.printf("%nBER atk: the attack alone (no permutation); BER/err perm: attacked and permuted; BER/err sync: after"
                + " resync with the reference; restored: every tensor equals the attacked, unpermuted model's.%n");
        r.rows().stream().filter(row -> row.recalibratedBn() > 0).findFirst().ifPresent(row -> w.printf(
                "After each noise or quantization attack the attacker re-estimated the batch-norm statistics over %d "
                        + "training batches (no labels).%n", row.recalibratedBn()));
        WatermarkStory.StructuralRow st = r.structural();
        w.printf(java.util.Locale.ROOT, "%nstructural obfuscation (%s: %d -> %d neurons, every group): BER %.2f %% (read as it is), "
                + "test error %.2f %%, logits within %.2g; Lady's structural undo (%d groups) and resync in %.1f s: Psi %.2f, "
                + "BER %.2f %%, test error %.2f %%, logits within %.2g, every tensor within %.2g relative of the reference's%n",
                st.attack(), st.neuronsBefore(), st.neuronsAfter(), st.berAttacked(), st.errorAttacked(), st.logitDiffAttacked(),
                st.groupsUndone(), st.seconds(), st.psi(), st.berResynced(), st.errorResynced(), st.logitDiffResynced(),
                st.maxRelativeDiff());
        if (out != null) {
            w.printf("wrote %s%n", out);
        }
        w.printf("total %.1f s (%d threads)%n", r.seconds(), r.threads());
        return 0;
    }
}
