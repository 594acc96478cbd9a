package lady.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.data.Dataset;
import lady.data.Digits;
import lady.model.Model;
import lady.model.ModelOptions;
import lady.model.Models;
import lady.progress.ProgressListener;
import lady.tensor.HostTensor;
import lady.torch.Torch;
import lady.torch.TorchTensors;

@Tag("cpu-sensitive")
class TrainerTest {
    static Dataset train;
    static Dataset test;

    @BeforeAll
    static void data() {
        Torch.init();
        train = Digits.train();
        test = Digits.test().limit(500);
    }

    static Model toy(long seed) {
        Trainer.seedLibtorch(seed);
        return Models.create("toynet", ModelOptions.defaults());
    }

    @Test
    void oneEpochLowersTheLossAndLearnsDigits() {
        Model model = toy(1);
        Dataset subset = train.limit(768);
        Evaluator eval = new Evaluator(256);
        EvalResult before = eval.evaluate(model, subset);
        TrainConfig config = TrainConfig.paper(1).withBatchSize(32).withLr(0.05).withSeed(3);
        List<String> tasks = new ArrayList<>();
        List<Map<String, ?>> metrics = new ArrayList<>();
        long[] units = {0};
        model.train(false);
        List<EpochStats> history = new Trainer(config).progress(new ProgressListener() {
            @Override
            public void start(String task, long total, String unit) {
                tasks.add(task + " " + total + " " + unit);
            }

            @Override
            public void advance(long n, Map<String, ?> m) {
                units[0] += n;
                metrics.add(m);
            }

            @Override
            public void finish() {
                tasks.add("finish");
            }
        }).train(model, subset);
        EvalResult after = eval.evaluate(model, subset);
        EvalResult testResult = eval.evaluate(model, test);

        assertEquals(1, history.size());
        EpochStats s = history.get(0);
        assertEquals(768, s.images());
        assertEquals(0.05, s.lr(), 1e-12);
        assertTrue(Double.isFinite(s.loss()) && s.loss() > 0, "loss " + s.loss());
        assertTrue(after.loss() < 0.9 * before.loss(), "loss before " + before.loss() + ", after " + after.loss());
        assertTrue(testResult.errorPct() < 90, "test error " + testResult.errorPct());
        assertEquals(List.of("train epoch 1/1 768 img", "finish"), tasks.subList(0, 2));
        assertEquals(768, units[0]);
        assertEquals(24, metrics.size());
        assertTrue(metrics.get(23).keySet().containsAll(List.of("loss", "img/s", "lr")), metrics.get(23).toString());
        assertFalse(model.module().is_training(), "the model's mode before training (eval) is restored");
    }

    /** Two deterministic runs with libtorch set to 2 threads: the same bytes (on every CPU: they train on one thread). */
    @Test
    void deterministicModeGivesIdenticalWeightBytesAndAnotherSeedDoesNot() {
        int saved = torch.get_num_threads();
        torch.set_num_threads(2);
        try {
            byte[][] a = trainVgg(0.125, 11, 5);
            byte[][] b = trainVgg(0.125, 11, 5);
            byte[][] c = trainVgg(0.125, 11, 6);
            assertEquals(a.length, b.length);
            for (int i = 0; i < a.length; i++) {
                assertArrayEquals(a[i], b[i], "tensor " + i + " differs between two deterministic runs with the same seed");
            }
            boolean differs = false;
            for (int i = 0; i < a.length; i++) {
                differs |= !java.util.Arrays.equals(a[i], c[i]);
            }
            assertTrue(differs, "another data seed must give other weights");
        } finally {
            torch.set_num_threads(saved);
        }
    }

    /**
     * Whether oneDNN's multi-threaded backward pass is bit-reproducible depends on the kernels it picks for
     * the CPU, so deterministic training runs on one thread for every model (here one whose channel counts
     * are all multiples of 16, which the old rule trained on every thread); {@code deterministic(false)}
     * keeps libtorch's thread count. Both restore it afterwards.
     */
    @Test
    void deterministicTrainingRunsOnOneThreadForEveryModelAndNonDeterministicOnAll() {
        int saved = torch.get_num_threads();
        torch.set_num_threads(2);
        try {
            assertTrue(new Trainer(TrainConfig.paper(1)).oneThread(), "deterministic by default: one thread");
            assertFalse(new Trainer(TrainConfig.paper(1)).deterministic(false).oneThread(), "--no-deterministic: all");
            for (boolean deterministic : new boolean[] {true, false}) {
                Trainer.seedLibtorch(3);
                Model quarter = Models.create("vgg16_cifar", ModelOptions.defaults().withWidth(0.25));
                List<Integer> threads = new ArrayList<>();
                ProbeTerm probe = new ProbeTerm(() -> threads.add(torch.get_num_threads()));
                new Trainer(TrainConfig.paper(1).withBatchSize(32).withLimit(64)).deterministic(deterministic)
                        .lossTerm(probe).train(quarter, train);
                int expected = deterministic ? 1 : 2;
                assertEquals(List.of(expected, expected), threads, "libtorch threads during each step, deterministic "
                        + deterministic);
                assertEquals(2, torch.get_num_threads(), "thread count restored");
            }
        } finally {
            torch.set_num_threads(saved);
        }
    }

    /** Issue 20, item 10: the next batch is assembled on a background thread, and the weights are the same bytes. */
    @Test
    void batchesAssembledAheadGiveTheSameWeights() {
        trainToy(true); // starts the assembly thread if no test did yet
        Thread assembly = Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().equals("lady-batch-assembly")).findFirst().orElseThrow();
        java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
        long before = mx.getThreadCpuTime(assembly.getId());
        byte[][] ahead = trainToy(true);
        assertTrue(mx.getThreadCpuTime(assembly.getId()) > before, "the trainer assembled batches on the background thread");
        byte[][] inline = trainToy(false);
        for (int i = 0; i < ahead.length; i++) {
            assertArrayEquals(inline[i], ahead[i], "tensor " + i);
        }
    }

    private static byte[][] trainToy(boolean prefetch) {
        Model model = toy(12);
        new Trainer(TrainConfig.paper(2).withBatchSize(48).withLimit(200).withSeed(4)).prefetch(prefetch)
                .train(model, train);
        return bytes(model.stateDict());
    }

    /** vgg16_cifar at {@code width} (with dropout) trained on 256 digits by the default trainer; the weights' bytes. */
    private static byte[][] trainVgg(double width, long initSeed, long dataSeed) {
        Trainer.seedLibtorch(initSeed);
        Model model = Models.create("vgg16_cifar", ModelOptions.defaults().withWidth(width));
        int threads = torch.get_num_threads();
        new Trainer(TrainConfig.paper(1).withBatchSize(64).withSeed(dataSeed).withLimit(256)).train(model, train);
        assertEquals(threads, torch.get_num_threads(), "thread count restored");
        return bytes(model.stateDict());
    }

    private static byte[][] bytes(StateDict sd) {
        byte[][] out = new byte[sd.size()][];
        int i = 0;
        for (Map.Entry<String, HostTensor> e : sd) {
            HostTensor t = e.getValue();
            out[i] = new byte[(int) t.byteSize()];
            t.bytes(0, out[i].length).get(out[i]);
            i++;
        }
        return out;
    }

    @Test
    void lossTermIsAddedAndReported() {
        Model model = toy(2);
        LossTerm l2 = new LossTerm() {
            @Override
            public String name() {
                return "l2";
            }

            @Override
            public Tensor compute(Model m) {
                return m.module().named_parameters().get("fc2.weight").pow(new org.bytedeco.pytorch.Scalar(2.0)).sum();
            }
        };
        double before = TorchTensors.get(model.stateDict(), "fc2.weight").pow(new org.bytedeco.pytorch.Scalar(2.0)).sum().item_double();
        List<EpochStats> h = new Trainer(TrainConfig.paper(1).withBatchSize(64).withLimit(256).withLr(0.05))
                .lossTerm(l2).train(model, train);
        double after = TorchTensors.get(model.stateDict(), "fc2.weight").pow(new org.bytedeco.pytorch.Scalar(2.0)).sum().item_double();
        EpochStats s = h.get(0);
        assertEquals(List.of("l2"), List.copyOf(s.terms().keySet()));
        assertTrue(s.terms().get("l2") > 0);
        assertTrue(s.loss() > s.crossEntropy(), "total " + s.loss() + " includes the term, ce " + s.crossEntropy());
        assertTrue(after < before, "the term pulls fc2's norm down: " + before + " -> " + after);
        assertThrows(LadyException.class, () -> new Trainer(TrainConfig.paper(1)).lossTerm(l2).lossTerm(l2));
    }

    @Test
    void fineTunerTrainsTheStateDictInPlace() {
        Model model = toy(8);
        StateDict state = model.stateDict();
        StateDict before = state.copy();
        lady.attack.FinetuneAttack attack = new lady.attack.FinetuneAttack(1, 0.01, 0.9, 1e-4, 100);
        new DatasetFineTuner(train.limit(200), null).fineTune(state, attack, 3, ProgressListener.NONE);
        assertEquals(before.names(), state.names());
        double moved = 0;
        for (String name : state.names()) {
            assertArrayEquals(before.shape(name), state.shape(name));
            moved += TorchTensors.get(state, name).sub(TorchTensors.get(before, name)).abs().max().item_double();
        }
        assertTrue(moved > 0, "fine-tuning changed the weights");
    }

    @Test
    void stepLrAndPresets() {
        TrainConfig p = TrainConfig.paper(120);
        assertEquals(0.01, p.lrAt(0), 1e-15);
        assertEquals(0.01, p.lrAt(49), 1e-15);
        assertEquals(0.001, p.lrAt(50), 1e-15);
        assertEquals(0.0001, p.lrAt(100), 1e-15);
        assertEquals(128, p.batchSize());
        assertEquals(5e-4, p.weightDecay());
        TrainConfig f = TrainConfig.fineTuning(10);
        assertEquals(100, f.batchSize());
        assertEquals(1e-4, f.weightDecay());
        assertEquals(0.01, f.lrAt(9), 1e-15);
        LadyException e = assertThrows(LadyException.class, () -> p.withLr(-1));
        assertEquals(LadyException.Kind.USAGE, e.kind());
        assertThrows(LadyException.class, () -> p.withBatchSize(0));
        assertThrows(LadyException.class, () -> p.withMomentum(1.0));
    }

    /** A loss term on fc2.weight of the toy net; {@code value} builds it from the live parameter. */
    private static LossTerm term(String name, java.util.function.Function<Tensor, Tensor> value) {
        return new LossTerm() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public Tensor compute(Model m) {
                return value.apply(Torch.namedParameters(m.module()).get("fc2.weight"));
            }
        };
    }

    private static LadyException trainToyWith(Model model, LossTerm t, double lr) {
        return assertThrows(LadyException.class, () -> new Trainer(TrainConfig.paper(1).withBatchSize(64).withLimit(256)
                .withLr(lr)).lossTerm(t).train(model, train));
    }

    @Test
    void aNonFiniteLossStopsTrainingNamingTheStep() {
        LadyException e = trainToyWith(toy(4), term("nan", p -> p.sum().mul(new org.bytedeco.pytorch.Scalar(Double.NaN))), 0.01);
        assertEquals(LadyException.Kind.INVALID_INPUT, e.kind());
        assertTrue(e.getMessage().contains("loss is NaN") && e.getMessage().contains("epoch 1, step 1")
                && e.getMessage().contains("nan NaN"), e.getMessage());
    }

    @Test
    void aNonFiniteGradientStopsTrainingBeforeTheUpdateNamingTheParameter() {
        Model model = toy(5);
        StateDict before = model.stateDict();
        // sqrt(p - p) is 0 with an infinite derivative: a finite loss, an infinite gradient for fc2.weight
        LadyException e = trainToyWith(model, term("kink", p -> p.sub(p.detach()).sqrt().sum()), 0.01);
        assertTrue(e.getMessage().contains("gradient of 'fc2.weight' is not finite at epoch 1, step 1"), e.getMessage());
        StateDict after = model.stateDict();
        for (String name : before.names()) {
            assertTrue(before.get(name).sameContent(after.get(name)), name + " must be left as it was before the step");
        }
    }

    @Test
    void anUpdateThatOverflowsStopsTrainingNamingTheParameter() {
        // a finite gradient of 1e30 per element at lr 1e10: the update (1e40) overflows float32
        LadyException e = trainToyWith(toy(6), term("huge", p -> p.sum().mul(new org.bytedeco.pytorch.Scalar(1e30))), 1e10);
        assertTrue(e.getMessage().contains("parameter 'fc2.weight' became non-finite in the update of epoch 1, step 1"),
                e.getMessage());
    }
}
