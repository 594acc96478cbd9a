/**
 * Small helpers every package may use: seeds derived per purpose, short and escaped texts for messages.
 *
 * <p>May import (Lady packages): none.
 */
package lady.util;
