/**
 * Permutations and what moves with them: {@link lady.permutation.Permutation}, the groups of a network
 * ({@link lady.permutation.PermutationSpec}, {@link lady.permutation.Group}, {@link
 * lady.permutation.Member}), spec files, the secret of an attack, and {@link lady.permutation.Permuter},
 * which applies permutations in one native pass.
 *
 * <p>May import (Lady packages): checkpoint, io, kernels, report, tensor, util.
 */
package lady.permutation;
