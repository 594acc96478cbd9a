package lady.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.permutation.Group;
import lady.permutation.PermutationSpec;
import lady.permutation.Role;
import lady.torch.TorchTensors;

/**
 * BERT, RoBERTa and DistilBERT from shapes and config.json (no Python): their groups, that permuting every group keeps
 * the outputs, and the teeth: a q dimension moved without its k dimension changes them, and every token sees every
 * other (the attention is not causal).
 */
class EncoderFamilyTest {
    static final long VOCAB = 40, HIDDEN = 16, HEADS = 2, HEAD_DIM = HIDDEN / HEADS, INTER = 24, POSITIONS = 12;
    static final long LABELS = 3;
    static final int LAYERS = 2;

    private static void linear(Map<String, long[]> s, String m, long out, long in) {
        s.put(m + ".weight", new long[] {out, in});
        s.put(m + ".bias", new long[] {out});
    }

    private static void norm(Map<String, long[]> s, String m) {
        s.put(m + ".weight", new long[] {HIDDEN});
        s.put(m + ".bias", new long[] {HIDDEN});
    }

    /** BertForMaskedLM's or BertForSequenceClassification's tensors under {@code p} ("bert." or "roberta."). */
    static Map<String, long[]> bert(String p, String head) {
        Map<String, long[]> s = new LinkedHashMap<>();
        s.put(p + "embeddings.word_embeddings.weight", new long[] {VOCAB, HIDDEN});
        s.put(p + "embeddings.position_embeddings.weight", new long[] {POSITIONS, HIDDEN});
        s.put(p + "embeddings.token_type_embeddings.weight", new long[] {2, HIDDEN});
        norm(s, p + "embeddings.LayerNorm");
        for (int i = 0; i < LAYERS; i++) {
            String l = p + "encoder.layer." + i;
            for (String x : List.of(".attention.self.query", ".attention.self.key", ".attention.self.value",
                    ".attention.output.dense")) {
                linear(s, l + x, HIDDEN, HIDDEN);
            }
            norm(s, l + ".attention.output.LayerNorm");
            linear(s, l + ".intermediate.dense", INTER, HIDDEN);
            linear(s, l + ".output.dense", HIDDEN, INTER);
            norm(s, l + ".output.LayerNorm");
        }
        if (head.equals("mlm")) {
            linear(s, "cls.predictions.transform.dense", HIDDEN, HIDDEN);
            norm(s, "cls.predictions.transform.LayerNorm");
            s.put("cls.predictions.bias", new long[] {VOCAB});
        } else if (head.equals("seq")) {
            linear(s, p + "pooler.dense", HIDDEN, HIDDEN);
            linear(s, "classifier", LABELS, HIDDEN);
        } else if (head.equals("tokens")) {
            linear(s, "classifier", LABELS, HIDDEN);
        } else {
            linear(s, p + "pooler.dense", HIDDEN, HIDDEN);
        }
        return s;
    }

    static final Map<String, Object> BERT_CONFIG = Map.of("model_type", "bert", "num_attention_heads", HEADS,
            "hidden_size", HIDDEN, "intermediate_size", INTER, "num_hidden_layers", LAYERS);

    /** DistilBertModel's tensors, saved without a prefix. */
    static Map<String, long[]> distilbert() {
        Map<String, long[]> s = new LinkedHashMap<>();
        s.put("embeddings.word_embeddings.weight", new long[] {VOCAB, HIDDEN});
        s.put("embeddings.position_embeddings.weight", new long[] {POSITIONS, HIDDEN});
        norm(s, "embeddings.LayerNorm");
        for (int i = 0; i < LAYERS; i++) {
            String l = "transformer.layer." + i;
            for (String x : List.of("q_lin", "k_lin", "v_lin", "out_lin")) {
                linear(s, l + ".attention." + x, HIDDEN, HIDDEN);
            }
            norm(s, l + ".sa_layer_norm");
            linear(s, l + ".ffn.lin1", INTER, HIDDEN);
            linear(s, l + ".ffn.lin2", HIDDEN, INTER);
            norm(s, l + ".output_layer_norm");
        }
        return s;
    }

    /** ViTForImageClassification's tensors: 2 x 2 patches of 4 pixels, 3 channels. */
    static Map<String, long[]> vit() {
        Map<String, long[]> s = new LinkedHashMap<>();
        s.put("vit.embeddings.cls_token", new long[] {1, 1, HIDDEN});
        s.put("vit.embeddings.position_embeddings", new long[] {1, 5, HIDDEN});
        s.put("vit.embeddings.patch_embeddings.projection.weight", new long[] {HIDDEN, 3, 4, 4});
        s.put("vit.embeddings.patch_embeddings.projection.bias", new long[] {HIDDEN});
        for (int i = 0; i < LAYERS; i++) {
            String l = "vit.encoder.layer." + i;
            for (String x : List.of(".attention.attention.query", ".attention.attention.key", ".attention.attention.value",
                    ".attention.output.dense")) {
                linear(s, l + x, HIDDEN, HIDDEN);
            }
            norm(s, l + ".layernorm_before");
            linear(s, l + ".intermediate.dense", INTER, HIDDEN);
            linear(s, l + ".output.dense", HIDDEN, INTER);
            norm(s, l + ".layernorm_after");
        }
        norm(s, "vit.layernorm");
        linear(s, "classifier", LABELS, HIDDEN);
        return s;
    }

    static final Map<String, Object> VIT_CONFIG = Map.of("model_type", "vit", "num_attention_heads", HEADS,
            "hidden_size", HIDDEN, "image_size", 8L, "patch_size", 4L);

    static final Map<String, Object> DISTILBERT_CONFIG = Map.of("model_type", "distilbert", "n_heads", HEADS, "dim",
            HIDDEN, "hidden_dim", INTER, "n_layers", LAYERS);

    @Test
    void groupsAreTheStreamTheHeadsTheirDimensionsTheMlpUnitsAndThePooler() {
        ModelConfig mc = Models.infer(bert("bert.", "seq"), null, BERT_CONFIG);
        assertEquals("bert", mc.architecture());
        PermutationSpec spec = mc.description().permutationSpec();
        // the stream; per layer the heads, per head its q/k dimensions (all: no rotary) and its v dimensions, the MLP;
        // the pooler's units, read by the classifier
        assertEquals(1 + LAYERS * (1 + 2 * HEADS + 1) + 1, spec.groups().size());
        assertEquals(HEAD_DIM, spec.group("bert.encoder.layer.1.attention.qk_pass.0").orElseThrow().size());
        Group pooler = spec.group("bert.pooler.dense").orElseThrow();
        assertEquals(List.of("classifier.weight"), pooler.members(Role.CONSUMER_WEIGHT).stream().map(m -> m.tensor())
                .toList());
        Group stream = spec.group("stream.bert").orElseThrow();
        assertTrue(stream.members(Role.PRODUCER_WEIGHT).stream().anyMatch(m -> m.tensor().equals(
                "bert.embeddings.token_type_embeddings.weight")), "the token types' columns move with the stream");
        // the classifier's rows are classes, not a vocabulary
        assertEquals(List.of("bert.embeddings.word_embeddings.weight"), mc.description().vocabularyTensors());

        // a masked-LM head tied to the embedding: its dense rows and its norm are in the stream's order
        ModelConfig mlm = Models.infer(bert("bert.", "mlm"), null, BERT_CONFIG);
        PermutationSpec m = mlm.description().permutationSpec();
        assertEquals(1 + LAYERS * (1 + 2 * HEADS + 1), m.groups().size());
        assertTrue(m.groups().get(0).members(Role.PRODUCER_WEIGHT).stream().anyMatch(x -> x.tensor().equals(
                "cls.predictions.transform.dense.weight")));
        assertEquals(List.of("bert.embeddings.word_embeddings.weight", "cls.predictions.bias"),
                mlm.description().vocabularyTensors());

        // the decoder saved although tied (bert-base-uncased): transformers ties it again on load, so the head still
        // reads the stream's order; saved with tie_word_embeddings false, its hidden units are a group of their own
        Map<String, long[]> saved = bert("bert.", "mlm");
        saved.put("cls.predictions.decoder.weight", new long[] {VOCAB, HIDDEN});
        saved.put("cls.predictions.decoder.bias", new long[] {VOCAB});
        PermutationSpec tied = Models.infer(saved, null, BERT_CONFIG).description().permutationSpec();
        assertEquals(m.groups().size(), tied.groups().size());
        assertTrue(tied.groups().get(0).members(Role.CONSUMER_WEIGHT).stream().anyMatch(x -> x.tensor().equals(
                "cls.predictions.decoder.weight")), "the saved decoder's columns move with the stream");
        Map<String, Object> untie = new LinkedHashMap<>(BERT_CONFIG);
        untie.put("tie_word_embeddings", false);
        PermutationSpec untied = Models.infer(saved, null, untie).description().permutationSpec();
        assertEquals(HIDDEN, untied.group("cls.predictions.transform.dense").orElseThrow().size());
    }

    /** BERT's names under roberta., or without a prefix where config.json's model_type names RoBERTa's layout. */
    @Test
    void robertaIsToldByItsPrefixOrItsModelType() {
        Map<String, Object> config = new LinkedHashMap<>(BERT_CONFIG);
        config.put("model_type", "xlm-roberta");
        assertEquals("roberta", Models.infer(bert("roberta.", "mlm"), null, BERT_CONFIG).architecture());
        assertEquals("roberta", Models.infer(bert("", "base"), null, config).architecture());
        assertEquals("bert", Models.infer(bert("", "base"), null, BERT_CONFIG).architecture());
        Map<String, Object> electra = new LinkedHashMap<>(BERT_CONFIG);
        electra.put("model_type", "electra");
        assertEquals("electra", Models.infer(bert("electra.", "tokens"), null, electra).architecture());
        assertEquals("electra", Models.infer(bert("", "tokens"), null, electra).architecture());
        assertEquals("distilbert", Models.infer(distilbert(), null, DISTILBERT_CONFIG).architecture());
        ModelConfig vit = Models.infer(vit(), null, VIT_CONFIG);
        assertEquals("vit", vit.architecture());
        assertEquals(8, vit.options().inputSize(), "2 x 2 patches of 4 pixels");
        assertEquals(LABELS, vit.options().numClasses());
        Map<String, long[]> deit = new LinkedHashMap<>();
        vit().forEach((n, shape) -> deit.put(n.replace("vit.", "deit."), shape));
        deit.put("deit.embeddings.distillation_token", new long[] {1, 1, HIDDEN});
        deit.put("deit.embeddings.position_embeddings", new long[] {1, 6, HIDDEN}); // 2 x 2 patches and 2 tokens
        Map<String, Object> deitConfig = new LinkedHashMap<>(VIT_CONFIG);
        deitConfig.put("model_type", "deit");
        ModelConfig dc = Models.infer(deit, null, deitConfig);
        assertEquals("deit", dc.architecture());
        assertEquals(8, dc.options().inputSize());
        Map<String, Object> wrong = new LinkedHashMap<>(VIT_CONFIG);
        wrong.put("image_size", 16L);
        LadyException e = assertThrows(LadyException.class, () -> Models.infer(vit(), null, wrong));
        assertTrue(e.getMessage().contains("config.json says image_size 16, but the checkpoint has 8"), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"bert", "roberta", "distilbert", "vit"})
    void permutingEveryGroupKeepsTheOutputs(String variant) {
        Map<String, Object> roberta = new LinkedHashMap<>(BERT_CONFIG);
        roberta.put("model_type", "roberta");
        roberta.put("pad_token_id", 3L);
        ModelConfig mc = variant.equals("bert") ? Models.infer(bert("bert.", "mlm"), null, BERT_CONFIG)
                : variant.equals("roberta") ? Models.infer(bert("roberta.", "seq"), null, roberta)
                : variant.equals("vit") ? Models.infer(vit(), null, VIT_CONFIG)
                : Models.infer(distilbert(), null, DISTILBERT_CONFIG);
        assertEquals(variant, mc.architecture());
        ModelTesting.Probed probed = ModelTesting.everyGroupPermuted(mc);
        Model model = probed.model();
        StateDict state = probed.state();
        Tensor ids = probed.ids();
        // teeth: one q dimension trades places with another of its head without k's doing the same
        StateDict wrong = state.copy();
        String q = variant.equals("distilbert") ? "transformer.layer.0.attention.q_lin.weight"
                : variant + ".encoder.layer.0.attention." + (variant.equals("vit") ? "attention" : "self") + ".query.weight";
        Tensor t = TorchTensors.get(wrong, q).clone();
        Tensor a = t.select(0, 0).clone();
        t.select(0, 0).copy_(t.select(0, 1));
        t.select(0, 1).copy_(a);
        TorchTensors.put(wrong, q, t.contiguous());
        assertTrue(PermutationCheck.maxLogitDiff(model, wrong, ids) > 1e-3);
    }

    /** Every token sees every token: a change of the last token reaches the first token's output. */
    @Test
    void theAttentionIsBidirectional() {
        lady.torch.Torch.init();
        Model model = Models.infer(bert("bert.", "mlm"), null, BERT_CONFIG).create();
        StateDict state = model.stateDict();
        torch.manual_seed(3);
        for (String name : state.names()) { // (a new model's attention projections are zeros)
            TorchTensors.view(state.get(name)).copy_(torch.randn(state.shape(name)));
        }
        model.load(state);
        Tensor ids = model.probe(1, 4);
        Tensor other = ids.clone();
        long last = ids.size(1) - 1;
        other.select(1, last).fill_(new org.bytedeco.pytorch.Scalar((ids.select(1, last).item_long() + 1) % VOCAB));
        Tensor a = model.forward(ids).select(1, 0);
        Tensor b = model.forward(other).select(1, 0);
        assertTrue(torch.max(torch.abs(a.sub(b))).item_double() > 1e-4, "the first token's logits moved");
    }

    /**
     * A structural attack may widen a pooler a head reads (the classifier's columns take the new neurons), not a base
     * model's, whose neurons are an output's values.
     */
    @Test
    void onlyAPoolerALayerReadsMayBeWidened() {
        ModelConfig base = Models.infer(bert("", "base"), null, BERT_CONFIG);
        lady.graph.StructuralRules.Rule free = lady.graph.StructuralRules.of(base.description().graph(),
                base.description().permutationSpec()).get("pooler.dense");
        assertTrue(free.wideningRefusal() != null && free.wideningRefusal().contains("reach the network's output"),
                String.valueOf(free.wideningRefusal()));
        ModelConfig seq = Models.infer(bert("bert.", "seq"), null, BERT_CONFIG);
        lady.graph.StructuralRules.Rule read = lady.graph.StructuralRules.of(seq.description().graph(),
                seq.description().permutationSpec()).get("bert.pooler.dense");
        assertEquals(null, read.wideningRefusal());
    }

    /** A base model's outputs (the last hidden state and the pooled output) have free channel orders. */
    @Test
    void aBaseModelsOutputsAreFree() {
        lady.torch.Torch.init();
        ModelConfig mc = Models.infer(bert("", "base"), null, BERT_CONFIG);
        boolean[] free = mc.create().freeChannelOutputs();
        assertEquals(2, free.length);
        assertTrue(free[0] && free[1]);
        assertFalse(mc.description().permutationSpec().groups().isEmpty());
    }

    @Test
    void theHeadsComeFromTheConfigurationAndAnUnknownTypeIsNamed() {
        LadyException none = assertThrows(LadyException.class, () -> Models.infer(bert("bert.", "mlm"), null, Map.of()));
        assertTrue(none.getMessage().contains("no config.json came with these weights"), none.getMessage());
        Map<String, Object> layers = new LinkedHashMap<>(BERT_CONFIG);
        layers.put("num_hidden_layers", 3L);
        LadyException e = assertThrows(LadyException.class, () -> Models.infer(bert("bert.", "mlm"), null, layers));
        assertTrue(e.getMessage().contains("config.json says num_hidden_layers 3, but the checkpoint has 2"),
                e.getMessage());
        Map<String, long[]> renamed = new LinkedHashMap<>();
        bert("bert.", "mlm").forEach((n, shape) -> renamed.put(n.replace(".attention.self.", ".attn."), shape));
        e = assertThrows(LadyException.class, () -> Models.infer(renamed, null, Map.of("model_type", "deberta-v2")));
        assertTrue(e.getMessage().contains("model_type 'deberta-v2' is not one Lady reads")
                && e.getMessage().contains("bert, roberta, electra, distilbert, vit, deit, camembert, xlm-roberta"),
                e.getMessage());
        // XLM-RoBERTa is read (as RoBERTa): one whose weights do not fit is told so, not called unknown
        e = assertThrows(LadyException.class, () -> Models.infer(renamed, null, Map.of("model_type", "xlm-roberta")));
        assertTrue(e.getMessage().contains("config.json names 'xlm-roberta', a model type Lady reads"), e.getMessage());
    }
}
