package lady.model;

import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import lady.LadyException;
import lady.graph.GraphBuilder;
import lady.graph.Op;

/**
 * BERT, RoBERTa (XLM-RoBERTa, CamemBERT), ELECTRA, DistilBERT, ViT and DeiT as Hugging Face transformers saves them: bidirectional
 * encoders, the text ones with post-norm layers (x = LN(x + attention(x)); x = LN(x + MLP(x))), learned positions, no
 * rotary embedding.
 * <ul>
 * <li><b>bert</b> (under {@code bert.}, or BertModel's names without it): embeddings (word_embeddings,
 *     position_embeddings from row 0, token_type_embeddings: every token of type 0, LayerNorm), per layer
 *     attention.self (query, key, value), attention.output (dense, LayerNorm), intermediate.dense, the activation
 *     (hidden_act), output (dense, LayerNorm); pooler.dense with tanh on the first token.</li>
 * <li><b>roberta</b> (under {@code roberta.}; model_type roberta, xlm-roberta or camembert without it): BERT's names;
 *     positions from row pad_token_id + 1, counting the tokens that are not padding (a padding token takes row
 *     pad_token_id).</li>
 * <li><b>electra</b> (under {@code electra.}; model_type electra without it): BERT's names, the embeddings of
 *     embedding_size, projected to the width by embeddings_project where they differ (ELECTRA-small); no pooler.
 *     Heads: the discriminator (ElectraForPreTraining: discriminator_predictions dense, hidden_act, dense_prediction,
 *     one logit per token), the generator (ElectraForMaskedLM: generator_predictions dense to embedding_size, gelu,
 *     LayerNorm, generator_lm_head tied to word_embeddings), classification (classifier.dense, gelu, out_proj).</li>
 * <li><b>distilbert</b> (under {@code distilbert.}): embeddings (word_embeddings, position_embeddings, LayerNorm; no
 *     token types), per layer attention (q_lin, k_lin, v_lin, out_lin), sa_layer_norm, ffn (lin1, activation, lin2),
 *     output_layer_norm; no pooler.</li>
 * <li><b>vit</b> (ViTForImageClassification under {@code vit.}, or ViTModel's names without it): images of
 *     config.json's image_size (the position embeddings' count fixes the patches), patch_embeddings.projection (a
 *     convolution of patch_size, stride patch_size) into tokens, cls_token before them, position_embeddings added; per
 *     layer layernorm_before, attention.attention (query, key, value), attention.output.dense, the residual add,
 *     layernorm_after, intermediate.dense, the activation, output.dense, the residual add (pre-norm); layernorm; the
 *     classifier on the first token, or (ViTModel) the pooler (tanh) with the last hidden state.</li>
 * <li><b>deit</b> (under {@code deit.}, or DeiTModel's names without it): ViT's, with a distillation_token after the
 *     class token; DeiTForImageClassificationWithTeacher's cls_classifier (first token) and distillation_classifier
 *     (second token), averaged.</li>
 * </ul>
 * Heads, told by their tensors: masked language modelling (BERT's cls.predictions: transform.dense, hidden_act,
 * transform.LayerNorm, the decoder tied to word_embeddings unless saved, and its bias; RoBERTa's lm_head: dense, gelu,
 * layer_norm, decoder; DistilBERT's vocab_transform, activation, vocab_layer_norm, vocab_projector), BERT's
 * pre-training (that and cls.seq_relationship on the pooled output), sequence classification (BERT: classifier on the
 * pooled output; RoBERTa: classifier.dense, tanh, classifier.out_proj on the first token; DistilBERT: pre_classifier,
 * relu, classifier), token classification and question answering (classifier or qa_outputs on every token). Without a
 * head (BertModel, RobertaModel, DistilBertModel, as sentence encoders are saved) the outputs are the last hidden state
 * and the pooled output, whose channel orders are free ({@link Op#FREE_CHANNELS}: such models are compared by cosine
 * similarity).
 * <p>
 * The symmetries: the residual stream (every embedding's columns, every LayerNorm, the inputs of the attention, the MLP,
 * the pooler and the heads, the outputs of the attention's and the MLP's output projections); per layer the heads, the
 * q/k dimensions inside each head (no rotary embedding: all of them, the same in q and k), the v dimensions inside each
 * head, the MLP's units; the pooler's units and a classification head's hidden units. A masked-LM head tied to the
 * embedding shares the stream's order; one saved untied has its own.
 */
final class EncoderFamily implements Family {
    static final String BERT = "bert";
    static final String ROBERTA = "roberta";
    static final String DISTILBERT = "distilbert";
    static final String ELECTRA = "electra";
    static final String VIT = "vit";
    static final String DEIT = "deit";
    /** The model types of RoBERTa's layout (config.json's model_type). */
    private static final Set<String> ROBERTA_TYPES = Set.of(ROBERTA, "xlm-roberta", "camembert");
    /** BERT's and RoBERTa's default layer_norm_eps; DistilBERT's fixed eps. */
    private static final double DEFAULT_EPS = 1e-12;
    /** DeiT's second token (after the class token). */
    private static final String DISTILLATION_TOKEN = "embeddings.distillation_token";
    /** ELECTRA's projection of its embeddings to the width (where embedding_size differs from it). */
    private static final String PROJECT = "embeddings_project";
    /** RoBERTa's default pad_token_id (its positions start at row pad_token_id + 1). */
    private static final long ROBERTA_PAD = 1;

    /**
     * The names and configuration keys of one variant: its module prefixes, the embeddings (word, positions, token
     * types or null, their LayerNorm), the layers' prefix, per layer q, k, v, the attention's output, its norm, the
     * MLP's two layers and the MLP's norm; the pooler (or null); config.json's keys of the width, the layers, the heads,
     * the activation (with its default) and the MLP's width.
     */
    private record Variant(List<String> prefixes, String word, String positions, String types, String embedNorm,
            String layers, String q, String k, String v, String o, String ln1, String fc, String proj, String ln2,
            String pooler, String widthKey, String layersKey, String headsKey, String actKey, String mlpKey) {
    }

    private static final Variant BERT_NAMES = new Variant(List.of("bert.", ""), "embeddings.word_embeddings",
            "embeddings.position_embeddings", "embeddings.token_type_embeddings", "embeddings.LayerNorm", "encoder.layer.",
            ".attention.self.query", ".attention.self.key", ".attention.self.value", ".attention.output.dense",
            ".attention.output.LayerNorm", ".intermediate.dense", ".output.dense", ".output.LayerNorm", "pooler.dense",
            "hidden_size", "num_hidden_layers", "num_attention_heads", "hidden_act", "intermediate_size");

    private static final Variant VIT_NAMES = new Variant(List.of("vit.", ""), "embeddings.patch_embeddings.projection",
            "embeddings.position_embeddings", null, null, "encoder.layer.", ".attention.attention.query",
            ".attention.attention.key", ".attention.attention.value", ".attention.output.dense", ".layernorm_before",
            ".intermediate.dense", ".output.dense", ".layernorm_after", "pooler.dense", "hidden_size", "num_hidden_layers",
            "num_attention_heads", "hidden_act", "intermediate_size");

    private static final Map<String, Variant> VARIANTS = Map.of(
            BERT, BERT_NAMES,
            ROBERTA, new Variant(List.of("roberta.", ""), BERT_NAMES.word(), BERT_NAMES.positions(), BERT_NAMES.types(),
                    BERT_NAMES.embedNorm(), BERT_NAMES.layers(), BERT_NAMES.q(), BERT_NAMES.k(), BERT_NAMES.v(),
                    BERT_NAMES.o(), BERT_NAMES.ln1(), BERT_NAMES.fc(), BERT_NAMES.proj(), BERT_NAMES.ln2(),
                    BERT_NAMES.pooler(), "hidden_size", "num_hidden_layers", "num_attention_heads", "hidden_act",
                    "intermediate_size"),
            ELECTRA, new Variant(List.of("electra.", ""), BERT_NAMES.word(), BERT_NAMES.positions(), BERT_NAMES.types(),
                    BERT_NAMES.embedNorm(), BERT_NAMES.layers(), BERT_NAMES.q(), BERT_NAMES.k(), BERT_NAMES.v(),
                    BERT_NAMES.o(), BERT_NAMES.ln1(), BERT_NAMES.fc(), BERT_NAMES.proj(), BERT_NAMES.ln2(), null,
                    "hidden_size", "num_hidden_layers", "num_attention_heads", "hidden_act", "intermediate_size"),
            DISTILBERT, new Variant(List.of("distilbert.", ""), "embeddings.word_embeddings",
                    "embeddings.position_embeddings", null, "embeddings.LayerNorm", "transformer.layer.",
                    ".attention.q_lin", ".attention.k_lin", ".attention.v_lin", ".attention.out_lin", ".sa_layer_norm",
                    ".ffn.lin1", ".ffn.lin2", ".output_layer_norm", null, "dim", "n_layers", "n_heads", "activation",
                    "hidden_dim"),
            DEIT, new Variant(List.of("deit.", ""), VIT_NAMES.word(), VIT_NAMES.positions(), null, null,
                    VIT_NAMES.layers(), VIT_NAMES.q(), VIT_NAMES.k(), VIT_NAMES.v(), VIT_NAMES.o(), VIT_NAMES.ln1(),
                    VIT_NAMES.fc(), VIT_NAMES.proj(), VIT_NAMES.ln2(), VIT_NAMES.pooler(), "hidden_size",
                    "num_hidden_layers", "num_attention_heads", "hidden_act", "intermediate_size"),
            VIT, VIT_NAMES);

    @Override
    public List<String> names() {
        return List.of(BERT, ROBERTA, ELECTRA, DISTILBERT, VIT, DEIT);
    }

    @Override
    public List<String> modelTypes() {
        List<String> types = new java.util.ArrayList<>(names()); // (and RoBERTa's other types)
        ROBERTA_TYPES.stream().sorted().filter(t -> !types.contains(t)).forEach(types::add);
        return types;
    }

    /** Variant {@code name}'s prefix in a checkpoint with these tensors, or null when it is not one of that variant. */
    private static String prefix(String name, java.util.function.Predicate<String> has) {
        Variant v = VARIANTS.get(name);
        for (String p : v.prefixes()) {
            // (ViT's position embeddings are a parameter of their own, not a module's weight)
            if (has.test(p + v.word() + ".weight") && (has.test(p + v.positions() + ".weight") || has.test(p + v.positions()))
                    && has.test(p + v.layers() + "0" + v.q() + ".weight")) {
                return p;
            }
        }
        return null;
    }

    @Override
    public String recognize(Map<String, long[]> s) {
        return recognize(s, Map.of());
    }

    @Override
    public String recognize(Map<String, long[]> s, Map<String, ?> config) {
        if (prefix(DISTILBERT, s::containsKey) != null) {
            return DISTILBERT;
        }
        String deit = prefix(DEIT, s::containsKey); // (DeiT: ViT's names with a distillation token)
        if (deit != null && (!deit.isEmpty() || s.containsKey(DISTILLATION_TOKEN))) {
            return DEIT;
        }
        if (prefix(VIT, s::containsKey) != null) {
            return VIT;
        }
        // BERT's, RoBERTa's and ELECTRA's names are the same: the prefix tells, or (without one) config.json's
        // model_type, or ELECTRA's embeddings_project
        for (String name : List.of(ROBERTA, ELECTRA, BERT)) {
            String p = prefix(name, s::containsKey);
            if (p != null && !p.isEmpty()) {
                return name;
            }
        }
        if (prefix(BERT, s::containsKey) == null) {
            return null;
        }
        Object type = config.get("model_type");
        return type instanceof String t && ROBERTA_TYPES.contains(t) ? ROBERTA
                : ELECTRA.equals(type) || s.containsKey(PROJECT + ".weight") ? ELECTRA : BERT;
    }

    @Override
    public ModelOptions options(String name, Map<String, long[]> s) {
        Variant v = VARIANTS.get(name);
        String found = prefix(name, s::containsKey);
        String p = found == null ? v.prefixes().get(0) : found;
        String word = p + v.word() + ".weight";
        if (name.equals(VIT) || name.equals(DEIT)) { // classes, channels, and the side the positions' patches make
            long patch = Family.dim(s, word, 2, 16);
            long tokens = tokens(name);
            long positions = Family.dim(s, p + v.positions(), 1, tokens + 1);
            long side = Math.round(Math.sqrt(positions - tokens));
            if (side * side != positions - tokens) {
                throw LadyException.invalidInput(name + ": " + p + v.positions() + " holds " + positions
                        + " positions, not " + tokens + " + a square number of patches");
            }
            String classes = s.containsKey("classifier.weight") ? "classifier.weight" : "cls_classifier.weight";
            return new ModelOptions((int) Family.dim(s, classes, 0, 1), 1.0, 0,
                    (int) Family.dim(s, word, 1, 3), (int) (side * patch));
        }
        return new ModelOptions((int) Math.min(Integer.MAX_VALUE, Family.dim(s, word, 0, 30522)), 1.0, 0, 1, 1);
    }

    @Override
    public Architecture build(String name, Dims d) {
        LlamaFamily.requireCheckpoint(name, d);
        Variant v = VARIANTS.get(name);
        boolean distil = name.equals(DISTILBERT);
        String found = prefix(name, t -> d.has(t, false));
        String p = found == null ? v.prefixes().get(0) : found;
        String word = p + v.word() + ".weight";
        boolean vit = name.equals(VIT) || name.equals(DEIT);
        long vocab = vit ? 0 : d.size(word, 0, 0);
        long embedWidth = d.size(word, vit ? 0 : 1, 0);
        String project = p + PROJECT;
        boolean projected = name.equals(ELECTRA) && d.has(project + ".weight", false);
        long hidden = projected ? d.size(project + ".weight", 0, 0) : embedWidth;
        if (!vit) {
            LlamaFamily.agree(name, d, "vocab_size", vocab, word);
        }
        if (name.equals(ELECTRA)) {
            LlamaFamily.agree(name, d, "embedding_size", embedWidth, word);
        }
        LlamaFamily.agree(name, d, v.widthKey(), hidden, projected ? project + ".weight" : word);
        long heads = LlamaFamily.heads(name, d, v.headsKey(), hidden, word);
        long headDim = hidden / heads;
        double eps = distil ? DEFAULT_EPS : LlamaFamily.positive(name, d, "layer_norm_eps", DEFAULT_EPS);
        Object fnName = d.config(v.actKey()) != null ? d.config(v.actKey()) : "gelu";
        Op.Activation fn = LlamaFamily.ACTIVATIONS.get(fnName);
        String actUnsupported = fn != null ? null : LlamaFamily.unsupportedActivation("the activation", fnName);

        Map<String, Object> attrs = new LinkedHashMap<>();
        attrs.put("rotary_dim", 0L);
        attrs.put("causal", 0L);
        attrs.put("attn_scale", 1 / Math.sqrt(headDim));
        if (vit) {
            return vit(name, d, v, p, hidden, heads, headDim, eps, fn, actUnsupported, attrs);
        }
        GraphBuilder b = new GraphBuilder(name);
        String ids = b.tokens("input_ids");
        String h = b.embedding(p + v.word(), ids, word, vocab, embedWidth);
        String positions = p + v.positions() + ".weight";
        long pad = name.equals(ROBERTA) ? d.configLong("pad_token_id", ROBERTA_PAD) : -1;
        Map<String, long[]> buffers = new LinkedHashMap<>();
        String positionIds = p + "embeddings.position_ids"; // (saved by older versions: int64 [1, positions])
        if (d.has(positionIds, false)) {
            buffers.put(positionIds, d.shape(positionIds));
        }
        long positionRows = d.size(positions, 0, 0);
        LlamaFamily.agree(name, d, "max_position_embeddings", positionRows, positions);
        h = b.add(p + "embeddings.add_positions", h, b.positionEmbedding(p + v.positions(), ids, positions, positionRows,
                embedWidth, pad >= 0 ? pad + 1 : 0, pad, buffers));
        if (v.types() != null && d.has(p + v.types() + ".weight", false)) {
            String types = p + v.types() + ".weight";
            LlamaFamily.agree(name, d, "type_vocab_size", d.size(types, 0, 0), types);
            h = b.add(p + "embeddings.add_types", h, b.rowEmbedding(p + v.types(), ids, types, d.size(types, 0, 0),
                    embedWidth, 0));
        }
        String pooler = p + v.pooler();
        boolean hasPooler = v.pooler() != null && d.has(pooler + ".weight", false);
        Head head = Head.of(d, hasPooler);
        boolean poolerRead = head == Head.PRETRAINING || head == Head.SEQUENCE && !Head.firstToken(d);
        h = b.layerNorm(p + v.embedNorm(), h, eps);
        if (projected) { // (ELECTRA-small: embeddings of 128 for a width of 256)
            h = b.linear(project, h, hidden, d.has(project + ".bias", false));
        }
        Set<Long> widths = new HashSet<>();
        int layers = 0;
        for (; d.has(p + v.layers() + layers + v.q() + ".weight", false); layers++) {
            String l = p + v.layers() + layers;
            String a = b.attentionGqa(l + ".attention", h, attentionNames(d, v, l), heads, heads, headDim, attrs);
            h = b.layerNorm(l + v.ln1(), b.add(l + ".attention_residual", h, a), eps);
            String y = mlp(b, d, v, l, h, hidden, fn, actUnsupported, widths);
            boolean last = !d.has(p + v.layers() + (layers + 1) + v.q() + ".weight", false);
            // (a base model's last hidden state: its channel order free)
            h = b.layerNorm(l + v.ln2(), b.add(l + ".mlp_residual", h, y), eps, last && head == Head.NONE);
        }
        LlamaFamily.agree(name, d, v.layersKey(), layers, p + v.layers() + "N" + v.q() + ".weight");
        if (widths.size() == 1) {
            LlamaFamily.agree(name, d, v.mlpKey(), widths.iterator().next(), p + v.layers() + "N" + v.fc() + ".weight");
        }
        String pooled = null;
        if (hasPooler) { // tanh(dense(the first token)); an output of its own, its order free, where no head reads it
            String first = b.select(pooler + ".first_token", h, 1, 0);
            // (its width the checkpoint's: a structural edit widens a pooler a head reads)
            pooled = b.act(pooler + ".act", b.linear(pooler, first, d.size(pooler + ".weight", 0, hidden), true),
                    Op.Activation.TANH, !poolerRead);
        }
        List<String> outputs = new java.util.ArrayList<>(head.outputs(name, b, d, h, pooled, word, vocab, hidden, eps,
                fn, actUnsupported));
        if (pooled != null && !poolerRead) {
            outputs.add(pooled);
        }
        return new Architecture(name, b.build(outputs.toArray(String[]::new)), Architecture.Init.PYTORCH_DEFAULT);
    }

    /** A layer's q, k, v and output projections (and their biases where saved) by role ({@link GraphBuilder#attentionGqa}). */
    private static Map<String, String> attentionNames(Dims d, Variant v, String l) {
        Map<String, String> names = new LinkedHashMap<>();
        for (String[] role : new String[][] {{"q", v.q()}, {"k", v.k()}, {"v", v.v()}, {"o", v.o()}}) {
            names.put(role[0] + "_weight", l + role[1] + ".weight");
            if (d.has(l + role[1] + ".bias", false)) {
                names.put(role[0] + "_bias", l + role[1] + ".bias");
            }
        }
        return names;
    }

    /** A layer's MLP on {@code x} (fc, the activation, proj); its width added to {@code widths}. */
    private static String mlp(GraphBuilder b, Dims d, Variant v, String l, String x, long hidden, Op.Activation fn,
            String actUnsupported, Set<Long> widths) {
        String fc = l + v.fc();
        long inter = d.size(fc + ".weight", 0, 4 * hidden);
        widths.add(inter);
        String y = b.linear(fc, x, inter, d.has(fc + ".bias", false));
        y = actUnsupported == null ? b.act(fc + ".act", y, fn) : b.act(fc + ".act", y, Op.Activation.GELU, actUnsupported);
        return b.linear(l + v.proj(), y, hidden, d.has(l + v.proj() + ".bias", false));
    }

    /**
     * ViT: the patches' convolution into tokens, the class token before them, the positions added; pre-norm layers; the
     * final layernorm; the classifier on the first token (ViTForImageClassification), or the pooler with the last
     * hidden state (ViTModel).
     */
    private static Architecture vit(String name, Dims d, Variant v, String p, long hidden, long heads, long headDim,
            double eps, Op.Activation fn, String actUnsupported, Map<String, Object> attrs) {
        String projection = p + v.word();
        long patch = d.size(projection + ".weight", 2, 16);
        long[] positions = d.shape(p + v.positions());
        long side = Math.round(Math.sqrt(positions[1] - tokens(name)));
        LlamaFamily.agree(name, d, "patch_size", patch, projection + ".weight");
        LlamaFamily.agree(name, d, "image_size", side * patch, p + v.positions());
        long channels = d.size(projection + ".weight", 1, 3);
        LlamaFamily.agree(name, d, "num_channels", channels, projection + ".weight");
        GraphBuilder b = new GraphBuilder(name);
        String x = b.image("pixel_values", channels, side * patch, true);
        List<String> extra = new java.util.ArrayList<>(List.of(p + "embeddings.cls_token"));
        if (name.equals(DEIT)) {
            extra.add(p + DISTILLATION_TOKEN);
        }
        for (String t : extra) {
            b.tensor(t, 1, 1, hidden); // (the embeddings' own parameters first, as PyTorch lists them)
        }
        x = b.conv(projection, x, hidden, new long[] {patch, patch}, patch, 0, 1, 1, d.has(projection + ".bias", false));
        x = b.toTokens(p + "embeddings.tokens", x);
        List<String> parts = new java.util.ArrayList<>();
        for (String t : extra) {
            parts.add(b.param(t, t, new long[] {1, 1, hidden}, x));
        }
        parts.add(x);
        x = b.concat(p + "embeddings.cat", parts, 1, false);
        String pos = p + v.positions();
        x = b.add(p + "embeddings.add_positions", x, b.param(pos, pos, positions, null));
        boolean teacher = d.has("cls_classifier.weight", false); // (DeiTForImageClassificationWithTeacher)
        boolean base = !d.has("classifier.weight", false) && !teacher;
        Set<Long> widths = new HashSet<>();
        int layers = 0;
        for (; d.has(p + v.layers() + layers + v.q() + ".weight", false); layers++) {
            String l = p + v.layers() + layers;
            String a = b.attentionGqa(l + ".attention", b.layerNorm(l + v.ln1(), x, eps), attentionNames(d, v, l), heads,
                    heads, headDim, attrs);
            x = b.add(l + ".attention_residual", x, a);
            x = b.add(l + ".mlp_residual", x, mlp(b, d, v, l, b.layerNorm(l + v.ln2(), x, eps), hidden, fn, actUnsupported,
                    widths));
        }
        LlamaFamily.agree(name, d, v.layersKey(), layers, p + v.layers() + "N" + v.q() + ".weight");
        if (widths.size() == 1) {
            LlamaFamily.agree(name, d, v.mlpKey(), widths.iterator().next(), p + v.layers() + "N" + v.fc() + ".weight");
        }
        x = b.layerNorm(p + "layernorm", x, eps, base);
        if (teacher) { // the mean of the class token's classifier and the distillation token's
            String c = b.linear("cls_classifier", b.select("cls_classifier.token", x, 1, 0),
                    d.size("cls_classifier.weight", 0, 1), true);
            String t = b.linear("distillation_classifier", b.select("distillation_classifier.token", x, 1, 1),
                    d.size("distillation_classifier.weight", 0, 1), true);
            return new Architecture(name, b.build(b.scale("logits", b.add("logits.sum", c, t), 0.5)),
                    Architecture.Init.PYTORCH_DEFAULT);
        }
        if (!base) {
            String first = b.select("classifier.first_token", x, 1, 0);
            return new Architecture(name, b.build(b.linear("classifier", first, d.size("classifier.weight", 0, 1), true)),
                    Architecture.Init.PYTORCH_DEFAULT);
        }
        String pooler = p + v.pooler();
        if (!d.has(pooler + ".weight", false)) {
            return new Architecture(name, b.build(x), Architecture.Init.PYTORCH_DEFAULT);
        }
        String pooled = b.act(pooler + ".act", b.linear(pooler, b.select(pooler + ".first_token", x, 1, 0),
                d.size(pooler + ".weight", 0, hidden), true),
                Op.Activation.TANH, true);
        return new Architecture(name, b.build(x, pooled), Architecture.Init.PYTORCH_DEFAULT);
    }

    /** The tokens a vision variant puts before its patches: the class token, and DeiT's distillation token. */
    private static long tokens(String name) {
        return name.equals(DEIT) ? 2 : 1;
    }

    /**
     * A masked-LM head's names: its dense layer, its LayerNorm, its decoder and the decoder's bias; whether its
     * activation is gelu whatever the configuration says (else hidden_act / activation).
     */
    private record MaskedLm(String dense, String norm, String decoder, String bias, boolean gelu) {}

    /** BERT's, ELECTRA's generator, RoBERTa's and DistilBERT's (the last: the default), told by the dense layer. */
    private static final List<MaskedLm> MASKED_LM_HEADS = List.of(
            new MaskedLm("cls.predictions.transform.dense", "cls.predictions.transform.LayerNorm", "cls.predictions.decoder",
                    "cls.predictions.bias", false),
            new MaskedLm("generator_predictions.dense", "generator_predictions.LayerNorm", "generator_lm_head",
                    "generator_lm_head.bias", true),
            new MaskedLm("lm_head.dense", "lm_head.layer_norm", "lm_head.decoder", "lm_head.bias", true),
            new MaskedLm("vocab_transform", "vocab_layer_norm", "vocab_projector", "vocab_projector.bias", false));

    /** ELECTRA's discriminator's first layer (its head on every token). */
    private static final String DISCRIMINATOR_DENSE = "discriminator_predictions.dense";

    /** The task head a checkpoint has, told by its tensors. */
    private enum Head {
        NONE, MASKED_LM, PRETRAINING, SEQUENCE, TOKENS, DISCRIMINATOR;

        static Head of(Dims d, boolean pooler) {
            if (d.has(DISCRIMINATOR_DENSE + ".weight", false)) {
                return DISCRIMINATOR;
            }
            if (MASKED_LM_HEADS.stream().anyMatch(x -> d.has(x.dense() + ".weight", false))) {
                return d.has("cls.seq_relationship.weight", false) ? PRETRAINING : MASKED_LM;
            }
            if (firstToken(d)) {
                return SEQUENCE;
            }
            if (d.has("classifier.weight", false)) { // BERT's on the pooled output; on every token without a pooler
                return pooler ? SEQUENCE : TOKENS;
            }
            return d.has("qa_outputs.weight", false) ? TOKENS : NONE;
        }

        /** Whether the classification head reads the first token itself (RoBERTa's and DistilBERT's), not a pooler. */
        static boolean firstToken(Dims d) {
            return d.has("classifier.dense.weight", false) || d.has("pre_classifier.weight", false);
        }

        /** The head on the last hidden state {@code h} (and the pooled output, or null): the network's outputs. */
        List<String> outputs(String name, GraphBuilder b, Dims d, String h, String pooled, String word, long vocab,
                long hidden, double eps, Op.Activation fn, String actUnsupported) {
            switch (this) {
                case NONE:
                    return List.of(h);
                case DISCRIMINATOR: { // ELECTRA's: act(dense(h)), then one logit per token
                    String x = b.linear(DISCRIMINATOR_DENSE, h, d.size(DISCRIMINATOR_DENSE + ".weight", 0, hidden), true);
                    x = actUnsupported == null ? b.act(DISCRIMINATOR_DENSE + ".act", x, fn)
                            : b.act(DISCRIMINATOR_DENSE + ".act", x, Op.Activation.GELU, actUnsupported);
                    String out = "discriminator_predictions.dense_prediction";
                    return List.of(b.linear(out, x, d.size(out + ".weight", 0, 1), true));
                }
                case MASKED_LM:
                case PRETRAINING: {
                    String logits = maskedLm(name, b, d, h, word, vocab, hidden, eps, fn, actUnsupported);
                    if (this == MASKED_LM) {
                        return List.of(logits);
                    }
                    if (pooled == null) {
                        throw LadyException.invalidInput(name + ": cls.seq_relationship reads the pooled output, but the "
                                + "checkpoint has no pooler.dense; a shard missing from the folder?");
                    }
                    return List.of(logits, b.linear("cls.seq_relationship", pooled, d.size("cls.seq_relationship.weight",
                            0, 2), true));
                }
                case SEQUENCE: {
                    if (firstToken(d)) {
                        // RoBERTa: dense, tanh, out_proj (ELECTRA: gelu); DistilBERT: pre_classifier, relu, classifier
                        boolean roberta = d.has("classifier.dense.weight", false);
                        String first = b.select("classifier.first_token", h, 1, 0);
                        String dense = roberta ? "classifier.dense" : "pre_classifier";
                        String x = b.act(dense + ".act", b.linear(dense, first, d.size(dense + ".weight", 0, hidden),
                                true), !roberta ? Op.Activation.RELU : name.equals(ELECTRA) ? Op.Activation.GELU
                                : Op.Activation.TANH);
                        String out = roberta ? "classifier.out_proj" : "classifier";
                        return List.of(b.linear(out, x, d.size(out + ".weight", 0, 2), true));
                    }
                    if (pooled == null) {
                        throw LadyException.invalidInput(name + ": the classifier reads the pooled output, but the "
                                + "checkpoint has no pooler.dense; a shard missing from the folder?");
                    }
                    return List.of(b.linear("classifier", pooled, d.size("classifier.weight", 0, 2), true));
                }
                default: { // TOKENS: a label per token (classifier), or a span's start and end (qa_outputs)
                    List<String> out = new java.util.ArrayList<>();
                    for (String m : List.of("classifier", "qa_outputs")) {
                        if (d.has(m + ".weight", false)) {
                            out.add(b.linear(m, h, d.size(m + ".weight", 0, 2), d.has(m + ".bias", false)));
                        }
                    }
                    return out;
                }
            }
        }

        /** The masked language model's head: a dense layer, an activation, a LayerNorm, the decoder (tied or not). */
        private static String maskedLm(String name, GraphBuilder b, Dims d, String h, String word, long vocab,
                long hidden, double eps, Op.Activation fn, String actUnsupported) {
            MaskedLm head = MASKED_LM_HEADS.stream().filter(x -> d.has(x.dense() + ".weight", false)).findFirst()
                    .orElse(MASKED_LM_HEADS.get(MASKED_LM_HEADS.size() - 1));
            String m = head.dense();
            String decoder = head.decoder();
            String bias = head.bias();
            // (RoBERTa's and ELECTRA's heads: gelu, whatever hidden_act says)
            String why = head.gelu() ? null : actUnsupported;
            String x = b.linear(m, h, d.size(m + ".weight", 0, hidden), true);
            x = why == null ? b.act(m + ".act", x, head.gelu() ? Op.Activation.GELU : fn)
                    : b.act(m + ".act", x, Op.Activation.GELU, why);
            x = b.layerNorm(head.norm(), x, eps);
            boolean saved = d.has(decoder + ".weight", false);
            boolean tie = !Boolean.FALSE.equals(d.config("tie_word_embeddings")); // (the encoders' default: tied)
            if (!saved && !tie) {
                throw LadyException.invalidInput(name + ": the checkpoint has no " + decoder + ".weight, and config.json "
                        + "does not tie it to the embedding (tie_word_embeddings); a shard missing from the folder?");
            }
            // the decoder's bias under the head's name, or under the decoder's (both, as older checkpoints hold it
            // twice: the second a copy nothing reads); a decoder saved but tied by the configuration reads the
            // embedding's channels (transformers ties them again on load: bert-base-uncased is saved so)
            String decoderBias = decoder + ".bias";
            String own = d.has(bias, false) ? bias : d.has(decoderBias, false) ? decoderBias : null;
            List<String> copies = own != null && own.equals(bias) && !bias.equals(decoderBias) && d.has(decoderBias, false)
                    ? List.of(decoderBias) : List.of();
            return b.linear(decoder, x, saved ? decoder + ".weight" : word, own, vocab, saved && tie ? word : null, copies);
        }
    }

    /**
     * config.json with the widths of {@code shapes}: the vocabulary, the width, the layer count, and the MLP's width
     * (intermediate_size, DistilBERT's hidden_dim), which structural edits change, when every layer has the same.
     */
    @Override
    public Map<String, Object> configFor(String name, Map<String, long[]> shapes, Map<String, Object> config) {
        Map<String, Object> c = new LinkedHashMap<>(config);
        String p = prefix(name, shapes::containsKey);
        if (p == null) {
            return c;
        }
        Variant v = VARIANTS.get(name);
        long[] word = shapes.get(p + v.word() + ".weight");
        c.computeIfPresent("vocab_size", (k, x) -> word[0]);
        long[] project = shapes.get(p + PROJECT + ".weight");
        c.computeIfPresent(v.widthKey(), (k, x) -> project != null ? project[0]
                : word[name.equals(VIT) || name.equals(DEIT) ? 0 : 1]);
        c.computeIfPresent("embedding_size", (k, x) -> word[1]); // (ViT's width: the patches' rows; ELECTRA's
        // projected embeddings: embeddings_project's rows)
        Set<Long> widths = new HashSet<>();
        long layers = 0;
        for (; shapes.containsKey(p + v.layers() + layers + v.q() + ".weight"); layers++) {
            long[] fc = shapes.get(p + v.layers() + layers + v.fc() + ".weight");
            if (fc != null) {
                widths.add(fc[0]);
            }
        }
        long count = layers;
        c.computeIfPresent(v.layersKey(), (k, x) -> count);
        if (widths.size() == 1) {
            long w = widths.iterator().next();
            c.computeIfPresent(v.mlpKey(), (k, x) -> w);
        }
        return c;
    }
}
