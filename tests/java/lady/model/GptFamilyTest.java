package lady.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.permutation.Group;
import lady.permutation.PermutationSpec;
import lady.torch.TorchTensors;

/**
 * GPT-2, GPT-NeoX and OPT from shapes and config.json (no Python): their groups, that permuting every group keeps the
 * logits, and the teeth: a q dimension moved without its k dimension, or a rotated dimension moved at all, changes them.
 */
class GptFamilyTest {
    static final long VOCAB = 40, HIDDEN = 16, HEADS = 2, HEAD_DIM = HIDDEN / HEADS, INTER = 24, POSITIONS = 12;
    static final int LAYERS = 2;

    /** GPT2LMHeadModel's tensors (Conv1D matrices [in, out], the head tied and not saved). */
    static Map<String, long[]> gpt2() {
        Map<String, long[]> s = new LinkedHashMap<>();
        s.put("transformer.wte.weight", new long[] {VOCAB, HIDDEN});
        s.put("transformer.wpe.weight", new long[] {POSITIONS, HIDDEN});
        for (int i = 0; i < LAYERS; i++) {
            String h = "transformer.h." + i;
            for (String ln : List.of(".ln_1", ".ln_2")) {
                s.put(h + ln + ".weight", new long[] {HIDDEN});
                s.put(h + ln + ".bias", new long[] {HIDDEN});
            }
            s.put(h + ".attn.c_attn.weight", new long[] {HIDDEN, 3 * HIDDEN});
            s.put(h + ".attn.c_attn.bias", new long[] {3 * HIDDEN});
            s.put(h + ".attn.c_proj.weight", new long[] {HIDDEN, HIDDEN});
            s.put(h + ".attn.c_proj.bias", new long[] {HIDDEN});
            s.put(h + ".mlp.c_fc.weight", new long[] {HIDDEN, INTER});
            s.put(h + ".mlp.c_fc.bias", new long[] {INTER});
            s.put(h + ".mlp.c_proj.weight", new long[] {INTER, HIDDEN});
            s.put(h + ".mlp.c_proj.bias", new long[] {HIDDEN});
        }
        s.put("transformer.ln_f.weight", new long[] {HIDDEN});
        s.put("transformer.ln_f.bias", new long[] {HIDDEN});
        return s;
    }

    static final Map<String, Object> GPT2_CONFIG = Map.of("model_type", "gpt2", "n_head", HEADS, "n_embd", HIDDEN,
            "n_layer", LAYERS, "vocab_size", VOCAB);

    /** GPTNeoXForCausalLM's tensors (query_key_value: head h's q, k, v rows in turn; embed_out). */
    static Map<String, long[]> neox() {
        Map<String, long[]> s = new LinkedHashMap<>();
        s.put("gpt_neox.embed_in.weight", new long[] {VOCAB, HIDDEN});
        for (int i = 0; i < LAYERS; i++) {
            String l = "gpt_neox.layers." + i;
            for (String ln : List.of(".input_layernorm", ".post_attention_layernorm")) {
                s.put(l + ln + ".weight", new long[] {HIDDEN});
                s.put(l + ln + ".bias", new long[] {HIDDEN});
            }
            s.put(l + ".attention.query_key_value.weight", new long[] {3 * HIDDEN, HIDDEN});
            s.put(l + ".attention.query_key_value.bias", new long[] {3 * HIDDEN});
            s.put(l + ".attention.dense.weight", new long[] {HIDDEN, HIDDEN});
            s.put(l + ".attention.dense.bias", new long[] {HIDDEN});
            s.put(l + ".mlp.dense_h_to_4h.weight", new long[] {INTER, HIDDEN});
            s.put(l + ".mlp.dense_h_to_4h.bias", new long[] {INTER});
            s.put(l + ".mlp.dense_4h_to_h.weight", new long[] {HIDDEN, INTER});
            s.put(l + ".mlp.dense_4h_to_h.bias", new long[] {HIDDEN});
        }
        s.put("gpt_neox.final_layer_norm.weight", new long[] {HIDDEN});
        s.put("gpt_neox.final_layer_norm.bias", new long[] {HIDDEN});
        s.put("embed_out.weight", new long[] {VOCAB, HIDDEN});
        return s;
    }

    /** BloomForCausalLM's tensors (head h's q, k, v rows in turn; the head tied to word_embeddings). */
    static Map<String, long[]> bloom() {
        Map<String, long[]> s = new LinkedHashMap<>();
        s.put("transformer.word_embeddings.weight", new long[] {VOCAB, HIDDEN});
        s.put("transformer.word_embeddings_layernorm.weight", new long[] {HIDDEN});
        s.put("transformer.word_embeddings_layernorm.bias", new long[] {HIDDEN});
        for (int i = 0; i < LAYERS; i++) {
            String h = "transformer.h." + i;
            for (String ln : List.of(".input_layernorm", ".post_attention_layernorm")) {
                s.put(h + ln + ".weight", new long[] {HIDDEN});
                s.put(h + ln + ".bias", new long[] {HIDDEN});
            }
            s.put(h + ".self_attention.query_key_value.weight", new long[] {3 * HIDDEN, HIDDEN});
            s.put(h + ".self_attention.query_key_value.bias", new long[] {3 * HIDDEN});
            s.put(h + ".self_attention.dense.weight", new long[] {HIDDEN, HIDDEN});
            s.put(h + ".self_attention.dense.bias", new long[] {HIDDEN});
            s.put(h + ".mlp.dense_h_to_4h.weight", new long[] {4 * HIDDEN, HIDDEN});
            s.put(h + ".mlp.dense_h_to_4h.bias", new long[] {4 * HIDDEN});
            s.put(h + ".mlp.dense_4h_to_h.weight", new long[] {HIDDEN, 4 * HIDDEN});
            s.put(h + ".mlp.dense_4h_to_h.bias", new long[] {HIDDEN});
        }
        s.put("transformer.ln_f.weight", new long[] {HIDDEN});
        s.put("transformer.ln_f.bias", new long[] {HIDDEN});
        return s;
    }

    static final Map<String, Object> BLOOM_CONFIG = Map.of("model_type", "bloom", "n_head", HEADS, "n_embed", HIDDEN);

    /** Half of each head rotates: dimensions 0-3 (pairs 0/2, 1/3), 4-7 free. */
    static final Map<String, Object> NEOX_CONFIG = Map.of("model_type", "gpt_neox", "num_attention_heads", HEADS,
            "hidden_size", HIDDEN, "rotary_pct", 0.5, "rotary_emb_base", 10000, "intermediate_size", INTER);

    @Test
    void groupsAreTheStreamTheHeadsTheirFreeDimensionsAndTheMlpUnits() {
        PermutationSpec gpt2 = Models.infer(gpt2(), null, GPT2_CONFIG).description().permutationSpec();
        // per layer: the heads, per head its q/k dimensions (all: no rotary) and its v dimensions, the MLP
        assertEquals(1 + LAYERS * (1 + 2 * HEADS + 1), gpt2.groups().size());
        assertEquals(HEAD_DIM, gpt2.group("transformer.h.0.attn.qk_pass.1").orElseThrow().size());
        Group heads = gpt2.group("transformer.h.1.attn.kv_heads").orElseThrow();
        assertEquals(1, heads.members(lady.permutation.Role.PRODUCER_WEIGHT).get(0).axis(), "Conv1D: [in, out]");
        PermutationSpec neox = Models.infer(neox(), null, NEOX_CONFIG).description().permutationSpec();
        assertEquals(HEAD_DIM / 2, neox.group("gpt_neox.layers.0.attention.qk_pass.0").orElseThrow().size(),
                "the unrotated half");
        Group qkv = neox.group("gpt_neox.layers.0.attention.kv_heads").orElseThrow();
        assertEquals(3 * HEAD_DIM, qkv.members(lady.permutation.Role.PRODUCER_WEIGHT).get(0).block(),
                "a head's q, k and v rows are one block");
    }

    /**
     * OPT-350m's layout: an embedding narrower than the width (project_in after it, project_out before the head tied to
     * it). The head reads the embedding's channels whatever writes them: project_out's rows and the embedding's columns
     * are one group.
     */
    @Test
    void anOptHeadTiedToANarrowerEmbeddingTiesItsChannelsToProjectOut() {
        long e = 8;
        Map<String, long[]> s = new LinkedHashMap<>();
        String p = "model.decoder.";
        s.put(p + "embed_tokens.weight", new long[] {VOCAB, e});
        s.put(p + "embed_positions.weight", new long[] {POSITIONS + 2, HIDDEN});
        s.put(p + "project_in.weight", new long[] {HIDDEN, e});
        s.put(p + "project_out.weight", new long[] {e, HIDDEN});
        for (int i = 0; i < LAYERS; i++) {
            String l = p + "layers." + i;
            for (String x : List.of("q", "k", "v", "out")) {
                s.put(l + ".self_attn." + x + "_proj.weight", new long[] {HIDDEN, HIDDEN});
                s.put(l + ".self_attn." + x + "_proj.bias", new long[] {HIDDEN});
            }
            for (String ln : List.of(".self_attn_layer_norm", ".final_layer_norm")) {
                s.put(l + ln + ".weight", new long[] {HIDDEN});
                s.put(l + ln + ".bias", new long[] {HIDDEN});
            }
            s.put(l + ".fc1.weight", new long[] {INTER, HIDDEN});
            s.put(l + ".fc1.bias", new long[] {INTER});
            s.put(l + ".fc2.weight", new long[] {HIDDEN, INTER});
            s.put(l + ".fc2.bias", new long[] {HIDDEN});
        }
        ModelConfig mc = Models.infer(s, null, Map.of("model_type", "opt", "num_attention_heads", HEADS,
                "do_layer_norm_before", false));
        assertEquals("opt", mc.architecture());
        Group embed = mc.description().permutationSpec().group(p + "embed_tokens").orElseThrow();
        assertEquals(e, embed.size());
        assertEquals(List.of(p + "embed_tokens.weight", p + "project_out.weight"),
                embed.members(lady.permutation.Role.PRODUCER_WEIGHT).stream().map(m -> m.tensor()).toList());
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2", "gpt_neox", "bloom"})
    void permutingEveryGroupKeepsTheLogits(String variant) {
        boolean gpt2 = variant.equals("gpt2");
        boolean bloom = variant.equals("bloom");
        ModelConfig mc = Models.infer(gpt2 ? gpt2() : bloom ? bloom() : neox(), null,
                gpt2 ? GPT2_CONFIG : bloom ? BLOOM_CONFIG : NEOX_CONFIG);
        assertEquals(variant, mc.architecture());
        ModelTesting.Probed probed = ModelTesting.everyGroupPermuted(mc);
        Model model = probed.model();
        StateDict state = probed.state();
        Tensor ids = probed.ids();
        // teeth: one q dimension trades places with another of its head without k's doing the same (GPT-2), or a
        // rotated dimension moves in q and k alike (GPT-NeoX: RoPE pairs it with another at a fixed frequency), or
        // two heads trade their q, k and v rows (BLOOM: ALiBi's slopes go by the head's index; no group moves them)
        if (bloom) {
            assertTrue(mc.description().permutationSpec().groups().stream().noneMatch(g -> g.name().endsWith("kv_heads")));
        }
        StateDict wrong = state.copy();
        String qkv = gpt2 ? "transformer.h.0.attn.c_attn.weight" : bloom
                ? "transformer.h.0.self_attention.query_key_value.weight"
                : "gpt_neox.layers.0.attention.query_key_value.weight";
        Tensor t = TorchTensors.get(wrong, qkv).clone();
        int axis = gpt2 ? 1 : 0;
        long[][] swaps = gpt2 ? new long[][] {{0, 1}} : !bloom ? new long[][] {{0, 1}, {HEAD_DIM, HEAD_DIM + 1}} // q (and k)
                : java.util.stream.LongStream.range(0, 3 * HEAD_DIM).mapToObj(r -> new long[] {r, r + 3 * HEAD_DIM})
                        .toArray(long[][]::new); // the rows of heads 0 and 1 (their dense columns too, below)
        for (long[] s : swaps) {
            Tensor a = t.select(axis, s[0]).clone();
            t.select(axis, s[0]).copy_(t.select(axis, s[1]));
            t.select(axis, s[1]).copy_(a);
        }
        TorchTensors.put(wrong, qkv, t.contiguous());
        if (bloom) { // the whole heads trade places, as a permutation of heads would move them: only ALiBi tells
            String dense = "transformer.h.0.self_attention.dense.weight";
            Tensor o = TorchTensors.get(wrong, dense).clone();
            Tensor first = o.narrow(1, 0, HEAD_DIM).clone();
            o.narrow(1, 0, HEAD_DIM).copy_(o.narrow(1, HEAD_DIM, HEAD_DIM));
            o.narrow(1, HEAD_DIM, HEAD_DIM).copy_(first);
            TorchTensors.put(wrong, dense, o.contiguous());
            String bias = "transformer.h.0.self_attention.query_key_value.bias";
            Tensor b = TorchTensors.get(wrong, bias).clone();
            Tensor head0 = b.narrow(0, 0, 3 * HEAD_DIM).clone();
            b.narrow(0, 0, 3 * HEAD_DIM).copy_(b.narrow(0, 3 * HEAD_DIM, 3 * HEAD_DIM));
            b.narrow(0, 3 * HEAD_DIM, 3 * HEAD_DIM).copy_(head0);
            TorchTensors.put(wrong, bias, b.contiguous());
        }
        assertTrue(PermutationCheck.maxLogitDiff(model, wrong, ids) > 1e-3);
    }

    /**
     * A Hugging Face folder Lady cannot read is named by its config.json's model_type, with the model types Lady
     * reads; one of those whose weights do not fit is told so.
     */
    @Test
    void anUnknownModelTypeIsNamedWithTheTypesLadyReads() {
        Map<String, long[]> renamed = new LinkedHashMap<>();
        gpt2().forEach((n, shape) -> renamed.put(n.replace(".attn.c_attn.", ".self_attention.query_key_value."), shape));
        LadyException e = assertThrows(LadyException.class, () -> Models.infer(renamed, null,
                Map.of("model_type", "codegen")));
        assertTrue(e.getMessage().contains("config.json's model_type 'codegen' is not one Lady reads; the Hugging Face "
                + "model types it reads: llama, "), e.getMessage());
        assertTrue(e.getMessage().contains("gpt2, gpt_neox, opt, phi, gpt_bigcode, bloom, gptj, falcon, mpt"),
                e.getMessage());
        e = assertThrows(LadyException.class, () -> Models.infer(renamed, null, GPT2_CONFIG));
        assertTrue(e.getMessage().contains("config.json names 'gpt2', a model type Lady reads, but these weights are not "
                + "laid out as its are"), e.getMessage());
    }

    /**
     * Learned positions bound the sequences: the probe of a GPT-2 with 4 positions has 4 tokens (so --verify runs it),
     * and a longer sequence is refused in a line, not left to an index error.
     */
    @Test
    void learnedPositionsBoundTheSequences() {
        lady.torch.Torch.init();
        Map<String, long[]> s = gpt2();
        s.put("transformer.wpe.weight", new long[] {4, HIDDEN});
        Model model = Models.infer(s, null, GPT2_CONFIG).create();
        Tensor probe = model.probe(2, 1);
        assertEquals(4, probe.size(1));
        assertEquals(VOCAB, model.forward(probe).size(-1));
        Tensor longer = org.bytedeco.pytorch.global.torch.zeros(new long[] {1, 5},
                new org.bytedeco.pytorch.TensorOptions(org.bytedeco.pytorch.global.torch.ScalarType.Long));
        LadyException e = assertThrows(LadyException.class, () -> model.forward(longer));
        assertTrue(e.getMessage().contains("transformer.wpe.weight holds 4 positions; sequences of 5 tokens do not fit"),
                e.getMessage());
    }

    /** The heads come from config.json; without it, or with a count that does not divide the width, a line says why. */
    @Test
    void theHeadsComeFromTheConfiguration() {
        LadyException none = assertThrows(LadyException.class, () -> Models.infer(gpt2(), null, Map.of()));
        assertTrue(none.getMessage().contains("no config.json came with these weights"), none.getMessage());
        Map<String, Object> three = new LinkedHashMap<>(GPT2_CONFIG);
        three.put("n_head", 3L);
        LadyException e = assertThrows(LadyException.class, () -> Models.infer(gpt2(), null, three));
        assertTrue(e.getMessage().contains("3 attention heads, which do not divide the width 16"), e.getMessage());
        Map<String, Object> layers = new LinkedHashMap<>(GPT2_CONFIG);
        layers.put("n_layer", 3L);
        e = assertThrows(LadyException.class, () -> Models.infer(gpt2(), null, layers));
        assertTrue(e.getMessage().contains("config.json says n_layer 3, but the checkpoint has 2"), e.getMessage());
    }
}
