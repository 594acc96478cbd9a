/**
 * The application layer: one runner per job ({@code PermuteJob}, {@code SpecJob}, ...), each taking a request
 * record (what the user asked, already parsed) and returning a result with its {@link lady.app.Manifest} (tool,
 * version, inputs, options, timings). A runner reads the inputs, calls the library, writes the outputs through
 * {@link lady.io.OutputSet} (all or nothing) and reports its stages to a {@link lady.progress.ProgressListener};
 * it never prints. The commands of {@code lady.cli} only parse, call a runner and print its result.
 *
 * <p>May import (Lady packages): everything but cli (the packages of the jobs it runs: checkpoint, data, demo,
 * experiment, io, kernels, model, onnx, paper, permutation, progress, report, structure, torch, train, util).
 */
package lady.app;
