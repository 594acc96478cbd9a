/**
 * Attacks on a model's weights (method.md section 7): Gaussian noise, fine-tuning, quantization, magnitude
 * pruning and the structural attacks, each a small value type parsed from a spec string such as {@code
 * noise:7}, applied to a {@link lady.checkpoint.StateDict}.
 *
 * <p>May import (Lady packages): checkpoint, paper, progress, tensor, util.
 */
package lady.attack;
