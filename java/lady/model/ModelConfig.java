package lady.model;

/**
 * An architecture and its options, and its description: what {@link Models#infer(lady.checkpoint.StateDict)}
 * recovers from a checkpoint (the description carries every size the checkpoint has).
 *
 * @param architecture the architecture's name
 * @param options      classes, width, input channels and size (probe batches, new models)
 * @param description  the network, with the checkpoint's sizes
 */
public record ModelConfig(String architecture, ModelOptions options, Architecture description) {
    /** The description of a new model with these options. */
    public ModelConfig(String architecture, ModelOptions options) {
        this(architecture, options, Models.describe(architecture, options));
    }

    /** Builds the (randomly initialized) model. */
    public Model create() {
        return Models.create(description);
    }
}
