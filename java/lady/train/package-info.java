/**
 * Training, fine-tuning and evaluation loops over libtorch.
 *
 * <p>May import (Lady packages): attack, checkpoint, data, graph, model, paper, progress, tensor, torch, util.
 */
package lady.train;
