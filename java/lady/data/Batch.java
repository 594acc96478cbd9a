package lady.data;

import org.bytedeco.pytorch.Tensor;

/**
 * One batch: {@code images} float32 N x 3 x 32 x 32 (normalized), {@code labels} int64 N, and the
 * dataset indices of its images, in batch order. The tensors belong to the innermost open
 * {@link org.bytedeco.javacpp.PointerScope} when the batch was made (open one per step).
 */
public record Batch(Tensor images, Tensor labels, int[] indices) {
    public int size() {
        return indices.length;
    }
}
