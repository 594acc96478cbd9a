package lady.attack;

import static lady.attack.AttackTensors.values;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.paper.Paper;
import lady.torch.Torch;

class AttacksTest {
    @Test
    void parsesChains() {
        List<Attack> chain = Attacks.parse("finetune:2,quant:8");
        assertEquals(List.of(FinetuneAttack.of(2), new QuantAttack(8)), chain);
        FinetuneAttack f = (FinetuneAttack) chain.get(0);
        assertEquals(Paper.FINETUNE_LR, f.lr());
        assertEquals(Paper.FINETUNE_MOMENTUM, f.momentum());
        assertEquals(Paper.FINETUNE_WEIGHT_DECAY, f.weightDecay());
        assertEquals(Paper.FINETUNE_BATCH_SIZE, f.batchSize());
        assertEquals("finetune:2,quant:8", Attacks.spec(chain));
        assertEquals(List.of(new NoiseAttack(0.5), new PruneAttack(99)), Attacks.parse(" noise:0.5 , PRUNE:99 "));
        assertEquals("noise:0.5", new NoiseAttack(0.5).spec());
        assertEquals("prune:91", new PruneAttack(91).spec());
        assertEquals(List.of(), Attacks.parse("none"));
        assertEquals("none", Attacks.spec(List.of()));
    }

    @Test
    void everyTable1LevelParsesAndRoundTrips() {
        List<String> specs = new ArrayList<>();
        Paper.NOISE_OMEGAS.forEach(o -> specs.add(new NoiseAttack(o).spec()));
        Paper.FINETUNE_EPOCHS.forEach(e -> specs.add(FinetuneAttack.of(e).spec()));
        Paper.QUANT_BITS.forEach(b -> specs.add(new QuantAttack(b).spec()));
        Paper.PRUNE_PERCENTS.forEach(t -> specs.add(new PruneAttack(t).spec()));
        assertEquals(5 + 4 + 5 + 5, specs.size());
        for (String s : specs) {
            assertEquals(s, Attacks.parseOne(s).spec());
        }
        assertTrue(specs.contains("noise:7") && specs.contains("quant:16") && specs.contains("prune:99"));
    }

    @Test
    void parseErrorsAreClear() {
        assertUsage("nois:7", "unknown attack 'nois'; expected noise, finetune, quant, prune, scale, dummy, split or nso");
        assertUsage("noise", "attack 'noise' needs a level: noise:OMEGA");
        assertUsage("quant:", "attack 'quant' needs a level: quant:BITS");
        assertUsage("quant:8.5", "level of attack 'quant' must be an integer, got '8.5'");
        assertUsage("noise:abc", "level of attack 'noise' must be a number, got 'abc'");
        assertUsage("noise:NaN", "must be a number");
        assertUsage("noise:-1", "Omega must be a finite number >= 0");
        assertUsage("prune:101", "pruning rate T must be a percentage in [0, 100]");
        assertUsage("quant:0", "bits B must be an integer in [1, 24]");
        assertUsage("finetune:-2", "epochs Theta must be >= 0");
        assertUsage("noise:1,,quant:8", "empty attack in the list");
    }

    private static void assertUsage(String spec, String fragment) {
        LadyException e = assertThrows(LadyException.class, () -> Attacks.parse(spec));
        assertEquals(LadyException.Kind.USAGE, e.kind(), e.getMessage());
        assertTrue(e.getMessage().contains(fragment), e.getMessage());
    }

    @Test
    void chainsApplyInOrderWithTheFineTunerAndDerivedSeeds() {
        Torch.init();
        String layer = "features.3.weight";
        List<String> weights = List.of("features.0.weight", layer, "classifier.weight");
        List<Long> seeds = new ArrayList<>();
        FineTuner fake = (state, attack, seed, progress) -> {
            seeds.add(seed);
            assertEquals(2, attack.epochs());
            // a "training" that moves the attacked weight, so the order of the chain is visible
            float[] w = values(state.get(layer));
            for (int i = 0; i < w.length; i++) {
                w[i] += 0.001f * (i % 7);
            }
            state.get(layer).writeFloats(w);
        };
        AttackContext ctx = AttackContext.of(layer, 99).withWeights(weights).withFineTuner(fake);
        StateDict a = AttackTensors.smallNet(8);
        StateDict b = AttackTensors.smallNet(8);
        List<AttackResult> ra = Attacks.apply(Attacks.parse("finetune:2,quant:2,noise:1"), a, ctx);
        Attacks.apply(Attacks.parse("finetune:2,quant:2,noise:1"), b, ctx);
        assertEquals(List.of("finetune:2", "quant:2", "noise:1"), ra.stream().map(AttackResult::spec).toList());
        assertEquals(2, seeds.size());
        assertEquals(seeds.get(0), seeds.get(1), "same seed -> same fine-tuning seed");
        assertArrayEquals(values(a.get(layer)), values(b.get(layer)), "same seed -> same bytes");
        // quant:2 came before noise: the other quantized weights keep at most 4 values
        assertTrue(Arrays.stream(boxed(values(a.get("classifier.weight")))).distinct().count() <= 4);
        assertTrue(Arrays.stream(boxed(values(a.get(layer)))).distinct().count() > 4, "noise came last");

        // two noise attacks in one chain draw different noise
        StateDict c = AttackTensors.smallNet(8);
        StateDict d = AttackTensors.smallNet(8);
        Attacks.apply(Attacks.parse("noise:1,noise:1"), c, ctx);
        new NoiseAttack(1).apply(d, ctx);
        new NoiseAttack(1).apply(d, ctx);
        assertFalse(Arrays.equals(values(c.get(layer)), values(d.get(layer))));

        LadyException e = assertThrows(LadyException.class,
                () -> FinetuneAttack.of(2).apply(AttackTensors.smallNet(8), AttackContext.of(layer, 1)));
        assertEquals(LadyException.Kind.USAGE, e.kind());
        assertTrue(e.getMessage().contains("no fine-tuner"), e.getMessage());
    }

    private static Float[] boxed(float[] a) {
        Float[] b = new Float[a.length];
        for (int i = 0; i < a.length; i++) {
            b[i] = a[i];
        }
        return b;
    }

    /**
     * Hugging Face checkpoints are mostly bfloat16: noise, pruning and quantization read half-precision weights
     * exactly as float32, attack them there, and store the result in the tensor's own dtype, rounded to the nearest;
     * the same attack on the float32 copy of the same values, rounded, gives the same bits. The quantization's
     * reported largest change is the stored one.
     */
    /** a.weight small, b.weight (the attacked layer) over one conversion chunk of a million values. */
    private static lady.tensor.HostTensor original(String name, lady.tensor.DType dtype) {
        long[] shape = name.equals("a.weight") ? new long[] {24, 10} : new long[] {1031, 1024};
        return AttackTensors.tensor(AttackTensors.uniform(name.length() + 11, (int) (shape[0] * shape[1]), -0.6, 0.5),
                shape).converted(dtype);
    }

    @Test
    void halfPrecisionWeightsAreAttackedAsFloat32AndStoredInTheirDtype() {
        for (lady.tensor.DType dtype : List.of(lady.tensor.DType.BFLOAT16, lady.tensor.DType.FLOAT16)) {
            for (String spec : List.of("noise:2", "prune:40", "quant:5")) {
                StateDict half = new StateDict();
                StateDict wide = new StateDict();
                for (String name : List.of("a.weight", "b.weight")) {
                    lady.tensor.HostTensor h = original(name, dtype);
                    half.put(name, h);
                    wide.put(name, h.toFloat32());
                }
                AttackContext context = AttackContext.of("b.weight", 5).withWeights(List.of("a.weight", "b.weight"));
                List<AttackResult> h = Attacks.apply(Attacks.parse(spec), half, context);
                List<AttackResult> w = Attacks.apply(Attacks.parse(spec), wide, context);
                assertEquals(w.get(0).tensors(), h.get(0).tensors(), spec);
                for (String name : List.of("a.weight", "b.weight")) {
                    assertEquals(dtype, half.get(name).dtype(), spec + " keeps the dtype");
                    float[] expected = values(wide.get(name));
                    float[] got = values(half.get(name));
                    for (int i = 0; i < expected.length; i++) {
                        expected[i] = FloatData.storable(dtype, expected[i]);
                    }
                    assertArrayEquals(expected, got, dtype + " " + spec + " " + name);
                }
                if (spec.startsWith("quant")) {
                    double max = 0;
                    for (String name : List.of("a.weight", "b.weight")) {
                        float[] before = values(original(name, dtype));
                        float[] after = values(half.get(name));
                        for (int i = 0; i < before.length; i++) {
                            max = Math.max(max, Math.abs((double) after[i] - before[i]));
                        }
                    }
                    assertEquals(max, (double) h.get(0).details().get("max_abs_change"), 0.0, dtype + " " + spec);
                }
            }
        }
        StateDict ints = new StateDict();
        ints.put("a.weight", lady.tensor.HostTensor.allocate(lady.tensor.DType.INT64, 3, 4));
        LadyException e = assertThrows(LadyException.class, () -> Attacks.apply(Attacks.parse("noise:1"), ints,
                AttackContext.of("a.weight", 1)));
        assertTrue(e.getMessage().contains("attacks work on float32, bfloat16 and float16 weights"), e.getMessage());
    }
}
