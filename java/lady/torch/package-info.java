/**
 * libtorch, where Lady runs a network: bootstrap (the first-run extraction), threads, allocator fill, and the
 * one conversion between host tensors and libtorch tensors.
 *
 * <p>May import (Lady packages): checkpoint, kernels, tensor, util.
 */
package lady.torch;
