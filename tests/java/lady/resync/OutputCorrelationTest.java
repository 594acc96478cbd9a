package lady.resync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;

import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.checkpoint.Checkpoints;
import lady.checkpoint.StateDict;
import lady.cli.CliRun;
import lady.experiment.CorrelationFiles;
import lady.experiment.LinePlot;
import lady.kernels.Backend;
import lady.model.Model;
import lady.model.Models;
import lady.model.PermutationCheck;
import lady.report.Json;
import lady.torch.Torch;
import lady.torch.TorchTensors;

/** Paper figure 3 (OutputCorrelation, lady correlate). */
class OutputCorrelationTest {

    @BeforeAll
    static void init() {
        Torch.init();
    }

    @Test
    void twoDuplicateNeuronsAreThePairWithCorrelationOne() {
        torch.manual_seed(8);
        Model model = Models.create("toynet");
        StateDict s = model.stateDict();
        // conv1's neuron 5 becomes an exact copy of neuron 2 (weights and bias)
        for (String t : List.of("conv1.weight", "conv1.bias")) {
            TorchTensors.view(s.get(t)).narrow(0, 5, 1).copy_(TorchTensors.view(s.get(t)).narrow(0, 2, 1)); // in place
        }
        model.load(s);
        int steps = 7;
        OutputCorrelation.Result r = OutputCorrelation.run(model, "conv1", PermutationCheck.probe(3, 3, 32, 1), steps, Backend.CPU);
        assertEquals(2, r.first());
        assertEquals(5, r.second());
        assertEquals(1.0, r.correlation(), 1e-5);
        assertEquals(1.0, r.weightCosine(), 1e-5);
        assertEquals(2 * steps, r.curve().size());
        for (OutputCorrelation.Point p : r.curve()) {
            assertEquals(1.0, p.cosinePre(), 1e-5, "point " + p);
        }
        assertEquals(0.0, r.curve().get(0).t());
        assertEquals(1.0, r.curve().get(steps - 1).t());
    }

    @Test
    void withoutDuplicatesThePairIsLessThanPerfect() {
        torch.manual_seed(8);
        Model model = Models.create("toynet");
        OutputCorrelation.Result r = OutputCorrelation.run(model, "conv2", PermutationCheck.probe(3, 3, 32, 1), 5, Backend.CPU);
        assertTrue(r.first() < r.second());
        assertTrue(r.correlation() < 0.9999 && r.correlation() > -1, "correlation " + r.correlation());
        assertTrue(Math.abs(r.weightCosine()) < 0.9999, "weight cosine " + r.weightCosine());
    }

    @Test
    void aLayerInsideAResidualBlockWalksBetweenItsOwnInputs() {
        torch.manual_seed(8);
        Model model = Models.create("resnet18_cifar", lady.model.ModelOptions.defaults().withWidth(0.125));
        OutputCorrelation.Result r = OutputCorrelation.run(model, "layer2.0.conv2", PermutationCheck.probe(3, 3, 32, 1), 4,
                Backend.CPU);
        assertEquals(16, r.neurons());
        assertEquals(2 * 4, r.curve().size());
        assertTrue(r.first() < r.second() && r.correlation() <= 1.0 + 1e-6, r.toString());
    }

    @Test
    void cliWritesCsvPngAndJson(@TempDir Path dir) throws Exception {
        torch.manual_seed(9);
        Path model = dir.resolve("m.pt");
        Checkpoints.write(model, Models.create("lenet5").stateDict(), Checkpoints.Format.TORCH_ZIP);
        Path out = dir.resolve("fig3");
        CliRun r = CliRun.of("correlate", "--model", model.toString(), "--layer", "conv2", "--data", "digits", "--images",
                "4", "--steps", "11", "--out", out.toString(), "--quiet");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("most output-correlated pair"), r.out());
        List<String> csv = Files.readAllLines(out.resolve(CorrelationFiles.CSV));
        assertEquals(1 + 3 * 11, csv.size(), "header + (images - 1) * steps rows");
        assertEquals("segment,step,t,position,cosine_pre,cosine_post", csv.get(0));
        BufferedImage png = ImageIO.read(out.resolve(CorrelationFiles.PNG).toFile());
        assertNotNull(png);
        assertEquals(LinePlot.WIDTH, png.getWidth());
        Map<?, ?> json = (Map<?, ?>) Json.parse(Files.readString(out.resolve(CorrelationFiles.JSON)));
        assertEquals("conv2", json.get("layer"));
        assertEquals(2, ((List<?>) json.get("pair")).size());
        assertEquals(33L, ((Number) json.get("points")).longValue());

        CliRun bad = CliRun.of("correlate", "--model", model.toString(), "--layer", "conv", "--out", out.toString(), "--quiet");
        assertEquals(2, bad.code(), bad.err());
        assertTrue(bad.err().contains("conv1, conv2, fc1, fc2, fc3"), bad.err());
        CliRun one = CliRun.of("correlate", "--model", model.toString(), "--layer", "conv2", "--images", "1", "--out",
                out.toString(), "--quiet");
        assertEquals(2, one.code(), one.err());
    }
}
