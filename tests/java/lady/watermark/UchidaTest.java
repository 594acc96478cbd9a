package lady.watermark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.kernels.Backend;
import lady.model.Model;
import lady.model.ModelOptions;
import lady.model.Models;
import lady.paper.Paper;
import lady.permutation.Group;
import lady.permutation.PermutationSpec;
import lady.permutation.Permuter;
import lady.progress.ProgressListener;
import lady.resync.Method;
import lady.resync.ReferenceResync;
import lady.resync.ResyncOptions;
import lady.torch.Torch;
import lady.train.LossTerm;
import lady.train.Trainer;

/**
 * Embedding, extraction and the permutation attack on a narrow VGG16 (width 0.125: features.19 is
 * 64 x 64 x 3 x 3, w_bar length 576). The watermark is embedded by {@link Uchida#embedOnly}: a few SGD
 * steps on the watermark term alone (no data), which is what the regularizer does during training, and fast.
 */
class UchidaTest {
    static Model model;
    static WatermarkKey key;
    static StateDict embedded;
    static double firstLoss;
    static double lastLoss;

    @BeforeAll
    static void embed() {
        Torch.init();
        Trainer.seedLibtorch(4);
        model = Models.create("vgg16_cifar", ModelOptions.defaults().withWidth(0.125));
        key = WatermarkKey.forModel(model.stateDict(), "features.19.weight", 11);
        LossTerm term = Uchida.loss(key);
        firstLoss = term.compute(model).item_double();
        StateDict before = model.stateDict();
        Detection d = Uchida.embedOnly(model, key, 60, 20.0, 0.9);
        lastLoss = term.compute(model).item_double();
        embedded = model.stateDict();
        assertEquals(d.berPct(), Uchida.detect(embedded, key).berPct());
        for (String n : before.names()) { // the embedding-only fine-tune touches the watermarked weight only
            assertEquals(!n.equals(key.layer()), before.get(n).sameContent(embedded.get(n)), n);
        }
    }

    @Test
    void paperLayerNamesTheConvAtThePapersPositionInEveryVgg16Variant() {
        assertEquals("features.19", Uchida.layerFor(Uchida.PAPER_LAYER, "vgg16"));
        assertEquals("features.19", Uchida.layerFor(Uchida.PAPER_LAYER, "vgg16_cifar"));
        assertEquals("features.27", Uchida.layerFor(Uchida.PAPER_LAYER, "vgg16_bn"));
        assertEquals("features.27", Uchida.layerFor(Uchida.PAPER_LAYER, "vgg16_bn_cifar"));
        assertEquals("features.3", Uchida.layerFor("features.3", "vgg16_bn"), "a layer name is taken as it is");
        assertThrows(LadyException.class, () -> Uchida.layerFor(Uchida.PAPER_LAYER, "resnet18"));
        // the Table 1 layer by the same rule: the 8th conv
        assertEquals("features.17", Models.layerFor(Models.PAPER_LAYER, Paper.TABLE1_LAYER_VGG16, "vgg16_cifar"));
        assertEquals("features.24", Models.layerFor(Models.PAPER_LAYER, Paper.TABLE1_LAYER_VGG16, "vgg16_bn_cifar"));
    }

    @Test
    void lossIsLambdaTimesMeanBinaryCrossEntropyInBits() {
        Trainer.seedLibtorch(9);
        Model m = Models.create("vgg16_cifar", ModelOptions.defaults().withWidth(0.125));
        StateDict s = m.stateDict();
        double[] y = Uchida.project(key, Uchida.wBar(s, key.layer()));
        int[] b = key.bits();
        double expected = 0;
        for (int t = 0; t < y.length; t++) {
            double sig = 1 / (1 + Math.exp(-y[t]));
            expected += -(b[t] * Math.log(sig) + (1 - b[t]) * Math.log(1 - sig)) / Math.log(2);
        }
        expected = Paper.UCHIDA_LAMBDA * expected / y.length;
        assertEquals(expected, Uchida.loss(key).compute(m).item_double(), 1e-5 * expected);
    }

    @Test
    void embeddingDrivesTheBerToZero() {
        assertTrue(lastLoss < firstLoss / 10, "wm loss " + firstLoss + " -> " + lastLoss);
        Detection d = Uchida.detect(embedded, key);
        assertEquals(0, d.errors(), "BER " + d.berPct() + " %");
        assertEquals(0.0, d.berPct());
        assertArrayEquals(key.bits(), d.extracted());
        assertTrue(d.minMargin() > 0);
    }

    @Test
    void permutingTheWatermarkedLayersOwnNeuronsLeavesTheBerUnchanged() {
        PermutationSpec spec = model.permutationSpec();
        StateDict suspect = Permuter.apply(embedded, spec, Permuter.random(spec, List.of("features.19"), 5), Backend.CPU);
        assertTrue(!suspect.get("features.19.weight").sameContent(embedded.get("features.19.weight")));
        Detection d = Uchida.detect(suspect, key);
        assertEquals(0, d.errors());
        assertArrayEquals(key.bits(), d.extracted());
    }

    @Test
    void permutingThePreviousLayerBreaksTheWatermarkAndResyncRestoresIt() {
        PermutationSpec spec = model.permutationSpec();
        var perms = Permuter.random(spec, List.of(Paper.UCHIDA_ATTACKED_GROUP_VGG16), 5);
        StateDict suspect = Permuter.apply(embedded, spec, perms, Backend.CPU);
        Detection broken = Uchida.detect(suspect, key);
        assertTrue(broken.berPct() >= 15, "BER after permuting features.17: " + broken.berPct() + " %");

        ReferenceResync.run(embedded, suspect, spec, ResyncOptions.defaults().withMethod(Method.ARGMAX), null,
                ProgressListener.NONE);
        assertEquals(0, Uchida.detect(suspect, key).errors());
        for (String n : embedded.names()) {
            assertTrue(embedded.get(n).sameContent(suspect.get(n)), n + " not restored");
        }
    }

    @Test
    void wholeNetworkPermutationIsUndoneByResync() {
        PermutationSpec spec = model.permutationSpec();
        var perms = Permuter.random(spec, spec.groups().stream().map(Group::name).toList(), 8);
        StateDict suspect = Permuter.apply(embedded, spec, perms, Backend.CPU);
        assertTrue(Uchida.detect(suspect, key).berPct() >= 15);
        ReferenceResync.run(embedded, suspect, spec, ResyncOptions.defaults().withMethod(Method.ARGMAX), null,
                ProgressListener.NONE);
        assertEquals(0.0, Uchida.detect(suspect, key).berPct());
    }

    @Test
    void keyOfAnotherWidthIsRefusedByDetectionAndEmbedding() {
        WatermarkKey wide = WatermarkKey.generate("features.19.weight", 1152, 64, Paper.UCHIDA_P_ONE, 1, 0.1);
        LadyException e = assertThrows(LadyException.class, () -> Uchida.detect(embedded, wide));
        assertTrue(e.getMessage().contains("1152") && e.getMessage().contains("576"), e.getMessage());
        LadyException e2 = assertThrows(LadyException.class, () -> Uchida.loss(wide).compute(model));
        assertTrue(e2.getMessage().contains("1152") && e2.getMessage().contains("576"), e2.getMessage());
        assertEquals(LadyException.Kind.INVALID_INPUT, e2.kind());
    }

    @Test
    void layerNamesResolveFromGroupOrTensorName() {
        assertEquals("features.19.weight", Uchida.weightName(embedded, "features.19"));
        assertEquals("features.19.weight", Uchida.weightName(embedded, "features.19.weight"));
        LadyException e = assertThrows(LadyException.class, () -> Uchida.weightName(embedded, "features.99"));
        assertTrue(e.getMessage().contains("features.99"));
        assertThrows(LadyException.class, () -> Uchida.weightName(embedded, "features.19.bias"));
    }

    @Test
    void thePapersLayerIsFoundByPositionAmongTheConvolutionsOfEveryVgg16() {
        ModelOptions o = ModelOptions.defaults().withWidth(0.5);
        assertEquals(Paper.UCHIDA_LAYER_VGG16, Uchida.vgg16Layer(Models.describe("vgg16", o)));
        assertEquals(Paper.UCHIDA_LAYER_VGG16, Uchida.vgg16Layer(Models.describe("vgg16_cifar", o)));
        // batch norm adds a layer after each conv: the 9th conv is features.27, fed by the 8th, features.24
        assertEquals("features.27", Uchida.vgg16Layer(Models.describe("vgg16_bn", o)));
        assertEquals("features.27", Uchida.vgg16Layer(Models.describe("vgg16_bn_cifar", o)));
        assertEquals(Paper.UCHIDA_ATTACKED_GROUP_VGG16, Uchida.producerGroup(
                Models.describe("vgg16_cifar", o).permutationSpec(), Paper.UCHIDA_LAYER_VGG16 + ".weight"));
        assertEquals("features.24", Uchida.producerGroup(
                Models.describe("vgg16_bn_cifar", o).permutationSpec(), "features.27.weight"));
        LadyException e = assertThrows(LadyException.class, () -> Uchida.vgg16Layer(Models.describe("resnet18", o)));
        assertTrue(e.getMessage().contains("not a VGG16"), e.getMessage());
        assertThrows(LadyException.class, () -> Uchida.producerGroup(
                Models.describe("vgg16_cifar", o).permutationSpec(), "features.0.weight"));
    }
}
