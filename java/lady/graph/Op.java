package lady.graph;

/**
 * The operations of a {@link Graph}. Each is documented with its inputs, its parameters (by role, the
 * key of {@link Node#params()}), its attributes ({@link Node#attrs()}) and what it does to channels
 * (the rule {@link ChannelSpaces} applies). Shapes follow PyTorch: images are {@code N x C x H x W}
 * (channels on axis 1), token sequences {@code N x S x D} (channels last), flat features {@code N x F}.
 */
public enum Op {
    /**
     * 2-D convolution. Input: an image. Params: {@code weight} [out, in/groups, kh, kw], {@code bias}
     * (optional). Attrs: {@code stride}, {@code padding}, {@code dilation} (pairs), {@code groups}; a weight
     * [out, in, k] and single stride, padding and dilation: a 1-D convolution over a sequence N x C x T (Whisper's);
     * {@code transposed} (1: a transposed convolution of an imported graph, weight [in, out, kh, kw],
     * groups 1; the interpreter does not run it). Channels: opens a space (its rows); a depthwise conv
     * ({@code groups == in}) keeps its input's space and its rows move with it; other grouped convs move whole
     * groups (their input's space coarsened to one neuron per group) and nest a space per group for its outputs.
     */
    CONV,
    /**
     * Fully connected layer on the last axis. Params: {@code weight} [out, in], {@code bias} (optional).
     * Attrs: {@code transposed} (1: the weight is stored [in, out], as ONNX's MatMul and Gemm with
     * transB = 0 keep it; then its rows are axis 1 and its columns axis 0; the interpreter does not run
     * it); {@link #CHANNELS_FIRST} (1: on axis 1 of an image, each pixel alike: ConvNeXt's Linear layers on its
     * channels-last tensors). Channels: reads the input's spaces (its columns, in blocks after a flatten) and opens a
     * space.
     */
    LINEAR,
    /**
     * A linear layer whose output rows are two halves, the first passed through an activation and multiplied by the
     * second: {@code act(x W[:n]^T + b[:n]) * (x W[n:]^T + b[n:])} (Phi-3's gate_up_proj: a fused gated MLP).
     * Params: {@code weight} [2n, in], {@code bias} (optional). Attrs: {@code fn} (the activation). Channels: reads
     * the input's space (columns) and opens a space of n units, rows j and n + j of the weight (and bias) each.
     */
    GATED_LINEAR,
    /** Batch normalization over axis 1. Params: weight, bias, running_mean, running_var, num_batches_tracked. Attrs: eps, momentum. Keeps the space. */
    BATCH_NORM,
    /**
     * Layer normalization over the last axis. Params: weight, bias. Attrs: eps; {@link #CHANNELS_FIRST} (1: over axis 1
     * of an image, each pixel on its own: ConvNeXt's LayerNorm2d). Keeps the space.
     */
    LAYER_NORM,
    /**
     * Group normalization over axis 1 ({@code nn.GroupNorm}: an imported graph's GroupNormalization, or PyTorch's export
     * of it, a Reshape into the groups, InstanceNormalization and a Reshape back). Params (each optional): {@code weight},
     * {@code bias} (one per channel); {@code group_weight}, {@code group_bias} (one per group). Attrs: groups, eps;
     * {@code groups_fixed} (1: the groups cannot trade places, a per-group value being computed). Channels: the spaces
     * are cut at the groups' bounds, so that a channel moves inside its group only; the groups trade places whole (an
     * outer space of one neuron per group, with the per-group values) when their channels are alike downstream, as a
     * grouped convolution's groups do. The interpreter does not run it.
     */
    GROUP_NORM,
    /**
     * RMS normalization over the last axis. Params: weight. Attrs: eps, weight_offset (optional: scaled by weight plus
     * it, Gemma's 1), {@link #FREE_CHANNELS} (optional). Keeps the space.
     */
    RMS_NORM,
    /**
     * Normalization of axis 1 of an image to unit Euclidean length, each pixel on its own, times a weight per channel:
     * {@code weight * x / max(||x||_2, eps)} (SSD's L2Norm of its VGG's conv4_3: torchvision's {@code scale_weight *
     * F.normalize(x)}). Params: weight. Attrs: eps, {@link #INIT} (a new model's weight). Keeps the space: the length
     * does not see the channels' order, the weight moves with them. A widened or rescaled channel would change the
     * length (the structural rules refuse those, as for any normalization but a batch norm).
     */
    L2_NORM,
    /**
     * An element-wise activation. Attrs: {@code fn} ({@link Activation}), optional {@code scale_in} and {@code
     * scale_out} ({@code scale_out * fn(scale_in * x)}: a soft cap). Keeps the space.
     */
    ACT,
    /** 2-D max pooling. Attrs: kernel, stride, padding (pairs), ceil (0/1). Keeps the space. */
    MAX_POOL,
    /** 2-D average pooling. Attrs: kernel, stride, padding (pairs), ceil, count_include_pad (0/1). Keeps the space. */
    AVG_POOL,
    /** Adaptive average pooling to {@code size} (pair). Keeps the space. */
    ADAPTIVE_AVG_POOL,
    /** Dropout. Attrs: p. Keeps the space. */
    DROPOUT,
    /** Element-wise sum of two inputs of the same shape. Ties the two inputs' spaces into one (a residual stream). */
    ADD,
    /**
     * Element-wise product of two inputs, broadcasting (squeeze-excitation: {@code x * scale} with
     * scale {@code N x C x 1 x 1}; gated MLPs). Ties the two inputs' spaces into one.
     */
    MUL,
    /**
     * Concatenation. Attrs: {@code axis}; {@code channels} (1: along the channel axis, 0: along another;
     * when absent it is read off the values: axis 1 of images and flat features, axis 2 of tokens). Along
     * the channel axis each input's spaces sit at their offsets of the result; along another axis
     * (tokens) the inputs' spaces are tied.
     */
    CONCAT,
    /** Flattens {@code N x C x H x W} to {@code N x C*H*W}: channel c owns the block of H*W columns at c*H*W. */
    FLATTEN,
    /** {@code N x C x H x W} to the token sequence {@code N x H*W x C} (ViT's patch embedding). Keeps the space, channels move last. */
    TO_TOKENS,
    /**
     * A parameter tensor used as an activation (ViT's class token [1, 1, D], position embedding [1, S, D]; CLIP's class
     * embedding [D], one token once expanded, and its logit_scale, a scalar).
     * Params: {@code value}. Attrs: {@code expand} (1: expanded to the batch of input 0). No data inputs
     * except the optional batch reference. Channels: its last axis opens a space that is tied to the
     * stream it is added to or concatenated with; a scalar has none (fixed).
     */
    PARAM,
    /**
     * Picks one index of an axis ({@code x[:, 0]}: the class token), or with attr {@link #MEAN_FROM} averages the indices
     * from it to the end ({@code x[:, k:].mean(1)}: the patch tokens' mean). Attrs: axis, index. Keeps the space.
     */
    SELECT,
    /**
     * A run of the channels: {@code x.narrow(axis, start, length)} on the channel axis {@code axis} (attrs; a channel
     * Slice or Split of an imported graph: YOLO's C2f chunks a conv's output in two). Channels: the spaces are cut at
     * the run's bounds (a space a bound falls inside becomes two, each its own group) and the output holds those
     * inside it.
     */
    SLICE_CHANNELS,
    /**
     * ShuffleNet's channel shuffle ({@code x.view(N, g, C / g, H, W).transpose(1, 2).reshape(N, C, H, W)}: channel
     * {@code a * C / g + b} goes to {@code b * g + a}). Attrs: groups (g). Channels: the input's g runs of C / g channels
     * must move alike (their spaces tied, coarsened to the coarsest run's blocks), and each of their neurons becomes one
     * block of g times its channels in the output.
     */
    CHANNEL_SHUFFLE,
    /**
     * ONNX's DepthToSpace ({@code nn.PixelShuffle}: r x r channels become one channel r times larger). Attrs: block (r),
     * mode ("CRD": output channel c reads input channels c r^2 .. c r^2 + r^2 - 1; "DCR": it reads c, C + c, ...).
     * Channels: CRD coarsens the input's spaces to neurons of at least r^2 channels (each then r^2 times fewer); DCR ties
     * its r^2 runs of C channels, as a channel shuffle does, without interleaving them. The interpreter does not run it.
     */
    DEPTH_TO_SPACE,
    /**
     * ONNX's SpaceToDepth (r x r pixels of each channel become r^2 channels: output channel k C + c is channel c at offset
     * k) and PyTorch's PixelUnshuffle (mode "CRD": output channel c r^2 + k). Attrs: block (r), mode ("DCR" when absent).
     * Channels: the output holds the input's layout r^2 times over (DCR), or each neuron as a block r^2 times longer
     * (CRD). The interpreter runs mode DCR ({@link #PIXEL_ORDER}, {@link #PAD_TO_BLOCK}: Swin's patch merging).
     */
    SPACE_TO_DEPTH,
    /**
     * A recurrent layer of an imported graph (ONNX LSTM, GRU, RNN) on a sequence whose channels are its last axis.
     * Params, per direction d (0 forward, 1 reverse), gate g and tensor u holding the gate's rows: {@code w<d>.<g>.<u>}
     * (the input weights: rows on the axis before the last, columns the input's channels), {@code r<d>.<g>.<u>} (the
     * recurrence weights: columns the hidden units) and {@code b<d>.<g>.<u>} for g below 2 x gates (the two biases:
     * rows on the last axis); a tensor is a stored [1, ...] one, a direction's part of a stored [2, ...] one, or a
     * state-dict tensor a kept export slices. Attrs: gates (4, 3 or 1), hidden (H), directions (1 or 2), and under each
     * param's key the row its gate starts at. Channels: reads the input's space (the w tensors' columns) and opens, per
     * direction, a space of H hidden units: every gate's rows of its w, r and b tensors, and the r tensors' columns
     * (the state fed back); the output holds the forward units, then the reverse ones. The interpreter does not run it.
     */
    RECURRENT,
    /**
     * torchvision's packed multi-head self-attention ({@code nn.MultiheadAttention}, batch first),
     * on {@code N x S x D}. Params: in_proj_weight [3D, D], in_proj_bias [3D], out_proj_weight [D, D],
     * out_proj_bias [D]. Attrs: heads; causal (1: each token sees itself and the tokens before it; default 0). An
     * optional second input gives the keys and values, the first the queries
     * (cross-attention: SigLIP's attention pooling). Channels: reads the input's space (in_proj columns; with a second
     * input both inputs' spaces, tied by the columns they share); a heads
     * space (blocks of head_dim rows in each of the q, k, v segments, blocks of out_proj columns); inside each
     * head its q and k dimensions alike (qk_pass) and its v dimensions with out_proj's columns (v_dims); opens
     * the output space (out_proj rows).
     */
    ATTENTION,
    /**
     * Llama-style attention with separate projections, grouped-query heads and rotary position
     * embedding, causal. Params: q_weight, k_weight, v_weight (or qkv_weight: the three stacked in that order,
     * Phi-3's qkv_proj), o_weight, and optional q_bias, k_bias,
     * v_bias, o_bias, q_norm and k_norm (Qwen3's and Gemma 3's RMSNorm of each q / k head, one weight of head_dim
     * shared by the heads, with attrs qk_norm_eps and qk_norm_offset), q_norm_full and k_norm_full (OLMo 2's and OLMoE's
     * RMSNorm of the whole q and k projections, a weight per row, which moves with its rows), and rope_inv_freq (stored
     * frequencies). Attrs:
     * optional attn_scale (default 1 / sqrt(head_dim)), logit_softcap, sliding_window; heads, kv_heads, head_dim, rope_theta
     * (double), and optionally the rotary scaling of Hugging Face's rope_scaling (rope_type, rope_factor,
     * rope_low_freq_factor, rope_high_freq_factor, rope_original_max_positions, max_positions; longrope's
     * rope_short_factor and rope_long_factor as JSON lists, rope_attention_factor), rotary_dim (optional: only the first
     * rotary_dim dimensions of each head rotate, Phi-4-mini's partial_rotary_factor, GPT-NeoX's rotary_pct; 0: no
     * rotary embedding, GPT-2). Packed forms: qkv_bias (the packed projection's bias); attr transposed (1: every
     * weight stored [in, out], GPT-2's Conv1D); attr o_transposed (o's own storage when it differs: an ONNX export's
     * Gemm beside MatMuls; default transposed); attr qkv_per_head (1: qkv_weight holds, per KV head, its query heads'
     * rows, then its k rows, then its v rows: GPT-NeoX's query_key_value, one query head per KV head; Falcon's); attr
     * alibi (1: BLOOM's linear bias by key position, a slope per head index: the heads stay in place; with attr
     * alibi_bias_max, MPT's slopes); attr clip_qkv (MPT: the packed projection's values clamped); attr causal (0:
     * every token sees every token, BERT's encoders; default 1). Attrs t5_buckets and t5_max_distance: T5's relative
     * position bias, the param head_bias [buckets, heads] (attr head_bias_axis 1) read at the bucket of each query-key
     * distance (both signs unless causal), added to the scores. A second input, when there is one, is what k and v read
     * instead of the first (cross-attention: T5's and BART's decoders over the encoder's output). An ONNX import's
     * attention (lady.onnx.OnnxAttention) carries the channels only: its scaling and masks stay in the ONNX graph, which
     * ONNX Runtime runs; it may have a param head_bias with attr
     * head_bias_axis (a stored tensor whose entry h along that axis biases query head h's scores, Swin's relative
     * position bias table along its columns: that axis moves with the heads, the others stay); Swin V2's head_scale (a
     * value per head along axis 0, its logit_scale [heads, 1, 1]) and its position-bias MLP cpb_in_weight [U, 2],
     * cpb_in_bias [U], cpb_out_weight [heads, U] (its rows move with the heads; its U hidden units are a space of their
     * own, the node's ".cpb_units"). Params named {@code buffer.*} are tensors saved
     * with the weights that the attention does not read (a causal mask). Channels: reads the input's
     * space (q/k/v columns); the KV heads with their query groups; the query heads inside each group;
     * the value dimensions inside each KV head; the q/k dimensions RoPE does not rotate (qk_pass: the same in
     * every query head of a KV head and in its k); opens the output space (o rows). Rotated dimensions inside a
     * query/key head never move (RoPE pairs them).
     */
    ATTENTION_GQA,
    /**
     * A sparse mixture of experts on tokens {@code N x S x D} (Mixtral's block_sparse_moe, Qwen2-MoE's and Qwen3-MoE's
     * sparse MLP): a router (a linear layer without bias, one row per expert) scores the E experts; a softmax over them;
     * each token keeps its {@code top_k} experts (their probabilities divided by their sum when {@code norm_topk} is 1)
     * and sums their outputs so weighted; expert e is a gated MLP {@code down.e(act(gate.e x) * up.e x)}. Params:
     * {@code router} [E, D]; {@code gate.e}, {@code up.e} [F_e, D] (or {@code gate_up.e} [2 F_e, D]: the gate rows, then
     * the up rows) and {@code down.e} [D, F_e] for e = 0 .. E-1;
     * optionally a shared expert every token uses (Qwen2-MoE): {@code shared_gate}, {@code shared_up}, {@code
     * shared_down}, and {@code shared_scale} [1, D] (its output times sigmoid(shared_scale x)). Attrs: {@code experts},
     * {@code top_k}, {@code norm_topk} (0/1), {@code fn}. Channels: reads the input's space (the columns of the router,
     * of every gate and up); the experts' order: the router's rows, every tensor of expert e moving whole with row e
     * ({@link lady.permutation.Role#WHOLE_TENSOR}); inside each expert (and the shared one) its units (gate and up
     * rows, down columns); opens the output space (the rows of every down).
     */
    MOE,
    /**
     * Token embedding. Input: ids [N, S] (int64). Params: weight [V, D]; {@code buffer.*}: tensors saved with it that
     * it does not read (BERT's position_ids). Attrs: optional scale (rows times it);
     * optional {@link #POSITION_OFFSET}: a learned position embedding (GPT-2's wpe), whose row offset + t is added at
     * position t whatever the token (its rows are positions, not a vocabulary), with optional {@link #PADDING_IDX}
     * (RoBERTa's: a padding token's row is padding_idx, and the positions count the other tokens from offset);
     * optional {@link #FIXED_ROW}: that row at every position (BERT's token_type_embeddings, token type 0). Channels:
     * opens a space (its columns).
     */
    EMBEDDING,
    /**
     * The image path of a multimodal model up to its projector's last layer: its vision tower and the projector's first
     * layers, whose parameters ({@code params}: any roles) stay as they are. Input: the token ids (for the batch
     * size). Attrs: {@code width} (its features). Channels: its tensors are fixed, its output's channels stay in place.
     * Lady runs text only: it yields no image tokens ({@code N x 0 x width}), and the language model computes what it
     * computes on text.
     */
    IMAGE_FEATURES,
    /**
     * Sinusoidal positions that are computed, not saved with the weights (M2M100's and NLLB's
     * M2M100SinusoidalPositionalEmbedding): for token ids {@code N x S}, the table's row of each token's position, {@code
     * N x S x width}. The table has {@code rows} rows (attr), row p the sines then the cosines of p times 10000^(-i /
     * (width / 2 - 1)), i < width / 2 (a zero column after them for an odd width), the padding row ({@link #PADDING_IDX})
     * zero; positions as RoBERTa's: padding tokens at the padding row, the others counted from it plus one. No params.
     * Channels: computed in a fixed order, its channels stay in place, and so do those of what it is added to.
     */
    SINUSOIDS,
    /** Bilinear resize of input 0 to the spatial size of input 1 (align_corners false). Keeps the space of input 0. */
    INTERPOLATE,
    /**
     * An operation of an imported graph that treats every channel alike and keeps its first input's
     * layout: element-wise functions, transposes and reshapes that leave the channel axis whole, padding,
     * resizing, reductions and slices of other axes, softmax, products and sums with per-channel constants.
     * Params: {@code vector}, {@code vector1}, ... (optional): per-channel constants (a PReLU's slopes, the
     * [C, 1, 1] operand of a Mul or Add) whose axis {@code axis} (attr, default 0) has one entry per
     * channel; any other param is a constant the channels do not see (fixed). Attrs: {@code type} (the
     * original op), {@code axis}. Inputs broadcast over the channels are not listed. Channels: keeps the
     * layout; the vectors follow its spaces (role PARAMETER). The interpreter runs type {@link #CHANNEL_SCALE} with one
     * vector (ConvNeXt's layer scale: the input times it along the channels, axis 1 of an image, the last axis of
     * tokens; a new model's filled with attr {@link #INIT}); not the others
     * (imported graphs run in ONNX Runtime).
     */
    CHANNELWISE,
    /**
     * An operation the analysis does not know (from an imported graph), or a known one in a form it cannot
     * follow. It pins the spaces of its inputs and its output: nothing that touches it is ever permuted.
     * Attrs: {@code type} (the original op), {@code why} (optional: the reason, for the spec's note).
     */
    OPAQUE;

    /**
     * An attribute any node may carry: why Lady's forward pass cannot compute it (a rotary scaling or an
     * activation the interpreter does not have). The analysis (groups, permutation, resync) ignores it; creating
     * the network to run it fails with this reason.
     */
    public static final String FORWARD_UNSUPPORTED = "forward_unsupported";

    /**
     * Attribute of an {@link #OPAQUE} node (1) whose output only its reader's columns read: it gets a note only when
     * its inputs held channels that could move (an importer's stand-in for a recurrent layer's input, which is most
     * often the graph's own input features, staying anyway).
     */
    public static final String QUIET = "quiet";

    /** The attribute of a {@link #SELECT} that averages its axis from this index to the end instead of picking one. */
    public static final String MEAN_FROM = "mean_from";

    /** The attribute of a {@link #LINEAR} or {@link #LAYER_NORM} working on axis 1 of an image (1), not the last axis. */
    public static final String CHANNELS_FIRST = "channels_first";

    /**
     * The attributes of an {@link #ATTENTION_GQA} over windows of an image (Swin's shifted-window attention,
     * lady.model.SwinAttention): the windows' side in pixels, and their cyclic shift.
     */
    public static final String WINDOW = "window";
    public static final String WINDOW_SHIFT = "window_shift";
    /** The attribute of Swin V2's window attention (1): cosine scores times the heads' scales, the MLP position bias. */
    public static final String COSINE = "cosine";
    /**
     * The attribute of MaxViT's grid attention (1): each of the {@link #WINDOW}^2 pixels of a window lies H / window
     * rows and W / window columns from its neighbours (one pixel per cell of a window x window grid of the image),
     * instead of next to them.
     */
    public static final String GRID = "grid";
    /**
     * The attribute of Swin V2's window attention whose position-bias offsets are scaled by (this - 1), not by (window -
     * 1): Hugging Face's pretrained_window_sizes (a model fine-tuned at a larger window than it was trained at).
     */
    public static final String COORDS_WINDOW = "coords_window";

    /**
     * The attribute of a {@link #SPACE_TO_DEPTH} of mode DCR giving the order of a patch's pixels among the output's runs
     * of channels: "row" (ONNX's: (0, 0), (0, 1), (1, 0), (1, 1)) or {@link #COLUMN_FIRST} (Swin's patch merging).
     */
    public static final String PIXEL_ORDER = "pixel_order";
    public static final String COLUMN_FIRST = "column";

    /** The attribute of a {@link #SPACE_TO_DEPTH} that pads the image with zeros at its bottom and right to whole patches (1). */
    public static final String PAD_TO_BLOCK = "pad_to_block";

    /** The type of a {@link #CHANNELWISE} product with one stored vector that Lady's forward runs ({@code x * vector}). */
    public static final String CHANNEL_SCALE = "Mul";

    /** The attribute of a {@link #CHANNELWISE} {@link #CHANNEL_SCALE}: the value a new model's vector is filled with. */
    public static final String INIT = "init";

    /** The attribute of an {@link #EMBEDDING} of positions: the row of position 0 (GPT-2: 0; OPT: 2). */
    public static final String POSITION_OFFSET = "position_offset";

    /**
     * The attribute of an {@link #EMBEDDING} of positions that skips padding (RoBERTa's create_position_ids_from_input_ids):
     * the padding token's id, whose tokens take row padding_idx, while the others take offset + the count of non-padding
     * tokens before them.
     */
    public static final String PADDING_IDX = "padding_idx";

    /** The attribute of an {@link #EMBEDDING} that adds one row at every position, whatever the token (BERT's token type 0). */
    public static final String FIXED_ROW = "fixed_row";

    /**
     * The attribute of a {@link #LINEAR} output layer saved apart from an embedding but tied to it by the configuration
     * (transformers ties them again when it loads the model: BERT's masked-LM decoder with tie_word_embeddings, as
     * bert-base-uncased is saved): the embedding's weight, whose columns its input channels are.
     */
    public static final String TIED_TO = "tied_to";

    /**
     * The prefix of a parameter role any node may carry: a stored vector that moves with one axis of another of the
     * node's parameters, as a quantized weight's per-axis scale and zero point do (an ONNX DequantizeLinear of a
     * stored int8 weight), or a Gemm's bias stored [1, out]; it moves along its one axis of more than one entry. Made by {@link #follows}: {@code follows.weight.0.1} is the second vector that moves with
     * axis 0 of the node's {@code weight}. The analysis gives it the members that axis has; the interpreter does not run
     * such a node.
     */
    public static final String FOLLOWS = "follows.";

    /** The role of the {@code k}-th vector that moves with axis {@code axis} of the parameter of role {@code role}. */
    public static String follows(String role, int axis, int k) {
        return FOLLOWS + role + "." + axis + "." + k;
    }

    /** Whether an {@link #EMBEDDING} node reads a vocabulary (its rows are tokens), not positions or a fixed row. */
    public static boolean vocabulary(Node n) {
        return n.op() == EMBEDDING && n.longAttr(POSITION_OFFSET, -1) < 0 && n.longAttr(FIXED_ROW, -1) < 0;
    }

    /**
     * An attribute of the node writing a graph output whose channel order is free (1; absent: 0): only inner products of
     * its vectors matter (a base language model's last hidden state: embedding models are compared by cosine
     * similarity), so its space is not pinned by being an output, and a check of the function compares the outputs'
     * inner products instead of their values.
     */
    public static final String FREE_CHANNELS = "free_channels";

    /** The element-wise activation functions of {@link #ACT}. */
    public enum Activation {
        RELU(true), RELU6(false), HARDSWISH(false), HARDSIGMOID(false), SIGMOID(false), GELU(false),
        GELU_TANH(false), SILU(false), TANH(false), IDENTITY(true),
        /** {@code x * sigmoid(1.702 x)}: OpenAI CLIP's quick_gelu. */
        QUICK_GELU(false);

        private final boolean positivelyHomogeneous;

        Activation(boolean positivelyHomogeneous) {
            this.positivelyHomogeneous = positivelyHomogeneous;
        }

        /** f(s x) = s f(x) for every s > 0: a neuron can be rescaled before it and compensated after it. */
        public boolean positivelyHomogeneous() {
            return positivelyHomogeneous;
        }
    }
}
