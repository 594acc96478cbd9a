/**
 * The only home of the paper's numbers (noise levels, quantization bits, pruning rates, training and ranking
 * settings, the watermark's parameters), each with where it comes from.
 *
 * <p>May import (Lady packages): none.
 */
package lady.paper;
