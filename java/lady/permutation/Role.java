package lady.permutation;

/** What a member tensor of a permutation group is to the group's neurons. */
public enum Role {
    /** The producer's weight, permuted along axis 0: one row per neuron (resync compares these). */
    PRODUCER_WEIGHT,
    /** The producer's bias (axis 0). */
    PRODUCER_BIAS,
    /** A normalization vector of the neurons: BN weight, bias, running_mean, running_var (axis 0). */
    NORM,
    /** A consumer's weight, permuted along its input axis (axis 1), possibly in blocks. */
    CONSUMER_WEIGHT
}
