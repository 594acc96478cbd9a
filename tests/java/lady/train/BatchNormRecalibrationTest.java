package lady.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.attack.AttackContext;
import lady.attack.AttackResult;
import lady.attack.Attacks;
import lady.checkpoint.Checkpoints;
import lady.checkpoint.StateDict;
import lady.cli.CliRun;
import lady.data.Dataset;
import lady.data.Digits;
import lady.model.ModelOptions;
import lady.model.Models;
import lady.progress.ProgressListener;
import lady.report.Json;
import lady.torch.Torch;

/** Batch-norm recalibration after an attack: statistics re-estimated, weights untouched, reported, seeded. */
class BatchNormRecalibrationTest {
    static StateDict bn;
    static Dataset train;

    @BeforeAll
    static void init() {
        Torch.init();
        torch.manual_seed(8);
        bn = Models.create("vgg16_bn_cifar", ModelOptions.defaults().withWidth(0.125)).stateDict();
        train = Digits.train().limit(512);
    }

    @Test
    void statisticsAreReEstimatedAndNothingElseChanges() {
        StateDict s = bn.copy();
        AttackResult r = new BatchNormRecalibration(train, null, 3).recalibrate(s, 5, ProgressListener.NONE);
        assertEquals("recalibrate-bn:3", r.spec());
        assertEquals(13, ((Number) r.details().get("batch_norms")).intValue(), "VGG16-BN has 13 batch norms");
        assertEquals(3L * 128, ((Number) r.details().get("images")).longValue());
        assertEquals(13 * 3, r.tensors().size(), "running mean, running variance and batch count of each");
        for (String name : s.names()) {
            boolean changed = !s.get(name).sameContent(bn.get(name));
            if (r.tensors().contains(name) && s.get(name).numel() == 1) { // num_batches_tracked
                assertEquals(3f, s.get(name).readFloats()[0], name);
            } else if (r.tensors().contains(name)) {
                assertTrue(changed, name + " re-estimated");
            } else {
                assertFalse(changed, name + " is not a batch-norm statistic and must not change");
            }
        }
        // the reset: a fresh network's running variance (1) is replaced by the batches' (cumulative average)
        float[] var = s.get("features.1.running_var").readFloats();
        double mean = 0;
        for (float v : var) {
            mean += v / var.length;
        }
        assertTrue(Math.abs(mean - 1) > 1e-3, "mean running variance " + mean);
        // seeded: the same seed gives the same bytes, another seed other batches
        StateDict again = bn.copy();
        new BatchNormRecalibration(train, null, 3).recalibrate(again, 5, ProgressListener.NONE);
        assertTrue(again.sameTensors(s));
        StateDict other = bn.copy();
        new BatchNormRecalibration(train, null, 3).recalibrate(other, 6, ProgressListener.NONE);
        assertFalse(other.sameTensors(s));
    }

    @Test
    void onlyAfterAttacksThatChangeWeightsWithoutTraining() {
        BatchNormRecalibration recal = new BatchNormRecalibration(train, null, 1);
        AttackContext ctx = AttackContext.of("features.24.weight", 3).withRecalibrator(recal);
        List<AttackResult> noise = Attacks.apply(Attacks.parse("noise:2"), bn.copy(), ctx);
        assertEquals(List.of("noise:2", "recalibrate-bn:1"), noise.stream().map(AttackResult::spec).toList());
        assertEquals(1, Attacks.apply(Attacks.parse("noise:0"), bn.copy(), ctx).size(), "Omega 0 changes nothing");
        StateDict plain = Models.create("toynet", ModelOptions.defaults()).stateDict();
        assertNull(recal.recalibrate(plain.copy(), 1, ProgressListener.NONE), "no batch norm: nothing to do");
        assertEquals(1, Attacks.apply(Attacks.parse("noise:2"), plain, AttackContext.of("conv2.weight", 3)
                .withRecalibrator(recal)).size());
    }

    @Test
    void attackCommandRecalibratesWithDataAndSaysSo(@TempDir Path dir) throws Exception {
        Path model = dir.resolve("bn.pt");
        Checkpoints.write(model, bn, Checkpoints.Format.TORCH_ZIP);
        CliRun r = CliRun.of("attack", "--model", model.toString(), "--attack", "quant:4", "--seed", "1", "--out",
                dir.resolve("a.pt").toString(), "--data", "digits", "--train-limit", "256", "--recalibrate-bn", "2",
                "--format", "json", "--quiet");
        assertEquals(0, r.code(), r.err());
        Map<?, ?> json = (Map<?, ?>) Json.parse(r.out());
        List<?> results = (List<?>) json.get("results");
        assertEquals("recalibrate-bn:2", ((Map<?, ?>) results.get(results.size() - 1)).get("spec"));
        StateDict attacked = Checkpoints.read(dir.resolve("a.pt"));
        assertEquals(2f, attacked.get("features.1.num_batches_tracked").readFloats()[0]);

        CliRun none = CliRun.of("attack", "--model", model.toString(), "--attack", "quant:4", "--seed", "1", "--out",
                dir.resolve("b.pt").toString(), "--quiet");
        assertEquals(0, none.code(), none.err());
        assertFalse(none.out().contains("recalibrate-bn"), "no data, no recalibration: " + none.out());
        CliRun noData = CliRun.of("attack", "--model", model.toString(), "--attack", "quant:4", "--out",
                dir.resolve("c.pt").toString(), "--recalibrate-bn", "5", "--quiet");
        assertEquals(2, noData.code(), noData.err());
        assertTrue(noData.err().contains("--recalibrate-bn needs"), noData.err());
        assertFalse(Files.exists(dir.resolve("c.pt")));
        // a network given by a spec file is not run: an explicit recalibration is refused, --data alone asks none
        Path spec = dir.resolve("spec.json");
        assertEquals(0, CliRun.of("spec", "--model", model.toString(), "--out", spec.toString()).code());
        CliRun bySpec = CliRun.of("attack", "--model", model.toString(), "--spec", spec.toString(), "--attack", "quant:4",
                "--out", dir.resolve("d.pt").toString(), "--data", "digits", "--recalibrate-bn", "2", "--quiet");
        assertEquals(2, bySpec.code(), bySpec.err());
        assertTrue(bySpec.err().contains("--recalibrate-bn runs the model"), bySpec.err());
        assertFalse(Files.exists(dir.resolve("d.pt")));
        CliRun dataOnly = CliRun.of("attack", "--model", model.toString(), "--spec", spec.toString(), "--attack",
                "quant:4", "--out", dir.resolve("e.pt").toString(), "--data", "digits", "--quiet");
        assertEquals(0, dataOnly.code(), dataOnly.err());
        assertFalse(dataOnly.out().contains("recalibrate-bn"), dataOnly.out());
    }
}
