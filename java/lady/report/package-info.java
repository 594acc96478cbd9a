/**
 * Lady's JSON codec for reports and its own files (secrets, keys, spec files).
 *
 * <p>May import (Lady packages): none.
 */
package lady.report;
