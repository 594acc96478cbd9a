/**
 * Files written safely: atomic writes and the output policy of every command (outputs distinct from inputs,
 * temporaries renamed only on success).
 *
 * <p>May import (Lady packages): util.
 */
package lady.io;
