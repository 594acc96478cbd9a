package lady;

/**
 * The one exception type Lady's library throws for problems a user can act on (bad input, a
 * missing file, a kernel refusing its arguments). The CLI prints {@link #getMessage()} on one line
 * and exits with {@link #exitCode()}; it never dumps a stack trace for these.
 */
public class LadyException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** Exit codes of the CLI, one per kind of failure. */
    public enum Kind {
        /** Something the user asked cannot be done as asked (bad option combination). */
        USAGE(2),
        /** Input data is invalid: corrupt or hostile checkpoint, wrong shapes, NaNs. */
        INVALID_INPUT(3),
        /** A file cannot be read or written. */
        IO(4),
        /** A native kernel refused or failed. */
        KERNEL(5),
        /** A GPU was required and none is usable. */
        NO_GPU(6),
        /** An internal invariant failed: a bug in Lady. */
        INTERNAL(70);

        private final int exitCode;

        Kind(int exitCode) {
            this.exitCode = exitCode;
        }

        public int exitCode() {
            return exitCode;
        }
    }

    private final Kind kind;

    public LadyException(Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    public LadyException(Kind kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }

    public int exitCode() {
        return kind.exitCode();
    }

    public static LadyException invalidInput(String message) {
        return new LadyException(Kind.INVALID_INPUT, message);
    }
}
