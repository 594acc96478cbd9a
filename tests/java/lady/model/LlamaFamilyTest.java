package lady.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import lady.checkpoint.StateDict;
import lady.kernels.Backend;
import lady.permutation.Group;
import lady.permutation.Permutation;
import lady.permutation.PermutationSpec;
import lady.permutation.Permuter;
import lady.permutation.Role;
import lady.torch.Torch;
import lady.torch.TorchTensors;

/** The Llama family from shapes and config.json: its groups, and that permuting all of them keeps the function. */
class LlamaFamilyTest {
    static final long VOCAB = LlamaShapes.VOCAB, HIDDEN = LlamaShapes.HIDDEN, HEADS = LlamaShapes.HEADS,
            KV = LlamaShapes.KV, HEAD_DIM = LlamaShapes.HEAD_DIM;
    static final int LAYERS = LlamaShapes.LAYERS;
    static final Map<String, Object> CONFIG = LlamaShapes.CONFIG;

    static Map<String, long[]> shapes(boolean tied, boolean biases) {
        return LlamaShapes.shapes(tied, biases);
    }

    /**
     * config.json values of the wrong kind are refused by name, never replaced by a default in silence: a string
     * where a number belongs, a fractional head count, a non-positive rms_norm_eps or Gemma 2 scale or soft cap; a
     * non-positive rope_theta is the forward pass's concern only (the groups stand, running the model is refused).
     */
    @Test
    void configurationValuesOfTheWrongKindAreNamed() {
        for (Object[] c : new Object[][] {{"rope_theta", "abc", "rope_theta 'abc', not a number"},
                {"num_key_value_heads", 1.5, "num_key_value_heads 1.5, not a whole number"},
                {"rms_norm_eps", -1.0, "rms_norm_eps -1.0, not a positive number"}}) {
            Map<String, Object> config = new java.util.LinkedHashMap<>(CONFIG);
            config.put((String) c[0], c[1]);
            lady.LadyException e = org.junit.jupiter.api.Assertions.assertThrows(lady.LadyException.class,
                    () -> Models.infer(shapes(false, false), null, config));
            assertEquals(lady.LadyException.Kind.INVALID_INPUT, e.kind());
            assertTrue(e.getMessage().contains((String) c[2]), e.getMessage());
        }
        for (String key : List.of("query_pre_attn_scalar", "attn_logit_softcapping", "final_logit_softcapping")) {
            Map<String, Object> gemma = new java.util.LinkedHashMap<>(CONFIG); // Gemma 2 divides by each of these
            gemma.put("model_type", "gemma2");
            gemma.put(key, 0.0);
            lady.LadyException e = org.junit.jupiter.api.Assertions.assertThrows(lady.LadyException.class,
                    () -> Models.infer(shapes(true, false), null, gemma));
            assertTrue(e.getMessage().contains("gemma2: config.json gives " + key + " 0.0, not a positive number"),
                    e.getMessage());
        }
        Map<String, Object> config = new java.util.LinkedHashMap<>(CONFIG);
        config.put("rope_theta", -5.0);
        ModelConfig mc = Models.infer(shapes(false, false), null, config);
        assertEquals(LAYERS + 1 + LAYERS * (1 + KV + KV), mc.description().permutationSpec().groups().size(),
                "the groups stand");
        Torch.init();
        lady.LadyException e = org.junit.jupiter.api.Assertions.assertThrows(lady.LadyException.class, mc::create);
        assertTrue(e.getMessage().contains("rope_theta -5.0"), e.getMessage());
    }

    /**
     * The vocabulary tensors are the embedding and the layer writing the logits, also behind an element-wise step
     * after it (Gemma 2's soft cap): an untied Gemma 2 with tokens added is compared on its head's common rows too.
     */
    @Test
    void theHeadIsAVocabularyTensorBehindTheSoftCap() {
        Map<String, Object> config = new java.util.LinkedHashMap<>(CONFIG);
        config.put("model_type", "gemma2");
        config.put("final_logit_softcapping", 30.0);
        ModelConfig mc = Models.infer(shapes(false, false), null, config);
        assertEquals(List.of("model.embed_tokens.weight", "lm_head.weight"), mc.description().vocabularyTensors());
    }

    /**
     * A folder whose config.json names a model type Lady does not know, with Llama's names and shapes (MiniCPM), is read
     * as a Llama with a note saying so and what Lady's forward computes; Granite's multipliers make its own nodes.
     */
    @Test
    void anUnknownModelTypeIsReadByItsTensorsWithANote() {
        Map<String, Object> config = new java.util.LinkedHashMap<>(CONFIG);
        config.put("model_type", "minicpm");
        ModelConfig mc = Models.infer(shapes(false, false), null, config);
        assertEquals("llama", mc.architecture());
        List<String> notes = mc.description().permutationSpec().notes();
        assertTrue(notes.stream().anyMatch(n -> n.contains("model_type 'minicpm' is not one Lady knows")
                && n.contains("--verify")), notes.toString());
        assertTrue(Models.infer(shapes(false, false), null, CONFIG).description().permutationSpec().notes().stream()
                .noneMatch(n -> n.contains("not one Lady knows")));
        config.put("model_type", "granite");
        config.put("residual_multiplier", 0.22);
        ModelConfig granite = Models.infer(shapes(false, false), null, config);
        assertEquals("granite", granite.architecture());
        assertTrue(granite.description().graph().nodes().stream().anyMatch(n -> n.name().endsWith(".mlp_scaled")));
        assertEquals(mc.description().permutationSpec().groups().size(),
                granite.description().permutationSpec().groups().size(), "the multipliers move nothing");
    }

    @Test
    void groupsAreTheStreamTheKvHeadsTheQueryHeadsTheValueDimsAndTheMlpUnits() {
        ModelConfig mc = Models.infer(shapes(false, false), null, CONFIG);
        assertEquals("llama", mc.architecture());
        PermutationSpec spec = mc.description().permutationSpec();
        List<String> names = spec.groups().stream().map(Group::name).toList();
        assertEquals(1 + LAYERS * (1 + 2 + 2 + 1), names.size(), names.toString());
        Group stream = spec.groups().get(0);
        assertEquals(HIDDEN, stream.size());
        assertTrue(stream.name().startsWith("stream."), stream.name());
        Group kv = spec.group("model.layers.0.self_attn.kv_heads").orElseThrow();
        assertEquals(KV, kv.size());
        assertEquals(HEADS / KV * HEAD_DIM, kv.members(Role.PRODUCER_WEIGHT).get(0).block());
        Group q1 = spec.group("model.layers.1.self_attn.q_heads.1").orElseThrow();
        assertEquals(HEADS / KV, q1.size());
        assertEquals(HEADS / KV * HEAD_DIM, q1.members(Role.PRODUCER_WEIGHT).get(0).offset());
        Group v0 = spec.group("model.layers.0.self_attn.v_dims.0").orElseThrow();
        assertEquals(HEAD_DIM, v0.size());
        assertEquals(HEADS / KV, v0.members(Role.CONSUMER_WEIGHT).size());
        Group mlp = spec.group("model.layers.0.mlp.gate_proj").orElseThrow();
        ModelConfig biased = Models.infer(LlamaShapes.shapes(false, true, true), null, CONFIG);
        Group biasedMlp = biased.description().permutationSpec().group("model.layers.0.mlp.gate_proj").orElseThrow();
        assertEquals(List.of("model.layers.0.mlp.gate_proj.bias", "model.layers.0.mlp.up_proj.bias"),
                biasedMlp.members(Role.PRODUCER_BIAS).stream().map(m -> m.tensor()).toList());
        assertTrue(biased.description().permutationSpec().groups().get(0).members().stream()
                .anyMatch(m -> m.tensor().equals("model.layers.1.mlp.down_proj.bias")), "down_proj's bias is in the stream");
        assertEquals(List.of("model.layers.0.mlp.gate_proj.weight", "model.layers.0.mlp.up_proj.weight"),
                mlp.members(Role.PRODUCER_WEIGHT).stream().map(m -> m.tensor()).toList());
    }

    @ParameterizedTest
    @ValueSource(strings = {"untied", "tied", "biases", "llamaBiases"})
    void permutingEveryGroupKeepsTheLogits(String variant) {
        Torch.init();
        ModelConfig mc = Models.infer(LlamaShapes.shapes(variant.equals("tied"), variant.startsWith("biases")
                || variant.equals("llamaBiases"), variant.equals("llamaBiases")), null, CONFIG);
        // without model_type, the shapes name the variant: q/k/v biases alone are Qwen2's, with an o bias Llama's
        assertEquals(variant.equals("biases") ? "qwen2" : "llama", mc.architecture());
        ModelTesting.Probed probed = ModelTesting.everyGroupPermuted(mc);
        Model model = probed.model();
        StateDict state = probed.state();
        Tensor ids = probed.ids();
        // teeth: a permutation of the query heads alone, without the o columns, changes the function
        StateDict wrong = state.copy();
        String q = "model.layers.0.self_attn.q_proj.weight";
        TorchTensors.put(wrong, q, torch.roll(TorchTensors.get(wrong, q), new long[] {HEAD_DIM}, new long[] {0}).contiguous());
        assertTrue(PermutationCheck.maxLogitDiff(model, wrong, ids) > 1e-3);
    }

    /** A tiny Mixtral: {@link LlamaShapes}' model with each MLP replaced by 4 experts of 12 units (layer 1's third 8 wide when
     * {@code unequal}). */
    static Map<String, long[]> mixtralShapes(boolean unequal) {
        Map<String, long[]> s = new java.util.LinkedHashMap<>();
        LlamaShapes.shapes(false, false).forEach((name, shape) -> {
            if (!name.contains(".mlp.")) {
                s.put(name, shape);
            }
        });
        for (int i = 0; i < LAYERS; i++) {
            String m = "model.layers." + i + ".block_sparse_moe";
            s.put(m + ".gate.weight", new long[] {MOE_EXPERTS, HIDDEN});
            for (int e = 0; e < MOE_EXPERTS; e++) {
                long w = unequal && i == 1 && e == 2 ? 8 : 12;
                s.put(m + ".experts." + e + ".w1.weight", new long[] {w, HIDDEN});
                s.put(m + ".experts." + e + ".w2.weight", new long[] {HIDDEN, w});
                s.put(m + ".experts." + e + ".w3.weight", new long[] {w, HIDDEN});
            }
        }
        return s;
    }

    static final long MOE_EXPERTS = 4;

    /**
     * A mixture of experts: the experts' order is a group (the router's rows, each expert's three tensors moving whole
     * with its row) in which each expert's units are nested; permuting every group keeps the logits, and undoing the
     * permutations gives every tensor back; teeth: experts trading places without their router rows, or router rows
     * without their experts, change the logits.
     */
    @Test
    void theExpertsOrderIsAGroupAndEachExpertsUnitsAreNestedInIt() {
        Torch.init();
        Map<String, Object> config = new java.util.LinkedHashMap<>(CONFIG);
        config.put("model_type", "mixtral");
        config.put("num_local_experts", MOE_EXPERTS);
        config.put("num_experts_per_tok", 2L);
        ModelConfig mc = Models.infer(mixtralShapes(false), null, config);
        assertEquals("mixtral", mc.architecture());
        PermutationSpec spec = mc.description().permutationSpec();
        Group experts = spec.group("model.layers.1.block_sparse_moe.experts").orElseThrow();
        assertEquals(MOE_EXPERTS, experts.size());
        assertEquals(List.of("model.layers.1.block_sparse_moe.gate.weight"),
                experts.members(Role.PRODUCER_WEIGHT).stream().map(m -> m.tensor()).toList());
        assertEquals(List.of("model.layers.1.block_sparse_moe.experts.2.w1.weight",
                "model.layers.1.block_sparse_moe.experts.2.w3.weight", "model.layers.1.block_sparse_moe.experts.2.w2.weight"),
                Permuter.wholeTensors(experts).get(2));
        lady.permutation.Nesting nesting = lady.permutation.Nesting.of(spec);
        for (int e = 0; e < MOE_EXPERTS; e++) {
            String units = "model.layers.1.block_sparse_moe.experts." + e;
            assertEquals(12, spec.group(units).orElseThrow().size());
            assertEquals(experts.name(), nesting.outer(units));
            assertEquals(e, nesting.position(units));
        }
        Model model = mc.create();
        StateDict state = model.stateDict();
        torch.manual_seed(3);
        for (String name : state.names()) {
            Tensor t = TorchTensors.view(state.get(name));
            t.copy_(torch.randn(t.sizes().vec().get()).mul_(new org.bytedeco.pytorch.Scalar(0.5)));
        }
        model.load(state);
        Tensor ids = model.probe(2, 11);
        Map<String, Permutation> perms = Permuter.random(spec, spec.groups().stream().map(Group::name).toList(), 5);
        StateDict permuted = Permuter.apply(state, spec, perms, Backend.CPU);
        assertTrue(PermutationCheck.verify(model, permuted, ids) < 1e-4);
        long moved = state.names().stream().filter(n -> !state.get(n).sameContent(permuted.get(n))).count();
        assertTrue(moved >= 0.95 * state.size(), moved + " of " + state.size() + " tensors moved");
        StateDict back = Permuter.apply(permuted, spec, Permuter.inverse(spec, perms), Backend.CPU);
        assertTrue(back.sameTensors(state), "the inverse gives every tensor back");
        Permutation swap = Permutation.of(new long[] {1, 0, 2, 3});
        StateDict together = Permuter.apply(state, spec, Map.of(experts.name(), swap), Backend.CPU);
        assertTrue(PermutationCheck.maxLogitDiff(model, together, ids) < 1e-4, "experts 0 and 1 with their router rows");
        String e0 = "model.layers.1.block_sparse_moe.experts.0.w1.weight";
        assertTrue(together.get(e0).sameContent(state.get(e0.replace("experts.0", "experts.1"))), "moved whole");
        StateDict tensorsOnly = state.copy();
        tensorsOnly.rename(Map.of(e0, e0.replace("experts.0", "experts.1"), e0.replace("experts.0", "experts.1"), e0));
        assertTrue(PermutationCheck.maxLogitDiff(model, tensorsOnly, ids) > 1e-3, "an expert's gate without its router row");
        StateDict rowsOnly = state.copy();
        String router = "model.layers.1.block_sparse_moe.gate.weight";
        TorchTensors.put(rowsOnly, router, torch.roll(TorchTensors.get(rowsOnly, router), new long[] {1}, new long[] {0})
                .contiguous());
        assertTrue(PermutationCheck.maxLogitDiff(model, rowsOnly, ids) > 1e-3, "router rows without their experts");
    }

    /** Experts of different widths (one pruned) cannot trade places: their order stays in place, the spec says why. */
    @Test
    void expertsOfDifferentWidthsKeepTheirOrder() {
        Map<String, Object> config = new java.util.LinkedHashMap<>(CONFIG);
        config.put("model_type", "mixtral");
        PermutationSpec spec = Models.infer(mixtralShapes(true), null, config).description().permutationSpec();
        assertTrue(spec.group("model.layers.0.block_sparse_moe.experts").isPresent());
        assertTrue(spec.group("model.layers.1.block_sparse_moe.experts").isEmpty());
        assertEquals(8, spec.group("model.layers.1.block_sparse_moe.experts.2").orElseThrow().size());
        assertTrue(spec.notes().stream().anyMatch(n -> n.contains("model.layers.1.block_sparse_moe': its experts differ "
                + "in width (12 and 8 units); their order stays in place")), spec.notes().toString());
        assertTrue(spec.fixed().contains("model.layers.1.block_sparse_moe.gate.weight[0]"), spec.fixed().toString());
    }

    /** A mixture of experts in a layout Lady does not read (a router named otherwise) is refused with the ones it reads. */
    @Test
    void anotherExpertsLayoutIsNamedInTheRefusal() {
        Map<String, long[]> s = new java.util.LinkedHashMap<>();
        mixtralShapes(false).forEach((name, shape) -> s.put(name.replace("block_sparse_moe.gate.", "block_sparse_moe.router."),
                shape));
        lady.LadyException e = org.junit.jupiter.api.Assertions.assertThrows(lady.LadyException.class,
                () -> Models.infer(s, null, CONFIG));
        assertTrue(e.getMessage().contains("a mixture of experts ('model.layers.0.block_sparse_moe.experts.0.w1.weight') "
                + "in a layout Lady does not read"), e.getMessage());
    }

    /**
     * A multimodal model's language model: the projector's last layer joins the stream, the vision tower is fixed; a
     * tensor beside them that Lady does not place (LLaVA-NeXT's image_newline, a token in the stream), or no projector
     * it knows, is refused by name.
     */
    @Test
    void aMultimodalModelsProjectorJoinsTheStreamAndItsTowerStays() {
        Map<String, long[]> s = new java.util.LinkedHashMap<>();
        LlamaShapes.shapes(false, false).forEach((name, shape) -> s.put("language_model." + name, shape));
        s.put("vision_tower.vision_model.post_layernorm.weight", new long[] {8});
        s.put("multi_modal_projector.linear_1.weight", new long[] {HIDDEN, 8});
        s.put("multi_modal_projector.linear_2.weight", new long[] {HIDDEN, HIDDEN});
        Map<String, Object> config = Map.of("model_type", "llava", "text_config", CONFIG);
        PermutationSpec spec = Models.infer(s, null, config).description().permutationSpec();
        Group stream = spec.groups().get(0);
        assertTrue(stream.members(Role.PRODUCER_WEIGHT).stream().anyMatch(m -> m.tensor().equals(
                "multi_modal_projector.linear_2.weight") && m.axis() == 0), stream.members().toString());
        assertTrue(spec.fixed().contains("vision_tower.vision_model.post_layernorm.weight"), spec.fixed().toString());
        assertTrue(spec.fixed().contains("multi_modal_projector.linear_1.weight"), spec.fixed().toString());
        Map<String, long[]> extra = new java.util.LinkedHashMap<>(s);
        extra.put("image_newline", new long[] {HIDDEN});
        lady.LadyException e = org.junit.jupiter.api.Assertions.assertThrows(lady.LadyException.class,
                () -> Models.infer(extra, null, config));
        assertTrue(e.getMessage().contains("does not place: image_newline"), e.getMessage());
        Map<String, long[]> unknown = new java.util.LinkedHashMap<>(s);
        unknown.remove("multi_modal_projector.linear_2.weight");
        e = org.junit.jupiter.api.Assertions.assertThrows(lady.LadyException.class, () -> Models.infer(unknown, null, config));
        assertTrue(e.getMessage().contains("whose projector into the language model Lady does not know"), e.getMessage());
    }

    /**
     * A layer without its input norm is refused as a mismatch, not read as OLMo 2's layout (whose norms of the outputs
     * only are a property of the whole model, named by its model_type or by the first layer's shapes).
     */
    @Test
    void aLayerWithoutItsInputNormIsMissingATensor() {
        Map<String, long[]> s = new java.util.LinkedHashMap<>(shapes(false, false));
        s.remove("model.layers.1.input_layernorm.weight");
        lady.LadyException e = org.junit.jupiter.api.Assertions.assertThrows(lady.LadyException.class,
                () -> Models.infer(s, null, CONFIG));
        assertTrue(e.getMessage().contains("missing 1: model.layers.1.input_layernorm.weight"), e.getMessage());
    }
}
