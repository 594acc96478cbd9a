/**
 * Small helpers every package may use: seeds derived per purpose, short and escaped texts for messages, Lady's
 * thread count and its parallel loops ({@link lady.util.Parallel}).
 *
 * <p>May import (Lady packages): none.
 */
package lady.util;
