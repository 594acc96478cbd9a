/**
 * Architecture as data: a network as a {@link lady.graph.Graph} of operations over named values with every
 * parameter by its state-dict name, and {@link lady.graph.ChannelSpaces}, the channel-space analysis that
 * derives its permutation groups. No libtorch here.
 *
 * <p>May import (Lady packages): permutation.
 */
package lady.graph;
