/**
 * Model files: PyTorch zip checkpoints (a restricted unpickler that never runs code), safetensors, Hugging
 * Face folders, and the hand-off of ONNX files ({@link lady.checkpoint.GraphFileFormat}); {@link
 * lady.checkpoint.StateDict}, the ordered name-to-tensor map every command works on.
 *
 * <p>May import (Lady packages): io, report, tensor, util.
 */
package lady.checkpoint;
