/**
 * Progress reporting: library code reports through a listener and never prints; the terminal progress bar of
 * the CLI.
 *
 * <p>May import (Lady packages): none.
 */
package lady.progress;
