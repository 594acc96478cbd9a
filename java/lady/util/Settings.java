package lady.util;

import lady.LadyException;

/** Settings a user gives as a system property or, where that is not set, as an environment variable. */
public final class Settings {
    private Settings() {}

    /**
     * The {@code property} system property, else the {@code env} environment variable, as an integer; null when neither
     * is set (or it is blank).
     *
     * @throws LadyException USAGE ({@link #invalid}) when it is set but is no integer
     */
    public static Long integer(String property, String env, String expected) {
        String value = System.getProperty(property, System.getenv(env));
        if (value == null || value.isBlank()) {
            return null;
        }
        try {
            return Long.parseLong(value.trim());
        } catch (NumberFormatException e) {
            throw invalid(property, env, expected, value);
        }
    }

    /** The USAGE error of a setting that is not {@code expected} ("a positive integer"), naming both of its sources. */
    public static LadyException invalid(String property, String env, String expected, Object got) {
        return new LadyException(LadyException.Kind.USAGE, property + " / " + env + " must be " + expected + ", got "
                + Text.quote(String.valueOf(got)));
    }
}
