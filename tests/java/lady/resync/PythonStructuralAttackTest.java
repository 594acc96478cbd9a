package lady.resync;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.attack.NsoAttack;
import lady.checkpoint.Checkpoints;
import lady.checkpoint.PythonTorch;
import lady.checkpoint.StateDict;
import lady.cli.CliRun;
import lady.data.BatchLoader;
import lady.data.Digits;
import lady.model.Model;
import lady.model.Models;
import lady.paper.Paper;
import lady.report.Json;
import lady.structure.StructuralTesting;

/**
 * Issue 18's acceptance with suspects made by PyTorch itself: tests/python/structural_attack.py (Debian's PyTorch
 * 1.13) trains a VGG16 with the CIFAR head and no batch norm for a few steps on the digits and obfuscates all 15
 * groups by hand, last group first: scaling only (factors in [1/4, 4]), dummy pairs plus splits (5 % each), and
 * all of it with a permutation. {@code lady resync} against the original must give the original's shapes, every
 * tensor within relative 1e-4 and the original's logits on the digits test set; Psi 100 against the lineage. At
 * width 1/4 by default (128 -> 146 channels); the full width (512 -> 590) is tagged slow. Skipped without
 * python3-torch.
 */
class PythonStructuralAttackTest {
    private static final long SEED = 3;
    private static final int TRAIN_IMAGES = 512;
    private static final int BATCH = 64;
    private static final int STEPS = 12;
    /** Test images whose logits are compared. */
    private static final int LOGIT_IMAGES = 500;

    @TempDir
    Path dir;

    @Test
    void narrowVgg16() throws Exception {
        run(0.25, 146);
    }

    @Test
    @Tag("slow")
    void fullWidthVgg16() throws Exception {
        run(1.0, 590);
    }

    /**
     * The same original and nso copy exported to ONNX by torch.onnx: {@code lady resync} of the two ONNX files undoes
     * the obfuscation from each file's own graph and writes the suspect's graph with the original's widths, which ONNX
     * Runtime runs; its initializers are the original's (relative 1e-4) and give its logits. Exported with a Reshape to
     * a constant shape that holds each copy's width, the suspect's graph cannot be given the original's widths by
     * rewriting initializers: {@code --out} is refused in one line, and the report alone says derived.
     */
    @Test
    void narrowVgg16AsOnnx() throws Exception {
        attack(0.25, true);
        StateDict reference = Checkpoints.read(dir.resolve("reference.pt"));
        Path fixed = dir.resolve("nso.fixed.onnx");
        CliRun r = CliRun.of("resync", "--reference", dir.resolve("reference.onnx").toString(), "--suspect",
                dir.resolve("nso.onnx").toString(), "--out", fixed.toString(), "--quiet");
        assertEquals(0, r.code(), r.err());
        StateDict restored = Checkpoints.read(fixed); // the initializers keep the parameters' names
        for (String name : reference.names()) {
            assertArrayEquals(reference.shape(name), restored.shape(name), "shape of " + name);
        }
        double diff = StructuralTesting.maxRelativeDiff(reference, restored);
        assertTrue(diff <= StructuralUndoTest.RESTORED_REL, "worst tensor " + StructuralTesting.worst(reference, restored));
        Tensor images = BatchLoader.firstImages(Digits.test(), LOGIT_IMAGES);
        Tensor expected = logits(Models.fromStateDict(reference, "vgg16_cifar"), images);
        double logitDiff = logits(Models.fromStateDict(restored, "vgg16_cifar"), images).sub(expected).abs().max()
                .item_double();
        assertTrue(logitDiff <= 1e-4 * Math.max(1, expected.abs().max().item_double()), "logits differ by " + logitDiff);
        CliRun eval = CliRun.of("eval", "--model", fixed.toString(), "--data", "digits"); // ONNX Runtime runs the graph
        assertEquals(0, eval.code(), eval.err());

        Path refused = dir.resolve("refused.onnx");
        r = CliRun.of("resync", "--reference", dir.resolve("reference_reshape.onnx").toString(), "--suspect",
                dir.resolve("nso_reshape.onnx").toString(), "--out", refused.toString(), "--quiet");
        assertEquals(3, r.code(), r.err());
        assertTrue(r.err().contains("integer constants") && r.err().strip().lines().count() <= 2, r.err());
        assertTrue(Files.notExists(refused));
        Path report = dir.resolve("report.json");
        r = CliRun.of("resync", "--reference", dir.resolve("reference_reshape.onnx").toString(), "--suspect",
                dir.resolve("nso_reshape.onnx").toString(), "--report", report.toString(), "--quiet");
        assertEquals(0, r.code(), r.err());
        Map<?, ?> rep = (Map<?, ?>) Json.parse(Files.readString(report));
        assertEquals(15, ((List<?>) ((Map<?, ?>) rep.get("structural")).get("groups")).size()); // every group undone
        assertEquals(true, ((Map<?, ?>) rep.get("verdict")).get("derived"));

        // Lady's own nso of the ONNX file: checked in ONNX Runtime, undone with Psi 100 against its secret
        Path attacked = dir.resolve("lady-nso.onnx");
        r = CliRun.of("attack", "--model", dir.resolve("reference.onnx").toString(), "--attack", "nso", "--seed", "4",
                "--out", attacked.toString(), "--secret", dir.resolve("lady-nso.json").toString(), "--quiet");
        assertEquals(0, r.code(), r.err());
        assertTrue(Checkpoints.read(attacked).shape("features.17.weight")[0] > reference.shape("features.17.weight")[0]);
        r = CliRun.of("resync", "--reference", dir.resolve("reference.onnx").toString(), "--suspect", attacked.toString(),
                "--secret", dir.resolve("lady-nso.json").toString(), "--report", report.toString(), "--quiet");
        assertEquals(0, r.code(), r.err());
        rep = (Map<?, ?>) Json.parse(Files.readString(report));
        assertEquals(100.0, ((Number) rep.get("structural_psi_overall")).doubleValue(), String.valueOf(rep.get("structural_psi")));
        // the Reshape's constant holds the width: the widened graph does not run, and nothing is written
        r = CliRun.of("attack", "--model", dir.resolve("reference_reshape.onnx").toString(), "--attack", "nso", "--seed", "4",
                "--out", refused.toString(), "--quiet");
        assertEquals(3, r.code(), r.err());
        assertTrue(r.err().contains("does not run") && r.err().contains("Reshape"), r.err());
        assertTrue(Files.notExists(refused));
    }

    /** Runs tests/python/structural_attack.py at {@code width} (with {@code onnx}: its ONNX exports too). */
    private void attack(double width, boolean onnx) throws Exception {
        PythonTorch.assumeInstalled();
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("seed", SEED);
        p.put("width", width);
        p.put("classes", 10);
        PythonTorch.putDigits(p, dir);
        p.put("train_images", TRAIN_IMAGES);
        p.put("batch_size", BATCH);
        p.put("steps", STEPS);
        p.put("lr", Paper.DIGITS_RECIPE_LR);
        p.put("momentum", Paper.TRAIN_MOMENTUM);
        p.put("scale_range", NsoAttack.SCALE_RANGE);
        p.put("dummy_percent", NsoAttack.DUMMY_PERCENT);
        p.put("split_percent", NsoAttack.SPLIT_PERCENT);
        p.put("threads", 1);
        p.put("onnx", onnx);
        Path params = dir.resolve("params.json");
        Files.writeString(params, Json.write(p));
        assertNull(PythonTorch.run("structural_attack.py", params.toString(), dir.toString()), "the Python side failed");
    }

    @SuppressWarnings("unchecked")
    private void run(double width, long widened512) throws Exception {
        attack(width, false);
        Map<String, Object> py = (Map<String, Object>) Json.parse(Files.readString(dir.resolve("result.json")));
        double scale = ((Number) py.get("logit_scale")).doubleValue();

        StateDict reference = Checkpoints.read(dir.resolve("reference.pt"));
        Model original = Models.fromStateDict(reference, "vgg16_cifar");
        Tensor images = BatchLoader.firstImages(Digits.test(), LOGIT_IMAGES);
        Tensor expected = logits(original, images);
        for (String suspect : List.of("scaled", "widened", "nso")) {
            double pyDiff = ((Number) ((Map<?, ?>) py.get("logit_diff")).get(suspect)).doubleValue();
            assertTrue(pyDiff <= 1e-4 * Math.max(1, scale), suspect + ": the Python attack must keep the function: " + pyDiff);
            StateDict attacked = Checkpoints.read(dir.resolve(suspect + ".pt"));
            if (!suspect.equals("scaled")) {
                assertEquals(widened512, attacked.shape("features.17.weight")[0], suspect + ": widened");
            }
            Path fixed = dir.resolve(suspect + ".fixed.pt");
            Path report = dir.resolve(suspect + ".report.json");
            List<String> args = new ArrayList<>(List.of("resync", "--reference", dir.resolve("reference.pt").toString(),
                    "--suspect", dir.resolve(suspect + ".pt").toString(), "--out", fixed.toString(), "--report",
                    report.toString(), "--quiet"));
            if (suspect.equals("nso")) {
                args.addAll(List.of("--secret", dir.resolve("nso_secret.json").toString()));
            }
            CliRun r = CliRun.of(args.toArray(String[]::new));
            assertEquals(0, r.code(), suspect + ": " + r.err());
            StateDict restored = Checkpoints.read(fixed);
            for (String name : reference.names()) {
                assertArrayEquals(reference.shape(name), restored.shape(name), suspect + ": shape of " + name);
            }
            double diff = StructuralTesting.maxRelativeDiff(reference, restored);
            assertTrue(diff <= StructuralUndoTest.RESTORED_REL, suspect + ": worst tensor " + StructuralTesting.worst(reference, restored));
            Tensor got = logits(Models.fromStateDict(restored, "vgg16_cifar"), images);
            double logitDiff = got.sub(expected).abs().max().item_double();
            double logitScale = expected.abs().max().item_double();
            assertTrue(logitDiff <= 1e-4 * Math.max(1, logitScale), suspect + ": logits on the digits differ by " + logitDiff);
            Map<?, ?> rep = (Map<?, ?>) Json.parse(Files.readString(report));
            if (suspect.equals("nso")) {
                assertEquals(100.0, ((Number) rep.get("structural_psi_overall")).doubleValue(), String.valueOf(rep.get("structural_psi")));
            }
            System.err.printf("%s (width %s): restored within %.3g relative, logits within %.3g of %.3g%n", suspect, width,
                    diff, logitDiff, logitScale);
        }
    }

    @SuppressWarnings("try")
    private static Tensor logits(Model m, Tensor images) {
        m.train(false);
        try (NoGradGuard g = new NoGradGuard()) {
            return m.forward(images).clone();
        }
    }
}
