package lady.experiment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import javax.imageio.ImageIO;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.checkpoint.Checkpoints;
import lady.checkpoint.StateDict;
import lady.cli.CliRun;
import lady.model.ModelOptions;
import lady.model.Models;
import lady.report.Json;
import lady.torch.Torch;
import lady.train.Trainer;

/** {@code lady figure ranking-quant / ranking-noise} on a tiny model: PNG, CSV and JSON. */
class RankingFiguresTest {
    static StateDict tiny;

    @BeforeAll
    static void model() {
        Torch.init();
        Trainer.seedLibtorch(6);
        tiny = Models.create("toynet", ModelOptions.defaults()).stateDict();
    }

    static void assertPng(Path png) throws Exception {
        BufferedImage image = ImageIO.read(png.toFile());
        assertEquals(LinePlot.WIDTH, image.getWidth());
        assertEquals(LinePlot.HEIGHT, image.getHeight());
    }

    @Test
    void rankingQuantWritesAPngACsvRowPerBitsAndTheJson(@TempDir Path dir) throws Exception {
        Path m = dir.resolve("tiny.pt");
        Checkpoints.write(m, tiny, Checkpoints.Format.TORCH_ZIP);
        Path out = dir.resolve("fig");
        CliRun r = CliRun.of("figure", "ranking-quant", "--model", m.toString(), "--layer", "conv2,fc1", "--bits",
                "2,4,8,16", "--eval-limit", "64", "--out", out.toString(), "--quiet");
        assertEquals(0, r.code(), r.err());
        assertPng(out.resolve("ranking_quant.png"));
        List<String> csv = Files.readAllLines(out.resolve("ranking_quant.csv"));
        assertEquals("attack,level,runs,psi_mean,psi_std,error_mean,error_std,psi_conv2,psi_fc1", csv.get(0));
        assertEquals(5, csv.size(), String.join("\n", csv));
        assertTrue(csv.get(1).startsWith("quant,2,1,"), csv.get(1));
        assertTrue(csv.get(4).startsWith("quant,16,1,100,0,"), "B = 16 keeps the ranking: " + csv.get(4));
        Map<?, ?> json = (Map<?, ?>) Json.parse(Files.readString(out.resolve("ranking_quant.json")));
        assertEquals("ranking-quant", json.get("figure"));
        assertEquals(4, ((List<?>) json.get("points")).size());
        assertTrue(r.out().contains("wrote 3 files"), r.out());
    }

    @Test
    void rankingNoiseWritesOneFigurePerAttack(@TempDir Path dir) throws Exception {
        Path m = dir.resolve("tiny.pt");
        Checkpoints.write(m, tiny, Checkpoints.Format.TORCH_ZIP);
        Path out = dir.resolve("fig");
        CliRun r = CliRun.of("figure", "ranking-noise", "--model", m.toString(), "--layer", "conv2", "--steps", "3",
                "--noise", "0,1,7", "--finetune", "0,1", "--train-limit", "100", "--eval-limit", "64", "--out",
                out.toString(), "--quiet");
        assertEquals(0, r.code(), r.err());
        assertPng(out.resolve("ranking_noise_noise.png"));
        assertPng(out.resolve("ranking_noise_finetune.png"));
        List<String> noise = Files.readAllLines(out.resolve("ranking_noise_noise.csv"));
        assertEquals(4, noise.size(), String.join("\n", noise));
        assertTrue(noise.get(1).startsWith("noise,0,1,100,0,"), "no noise keeps the ranking: " + noise.get(1));
        List<String> ft = Files.readAllLines(out.resolve("ranking_noise_finetune.csv"));
        assertEquals(3, ft.size(), String.join("\n", ft));
        assertTrue(ft.get(1).startsWith("finetune,0,1,100,0,"), ft.get(1));
        assertTrue(Files.exists(out.resolve("ranking_noise.json")));
    }

    /** Without --layer: the paper's features.17 by position (features.24 with batch norm), named so in the output. */
    @Test
    void rankingNoiseDefaultsToThePapersLayerAndSaysWhichConvItIs(@TempDir Path dir) throws Exception {
        Path m = dir.resolve("bn.pt");
        Checkpoints.write(m, lady.model.Models.create("vgg16_bn_cifar", lady.model.ModelOptions.defaults()
                .withWidth(0.125)).stateDict(), Checkpoints.Format.TORCH_ZIP);
        CliRun r = CliRun.of("figure", "ranking-noise", "--model", m.toString(), "--steps", "3", "--noise", "0",
                "--finetune", "none", "--data", "none", "--out", dir.resolve("fig").toString(), "--quiet");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("active ranking of features.24 "), r.out());
    }

    @Test
    void noDataMeansNoErrorAxis(@TempDir Path dir) throws Exception {
        RankingFigures.Result result = RankingFigures.quant(tiny, null, List.of("conv1"), List.of(3, 8), null, -1, 1,
                lady.progress.ProgressListener.NONE);
        assertTrue(Double.isNaN(result.baseError()));
        assertEquals(2, result.rows().size());
        List<Path> files = RankingFigures.write(dir, "q", result, Map.of());
        assertEquals(3, files.size());
        assertPng(dir.resolve("q.png"));
        assertTrue(Files.readAllLines(dir.resolve("q.csv")).get(2).startsWith("quant,8,1,"));
    }
}
