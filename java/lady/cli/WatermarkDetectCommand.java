package lady.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import lady.checkpoint.Checkpoints;
import lady.checkpoint.StateDict;
import lady.report.Json;
import lady.watermark.Detection;
import lady.watermark.Uchida;
import lady.watermark.WatermarkKey;

/** {@code lady watermark detect}: BER and extracted bits of a model under a key. */
@Command(name = "detect", mixinStandardHelpOptions = true,
        description = {"Read the watermark of a model with a key: bit error rate (BER, %%) and the",
                "extracted bits."})
final class WatermarkDetectCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--model", required = true, description = "Checkpoint (PyTorch zip state_dict or safetensors).")
    Path model;

    @Option(names = "--key", required = true, description = "Watermark key (JSON, from lady train --watermark or lady watermark embed).")
    Path key;

    @Mixin FormatOption format;

    @Override
    public Integer call() {
        StateDict state = Checkpoints.read(model);
        WatermarkKey k = WatermarkKey.read(key, state); // sizes checked against the model before X is built
        Detection d = Uchida.detect(state, k);
        PrintWriter w = spec.commandLine().getOut();
        if (format.json()) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("model", model.toString());
            o.put("key", key.toString());
            o.putAll(d.toJson());
            w.println(Json.write(o));
        } else {
            w.printf("%s, layer %s: BER %.2f %% (%d of %d bits wrong), min margin %.4g%n", model, d.layer(), d.berPct(),
                    d.errors(), d.size(), d.minMargin());
            w.printf("extracted %s%n", d.extractedString());
        }
        return 0;
    }
}
