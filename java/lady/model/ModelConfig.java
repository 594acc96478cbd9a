package lady.model;

/**
 * An architecture name and its options: what {@link Models#infer(lady.checkpoint.StateDict)}
 * recovers from a checkpoint.
 */
public record ModelConfig(String architecture, ModelOptions options) {
    /** Builds the (randomly initialized) model. */
    public Model create() {
        return Models.create(architecture, options);
    }
}
