package lady.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code lady watermark}: the Uchida white-box watermark (detect, embed, the attack-and-recover story). */
@Command(name = "watermark", mixinStandardHelpOptions = true,
        description = {"Uchida et al. (2017) white-box watermark, the victim of the permutation attack:",
                "detect it, embed it into a trained model, or run the attack-and-recover story."},
        subcommands = {WatermarkDetectCommand.class, WatermarkEmbedCommand.class, WatermarkStoryCommand.class})
final class WatermarkCommand implements Runnable {
    @Spec CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
