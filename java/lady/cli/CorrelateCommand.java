package lady.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

import org.bytedeco.pytorch.Tensor;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import lady.io.OutputSet;
import lady.checkpoint.Checkpoints;
import lady.data.BatchLoader;
import lady.data.DataSource;
import lady.experiment.CorrelationFiles;
import lady.kernels.Backend;
import lady.model.Model;
import lady.model.Models;
import lady.paper.Paper;
import lady.resync.OutputCorrelation;
import lady.torch.Torch;

/** {@code lady correlate}: the proof of concept of paper figure 3 (method.md section 6). */
@Command(name = "correlate", mixinStandardHelpOptions = true,
        description = {"Paper figure 3: the most output-correlated pair of neurons of a layer",
                "(Pearson over its outputs on the first --images test images), their weight",
                "cosine, and the cosine of their outputs along straight lines between",
                "consecutive images in the layer's input space, without and with the ReLU.",
                "Writes correlate.csv, correlate.png and correlate.json into --out."})
final class CorrelateCommand implements Callable<Integer> {

    /** Default number of images (ours: the paper feeds "a few"). */
    static final int DEFAULT_IMAGES = 5;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", required = true, description = "Checkpoint (PyTorch zip state_dict or safetensors).")
    Path model;

    @Option(names = "--layer", required = true,
            description = "A Conv2d or Linear module path, exactly (the paper: " + Paper.PROOF_LAYER_VGG16 + " of VGG16).")
    String layer;

    @Option(names = "--data", defaultValue = "digits", description = "Images: " + DataSource.SYNTAX + " (default: ${DEFAULT-VALUE}).")
    String data;

    @Option(names = "--images", paramLabel = "K", defaultValue = "" + DEFAULT_IMAGES,
            description = "Probe images, the first K of the test split (at least 2). Default: ${DEFAULT-VALUE}.")
    int images;

    @Option(names = "--steps", defaultValue = "" + Paper.PROOF_STEPS,
            description = "Points per segment between consecutive images, both ends included. Default: ${DEFAULT-VALUE}.")
    int steps;

    @Option(names = "--out", required = true, description = "Output folder (created if needed).")
    Path out;

    @Option(names = "--arch", description = "Architecture (default: inferred from the checkpoint).")
    String arch;

    @Option(names = "--backend", defaultValue = "cpu", description = "Kernels: cpu, cuda or reference. Default: ${DEFAULT-VALUE}.")
    String backend;

    @CommandLine.Mixin
    RunOptions run;

    @Override
    public Integer call() {
        Torch.init();
        try (OutputSet outs = new OutputSet()) {
            outs.input("--model", model);
            run(outs.directory("--out", out), outs);
        }
        return 0;
    }

    private void run(Path dir, OutputSet outs) {
        Backend b = Backend.parse(backend);
        DataSource source = DataSource.parse(data);
        Model m = Models.fromStateDict(Checkpoints.read(model), arch);
        Tensor probe = BatchLoader.firstImages(source.test(), images);
        OutputCorrelation.Result r = OutputCorrelation.run(m, layer, probe, steps, b);
        Map<String, Object> provenance = new LinkedHashMap<>();
        provenance.put("model", model.toString());
        provenance.put("architecture", m.architecture());
        provenance.put("data", source.spec());
        provenance.put("steps", steps);
        Map<String, Object> summary = CorrelationFiles.write(dir, r, provenance);
        outs.commit();
        PrintWriter w = spec.commandLine().getOut();
        w.printf("%s %s (%d neurons), %d images: most output-correlated pair %d and %d%n", m.architecture(), layer,
                r.neurons(), r.images(), r.first(), r.second());
        w.printf("output correlation (Pearson) %.4f, weight cosine %.4f%n", r.correlation(), r.weightCosine());
        w.printf("output cosine along %d points: without activation min %.4f, with ReLU min %.4f%n", r.curve().size(),
                ((Map<?, ?>) summary.get("cosine_pre")).get("min"), ((Map<?, ?>) summary.get("cosine_post")).get("min"));
        w.printf("wrote %s, %s, %s in %s%n", CorrelationFiles.CSV, CorrelationFiles.PNG, CorrelationFiles.JSON, out);
    }
}
