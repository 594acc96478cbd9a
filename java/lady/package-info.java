/**
 * Lady: permutation and re-synchronization of deep neural networks (Find the Lady, AAAI 2024). The root holds
 * what every package shares: {@link lady.LadyException} (a user-facing error with its exit code) and {@link
 * lady.BuildInfo}.
 */
package lady;
