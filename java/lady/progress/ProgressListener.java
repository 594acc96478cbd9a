package lady.progress;

import java.util.Map;
import java.util.function.ObjDoubleConsumer;

/**
 * How long-running library code reports progress without printing (architecture habit 5): the
 * CLI passes a {@link TerminalProgress}, tests and quiet runs pass {@link #NONE}.
 *
 * <p>Protocol: {@code start}, any number of {@code advance}, {@code finish}; a task may be started
 * again after it finished (e.g. one task per epoch). Implementations must be cheap: callers may
 * call {@code advance} once per batch.
 */
public interface ProgressListener {
    /** A listener that ignores everything. */
    ProgressListener NONE = stages((what, seconds) -> {});

    /** A listener that ignores tasks and hands every finished stage to {@code show} (what, seconds). */
    static ProgressListener stages(ObjDoubleConsumer<String> show) {
        return new ProgressListener() {
            @Override
            public void start(String task, long total, String unit) {}

            @Override
            public void advance(long units, Map<String, ?> metrics) {}

            @Override
            public void finish() {}

            @Override
            public void stage(String what, double seconds) {
                show.accept(what, seconds);
            }
        };
    }

    /**
     * A task begins.
     *
     * @param task  what is being done, e.g. "train epoch 1/3" or "resync"
     * @param total units of work in all; 0 or negative when unknown
     * @param unit  the unit's name, e.g. "img", "batch", "groups"
     */
    void start(String task, long total, String unit);

    /**
     * {@code units} more units are done; {@code metrics} are the latest live values to show
     * (e.g. "loss" -> 0.53); values are shown as given (numbers formatted compactly). May be empty.
     */
    void advance(long units, Map<String, ?> metrics);

    /** {@code units} more units are done, no metrics. */
    default void advance(long units) {
        advance(units, Map.of());
    }

    /** The task ended (successfully or not). */
    void finish();

    /**
     * A step of a job ended after {@code seconds}: {@code what} says what it did (e.g. "read m.pt: vgg16, 32
     * tensors, 58.9 MB"). Ignored unless the listener shows steps (the commands that print stage lines).
     */
    default void stage(String what, double seconds) {}
}
