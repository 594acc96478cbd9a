/**
 * Structural edits of a network's neuron groups, beyond permutations (symmetries.md, "Beyond
 * permutations"): rescaling neurons, adding dummy pairs and splits, merging positively parallel neurons,
 * dropping neurons that do nothing. Everything works from the permutation spec (producer rows and biases,
 * batch-norm vectors, consumer columns) and the graph's rules ({@link lady.graph.StructuralRules}), never
 * from tensor names. The numbers are plain Java arrays; {@link Floats} is the one place that reads and
 * writes a state dict's tensors.
 */
package lady.structure;
