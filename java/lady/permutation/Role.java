package lady.permutation;

/** What a member tensor of a permutation group is to the group's neurons. */
public enum Role {
    /**
     * A producer's weight: the slice of the neuron is computed from the layer's input (rows of a conv or
     * linear weight, q/k/v rows of attention heads, the columns of a token embedding). Resync compares these.
     */
    PRODUCER_WEIGHT,
    /** A producer's bias (axis 0). */
    PRODUCER_BIAS,
    /** The scale (gamma) of a normalization: batch norm, layer norm, RMS norm weight. */
    NORM_WEIGHT,
    /** The shift (beta) of a normalization. */
    NORM_BIAS,
    /** Batch norm's running mean. */
    RUNNING_MEAN,
    /** Batch norm's running variance. */
    RUNNING_VAR,
    /** The per-channel filter of a depthwise convolution: it reads and writes only its own neuron. */
    CHANNEL_WEIGHT,
    /** The bias of a depthwise convolution. */
    CHANNEL_BIAS,
    /** A parameter used as an activation and added into the neurons (ViT's class token, position embedding). */
    PARAMETER,
    /** A consumer's weight, permuted along its input axis, possibly in blocks (columns). */
    CONSUMER_WEIGHT,
    /**
     * A whole tensor that belongs to one neuron, the member's {@code offset} (axis 0, block 1): permuting the group
     * moves it between the names of the neurons' tensors, new neuron j's tensor holding old neuron p[j]'s (an expert's
     * gate, up and down weights move with the expert's router row). The neurons' tensors at the same place in their
     * lists have the same shape.
     */
    WHOLE_TENSOR;

    /** A batch-norm or layer-norm vector (weight, bias, running statistics). */
    public boolean isNorm() {
        return this == NORM_WEIGHT || this == NORM_BIAS || this == RUNNING_MEAN || this == RUNNING_VAR;
    }

    /** The name in spec files ({@code producer_weight}, ...). */
    public String key() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    /** The role named {@code key} in a spec file. */
    public static Role ofKey(String key) {
        for (Role r : values()) {
            if (r.key().equals(key)) {
                return r;
            }
        }
        throw lady.LadyException.invalidInput("unknown member role '" + key + "'; known: "
                + String.join(", ", java.util.Arrays.stream(values()).map(Role::key).toList()));
    }
}
