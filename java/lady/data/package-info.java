/**
 * Datasets: CIFAR-10 binary, MNIST IDX, the built-in digits; normalization, augmentation and seeded batching.
 *
 * <p>May import (Lady packages): paper, torch, util.
 */
package lady.data;
