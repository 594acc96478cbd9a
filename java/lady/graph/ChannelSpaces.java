package lady.graph;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import lady.permutation.Group;
import lady.permutation.Member;
import lady.permutation.PermutationSpec;
import lady.permutation.Role;
import lady.permutation.SpecValidator;

/**
 * Derives the permutation spec of a {@link Graph}: a dependency analysis over channel spaces, the idea of
 * Torch-Pruning's DepGraph. Every value carries a <em>layout</em>: the spaces its channel axis is made
 * of, in order (one space normally, several after a concatenation), each with its neuron count and block
 * (indices per neuron: H*W after a flatten). The rules, per {@link Op}:
 * <ul>
 *   <li>a producer (conv, linear, embedding, attention output projection) opens a space: its rows (and
 *       bias) are the space's PRODUCER members; it reads its input's layout with its columns (CONSUMER
 *       members, at each space's offset and block); a weight stored transposed (attr {@code transposed}:
 *       ONNX's MatMul, Gemm with transB = 0, ConvTranspose) has its rows and columns swapped;</li>
 *   <li>batch norm, layer norm, RMS norm add their vectors to the spaces they normalize; activations,
 *       pooling, dropout, interpolation, token selection and the channel-wise operations of imported
 *       graphs ({@link Op#CHANNELWISE}) keep the layout;</li>
 *   <li>a depthwise convolution keeps its input's layout: its rows (and bias) move with each input
 *       space (CHANNEL members; block times the channel multiplier); any other grouped convolution moves
 *       whole groups (its input space coarsened to one neuron per group, the outer space) and the output
 *       channels inside each group (a space per group, nested in the outer one);</li>
 *   <li>{@code add} and {@code mul} tie their inputs' spaces into one (union-find): residual streams,
 *       squeeze-excitation (the excitation's last layer joins the space it scales), gated MLPs; when the
 *       two inputs are cut into spaces differently (an excitation scaling a concatenation) a space is split
 *       where only the other input has a boundary (the excitation's rows 0..15 join the first branch, 16..23
 *       the second);</li>
 *   <li>{@code concat} along the channel axis places its inputs' spaces at their offsets; along another
 *       axis (a class token before the patch tokens) it ties them;</li>
 *   <li>a slice of the channels (a chunk, a Split) cuts the spaces at its bounds, each piece a space of its own,
 *       and keeps those inside;</li>
 *   <li>a parameter used as an activation ({@link Op#PARAM}: a class token, a position embedding, an
 *       imported graph's per-channel constant) opens a space on its channel axis, which the add, product
 *       or concatenation it enters ties to the stream;</li>
 *   <li>{@code flatten} multiplies blocks by H*W, read off the consumer's columns (columns / channels);</li>
 *   <li>packed attention has a heads space (blocks of head_dim rows in the q, k and v segments of
 *       in_proj and bias, blocks of out_proj columns); grouped-query attention has the KV heads with their
 *       query groups, the query heads inside each group and the value dimensions inside each KV head;
 *       dimensions inside a query/key head never move (rotary embeddings pair them), except the unrotated ones of a
 *       partial rotary (one group per KV head, alike in its query heads and its k);</li>
 *   <li>a mixture of experts has a group for its experts' order, whose neurons own whole tensors (the router's rows,
 *       each expert's weights: {@link Role#WHOLE_TENSOR}; pinned when the experts differ in width), each expert's
 *       units a group nested in it; every expert's down rows make one output space;</li>
 *   <li>a space that reaches a graph input or output (unless its writer says its channels are free: {@link
 *       Op#FREE_CHANNELS}), or an operation the analysis does not know ({@link Op#OPAQUE}), is pinned: nothing in
 *       it moves, with a note naming the node.</li>
 * </ul>
 * Each free space with a producer is a group. Groups come in the order of their first producer
 * (topological). Names: the producer's node name (module path) for a space with one producer node;
 * {@code "stream." + P} for a space tied by additions, P the common module path of its producers after
 * the first (the stem or downsample), e.g. "stream.layer1"; {@code node + ".heads"} for attention heads (with
 * {@code ".qk_pass.K"} and {@code ".v_dims.K"} inside head K);
 * {@code node + ".kv_heads"}, {@code ".q_heads.K"}, {@code ".qk_pass.K"} (a partial rotary's unrotated q and k
 * dimensions), {@code ".v_dims.K"} for grouped-query attention.
 */
public final class ChannelSpaces {
    private ChannelSpaces() {}

    /** The validated spec of {@code graph}. */
    public static PermutationSpec derive(Graph graph) {
        PermutationSpec spec = new Analysis(graph).run();
        return SpecValidator.validate(spec, graph.tensors());
    }

    /** One space's stretch of a value's channel axis: {@code n} neurons of {@code block} indices each. */
    private record Seg(int space, long n, long block) {
        long length() {
            return n * block;
        }
    }

    /**
     * What a value's channel axis is made of. {@code opaque}: unknown (its channels stay in place);
     * {@code flattened}: flattened from an image, blocks still to be multiplied by H*W.
     */
    private record Layout(List<Seg> segs, boolean opaque, boolean flattened) {
        static final Layout OPAQUE = new Layout(List.of(), true, false);

        long length() {
            long n = 0;
            for (Seg s : segs) {
                n += s.length();
            }
            return n;
        }
    }

    private record Draft(String tensor, int axis, long offset, long block, Role role) {}

    /** Bits of a space's creation order for its sequence within its node (a mixture of experts opens one per expert). */
    private static final int SEQUENCE_BITS = 32;

    private static final class Space {
        long size; // divided when the space is coarsened (a grouped convolution's input moves in whole groups)
        long order; // creation position: node index, then sequence within the node (SEQUENCE_BITS); a grouped
                    // convolution's outer space is moved before the spaces of its groups
        final String node;
        final String suffix;
        final List<Draft> members = new ArrayList<>();
        final List<String> producerNodes = new ArrayList<>();
        boolean pinned;
        boolean tiedByAdd;

        Space(long size, long order, String node, String suffix) {
            this.size = size;
            this.order = order;
            this.node = node;
            this.suffix = suffix;
        }

    }

    private static final class Analysis {
        private final Graph graph;
        private final List<Space> spaces = new ArrayList<>();
        private final List<Integer> parent = new ArrayList<>();
        private final Map<String, Layout> layouts = new HashMap<>();
        /** An embedding's weight -> the space its columns open (a tied head reads that space). */
        private final Map<String, Integer> embeddings = new HashMap<>();
        private final Set<String> fixed = new LinkedHashSet<>();
        private final List<String> notes = new ArrayList<>();
        private int nodeIndex;
        private int sequence;

        Analysis(Graph graph) {
            this.graph = graph;
        }

        PermutationSpec run() {
            for (Graph.Input in : graph.inputs()) {
                if (in.kind() != Graph.Input.Kind.TOKENS) {
                    int s = open(in.channels(), in.name(), "");
                    pin(s);
                    layouts.put(in.name(), new Layout(List.of(new Seg(s, in.channels(), 1)), false, false));
                } else {
                    layouts.put(in.name(), Layout.OPAQUE);
                }
            }
            for (nodeIndex = 0; nodeIndex < graph.nodes().size(); nodeIndex++) {
                sequence = 0;
                Node n = graph.nodes().get(nodeIndex);
                layouts.put(n.output(), step(n));
                followers(n);
            }
            for (String out : graph.outputs()) {
                if (!graph.freeChannels(out)) {
                    pinAll(layouts.get(out));
                }
            }
            tieShared();
            return build();
        }

        /**
         * A tensor's axis range in two spaces (one module applied to two inputs: a detector's head on every level of its
         * feature pyramid reads each level's channels and writes each level's outputs with the same weight) can move
         * one way only: those spaces are one.
         */
        private void tieShared() {
            Map<String, Integer> seen = new HashMap<>();
            for (int i = 0; i < spaces.size(); i++) {
                if (root(i) != i) {
                    continue;
                }
                for (Draft m : List.copyOf(spaces.get(i).members)) {
                    if (m.role() == Role.WHOLE_TENSOR) { // (a mixture's expert moves its tensors whole, its units inside)
                        continue;
                    }
                    Integer other = seen.putIfAbsent(m.tensor() + "[" + m.axis() + "]@" + m.offset() + "/" + m.block() + " "
                            + m.role(), i);
                    if (other != null && root(other) != root(i)) {
                        union(other, i, false);
                    }
                }
            }
        }

        // ---- union-find over spaces ----

        private int open(long size, String node, String suffix) {
            spaces.add(new Space(size, ((long) nodeIndex << SEQUENCE_BITS) + sequence++, node, suffix));
            parent.add(parent.size());
            return parent.size() - 1;
        }

        private int root(int s) {
            while (parent.get(s) != s) {
                parent.set(s, parent.get(parent.get(s)));
                s = parent.get(s);
            }
            return s;
        }

        private void union(int a, int b, boolean byAdd) {
            int ra = root(a);
            int rb = root(b);
            if (ra == rb) {
                spaces.get(ra).tiedByAdd |= byAdd;
                return;
            }
            Space sa = spaces.get(ra);
            Space sb = spaces.get(rb);
            // the earlier space is the root: it keeps the first producer
            int keep = sa.order <= sb.order ? ra : rb;
            int drop = keep == ra ? rb : ra;
            Space k = spaces.get(keep);
            Space d = spaces.get(drop);
            k.members.addAll(d.members);
            k.producerNodes.addAll(d.producerNodes);
            k.pinned |= d.pinned;
            k.tiedByAdd |= d.tiedByAdd || byAdd;
            d.members.clear();
            d.producerNodes.clear();
            parent.set(drop, keep);
        }

        private void pin(int s) {
            spaces.get(root(s)).pinned = true;
        }

        private void pinAll(Layout l) {
            if (l != null) {
                l.segs().forEach(s -> pin(s.space()));
            }
        }

        private void member(int space, String tensor, int axis, long offset, long block, Role role) {
            Space s = spaces.get(root(space));
            s.members.add(new Draft(tensor, axis, offset, block, role));
        }

        private void producer(int space, String node) {
            Space s = spaces.get(root(space));
            if (!s.producerNodes.contains(node)) {
                s.producerNodes.add(node);
            }
        }

        // ---- the rules ----

        private Layout in(Node n, int i) {
            Layout l = layouts.get(n.inputs().get(i));
            return l == null ? Layout.OPAQUE : l;
        }

        private Layout step(Node n) {
            return switch (n.op()) {
                case CONV -> conv(n);
                case LINEAR -> linear(n);
                case GATED_LINEAR -> gatedLinear(n);
                case BATCH_NORM, LAYER_NORM, RMS_NORM, L2_NORM -> norm(n);
                case GROUP_NORM -> groupNorm(n);
                case ACT, DROPOUT -> in(n, 0);
                case CHANNELWISE -> channelwise(n);
                case MAX_POOL, AVG_POOL, ADAPTIVE_AVG_POOL, INTERPOLATE, SELECT, TO_TOKENS -> keepUnflattened(n);
                case ADD, MUL -> tie(n, n.op() == Op.ADD);
                case CONCAT -> concat(n);
                case SLICE_CHANNELS -> sliceChannels(n);
                case CHANNEL_SHUFFLE -> channelShuffle(n);
                case DEPTH_TO_SPACE -> depthToSpace(n);
                case SPACE_TO_DEPTH -> spaceToDepth(n);
                case RECURRENT -> recurrent(n);
                case FLATTEN -> flatten(n);
                case PARAM -> param(n);
                case ATTENTION -> attention(n);
                case ATTENTION_GQA -> attentionGqa(n);
                case MOE -> moe(n);
                case EMBEDDING -> embedding(n);
                case OPAQUE -> opaque(n, n.stringAttr("why", "operator " + n.stringAttr("type", "?") + " is not one Lady knows"));
                case IMAGE_FEATURES -> opaque(n, "an image path (a vision tower)");
                case SINUSOIDS -> opaque(n, "sinusoidal positions computed in a fixed channel order (not saved with the "
                        + "weights)");
            };
        }

        /**
         * The vectors that move with an axis of one of the node's parameters ({@link Op#FOLLOWS}: a quantized weight's
         * per-axis scales and zero points, a Gemm's bias stored [1, out]) get the members that axis got, along their one
         * axis of more than one entry, in the same blocks (a weight's rows: a bias-like vector); fixed where it is fixed.
         */
        private void followers(Node n) {
            for (Map.Entry<String, String> p : n.params().entrySet()) {
                if (!p.getKey().startsWith(Op.FOLLOWS)) {
                    continue;
                }
                String[] parts = p.getKey().substring(Op.FOLLOWS.length()).split("\\.");
                String of = parts.length == 3 ? n.param(parts[0]) : null;
                int axis = of == null ? -1 : Integer.parseInt(parts[1]);
                String vector = p.getValue();
                int along = alongAxis(graph.shape(vector));
                if (of == null || along < 0 || fixed.contains(of) || fixed.contains(SpecValidator.fixedAxis(of, axis))) {
                    fixed.add(vector);
                    continue;
                }
                for (int i = 0; i < spaces.size(); i++) {
                    if (root(i) != i) {
                        continue;
                    }
                    List<Draft> members = spaces.get(i).members;
                    List<Draft> add = new ArrayList<>();
                    for (Draft d : members) {
                        if (d.tensor().equals(of) && d.axis() == axis) {
                            Role role = switch (d.role()) {
                                case PRODUCER_WEIGHT -> Role.PRODUCER_BIAS;
                                case CHANNEL_WEIGHT -> Role.CHANNEL_BIAS;
                                default -> d.role();
                            };
                            add.add(new Draft(vector, along, d.offset(), d.block(), role));
                        }
                    }
                    members.addAll(add);
                }
            }
        }

        /** The one axis of a vector stored with axes of size 1 around it ([n], [1, n]), or -1. */
        private static int alongAxis(long[] shape) {
            int along = -1;
            for (int i = 0; i < shape.length; i++) {
                if (shape[i] != 1) {
                    if (along >= 0) {
                        return -1;
                    }
                    along = i;
                }
            }
            return along < 0 ? 0 : along;
        }

        /** Pins everything the node touches and fixes its tensors; its output stays in place. */
        private Layout opaque(Node n, String why) {
            boolean loses = n.longAttr(Op.QUIET, 0) != 1 || !n.params().isEmpty();
            for (int i = 0; i < n.inputs().size(); i++) {
                Layout l = in(n, i);
                loses |= l != null && l.segs().stream().anyMatch(s -> !spaces.get(root(s.space())).pinned);
                pinAll(l);
            }
            for (String t : n.params().values()) {
                fixed.add(t);
            }
            if (loses) {
                notes.add("node '" + n.name() + "': " + why + "; its channels stay in place");
            }
            return Layout.OPAQUE;
        }

        private Layout keepUnflattened(Node n) {
            Layout l = in(n, 0);
            if (l.flattened() && n.op() != Op.SELECT) {
                return opaque(n, n.op() + " after a flatten");
            }
            return l;
        }

        /** Columns of {@code tensor} along {@code axis} read layout {@code l}; false (and fixed) when they cannot. */
        private boolean consume(Layout l, String tensor, int axis) {
            long columns = graph.shape(tensor)[axis];
            if (l.opaque() || l.length() != columns) {
                if (!l.opaque()) {
                    notes.add("'" + tensor + "' reads " + columns + " columns from an input laid out as " + l.length()
                            + " channels; those channels stay in place");
                }
                pinAll(l);
                fixed.add(SpecValidator.fixedAxis(tensor, axis));
                return false;
            }
            long offset = 0;
            for (Seg s : l.segs()) {
                member(s.space(), tensor, axis, offset, s.block(), Role.CONSUMER_WEIGHT);
                offset += s.length();
            }
            return true;
        }

        /** Opens a space of {@code rows} neurons produced by {@code weight} (axis) and {@code bias}. */
        private int produce(Node n, String weight, int axis, String bias, long rows) {
            int s = open(rows, n.name(), "");
            member(s, weight, axis, 0, 1, Role.PRODUCER_WEIGHT);
            if (bias != null) {
                member(s, bias, 0, 0, 1, Role.PRODUCER_BIAS);
            }
            producer(s, n.name());
            return s;
        }

        private Layout conv(Node n) {
            Layout l = in(n, 0);
            String w = n.param("weight");
            String b = n.param("bias");
            long[] shape = graph.shape(w);
            long groups = n.longAttr("groups", 1);
            long out = shape[0];
            if (groups < 1 || out % groups != 0) {
                return opaque(n, "convolution with " + groups + " groups and " + out + " outputs");
            }
            if (l.flattened()) {
                return opaque(n, "a convolution after a flatten");
            }
            if (n.longAttr("transposed", 0) == 1) { // weight [in, out / groups, kh, kw]
                if (groups != 1) {
                    return opaque(n, "grouped transposed convolution (groups = " + groups + ")");
                }
                consume(l, w, 0);
                int s = produce(n, w, 1, b, shape[1]);
                return new Layout(List.of(new Seg(s, shape[1], 1)), false, false);
            }
            if (groups == 1) {
                consume(l, w, 1);
                int s = produce(n, w, 0, b, out);
                return new Layout(List.of(new Seg(s, out, 1)), false, false);
            }
            long in = shape[1] * groups;
            if (groups == in && out % in == 0 && !l.opaque() && l.length() == in) {
                // depthwise: each input channel's filters move with it (channel multiplier m = out / in)
                long m = out / in;
                fixed.add(SpecValidator.fixedAxis(w, 1));
                List<Seg> segs = new ArrayList<>();
                long offset = 0;
                for (Seg s : l.segs()) {
                    member(s.space(), w, 0, offset * m, s.block() * m, Role.CHANNEL_WEIGHT);
                    if (b != null) {
                        member(s.space(), b, 0, offset * m, s.block() * m, Role.CHANNEL_BIAS);
                    }
                    segs.add(new Seg(s.space(), s.n(), s.block() * m));
                    offset += s.length();
                }
                return new Layout(segs, false, false);
            }
            return groupedConv(n, l, w, b, groups, out);
        }

        /**
         * A grouped (not depthwise) convolution of G groups: output channel o reads only the {@code a} input channels
         * of its group o / b (b = out / G). Two kinds of moves keep its function, both taken: whole groups trade
         * places (the input's blocks of a channels and the output's blocks of b together: the input space is coarsened
         * to G neurons of a channels and is the <em>outer</em> space), and inside each group its b output channels
         * move freely (one space per group, {@code ".group." + g}, nested in the outer one's block g). The input
         * channels inside a group stay in place (they would move the weight's second axis row block by row block,
         * which no member describes). The outer space's members after the convolution are derived at the end from
         * the per-group spaces (every member of group g's space, at g's offset, is one block of the outer's), so
         * whatever reads the output (norms, an excitation, the next convolution's columns) joins both.
         */
        private Layout groupedConv(Node n, Layout l, String w, String b, long groups, long out) {
            long[] shape = graph.shape(w);
            long a = shape[1];
            long per = out / groups; // (conv checked that the groups divide the outputs)
            fixed.add(SpecValidator.fixedAxis(w, 1));
            int outer = -1;
            Seg only = !l.opaque() && l.segs().size() == 1 ? l.segs().get(0) : null;
            if (only != null && only.n() % groups == 0 && only.n() / groups * only.block() == a) {
                outer = coarsen(only.space(), only.n() / groups);
            } else {
                pinAll(l);
                notes.add("node '" + n.name() + "': grouped convolution (groups = " + groups + ") of an input Lady cannot "
                        + "cut into its groups; its groups stay in place, the channels inside each group move");
            }
            int[] inner = new int[(int) groups];
            List<Seg> segs = new ArrayList<>();
            for (int g = 0; g < groups; g++) {
                inner[g] = open(per, n.name(), ".group." + g);
                member(inner[g], w, 0, g * per, 1, Role.PRODUCER_WEIGHT);
                if (b != null) {
                    member(inner[g], b, 0, g * per, 1, Role.PRODUCER_BIAS);
                }
                producer(inner[g], n.name() + ".group." + g);
                segs.add(new Seg(inner[g], per, 1));
            }
            groupedConvs.add(new GroupedConv(n.name(), outer, inner, per));
            return new Layout(segs, false, false);
        }

        /** A grouped convolution's spaces: the outer one (-1 when its groups stay), one per group of {@code per} channels. */
        private record GroupedConv(String node, int outer, int[] inner, long per, int norm) {
            GroupedConv(String node, int outer, int[] inner, long per) {
                this(node, outer, inner, per, -1);
            }
        }

        /**
         * A group normalization's node and the spaces of its output (its groups' channels, as cut then): whole groups of a
         * grouped convolution or another group norm cannot trade places across these groups' bounds, unless they are
         * these very groups and this norm's groups may trade places too ({@code movable}: it opened an outer space).
         */
        private record GroupNorm(String node, int[] spaces, boolean movable) {}

        private final List<GroupNorm> groupNorms = new ArrayList<>();

        /** The spaces that stand for {@code space} now: its root, or the pieces it was split into. */
        private Set<Integer> leaves(int space) {
            int r = root(space);
            int[] parts = splits.get(r);
            if (parts == null) {
                return Set.of(r);
            }
            Set<Integer> out = new LinkedHashSet<>(leaves(parts[0]));
            out.addAll(leaves(parts[1]));
            return out;
        }

        /**
         * The node of a group normalization other than entry {@code c}'s that groups some of {@code roots} otherwise than
         * {@code c} does, or null. One whose groups are exactly {@code roots}, one space each, and may trade places is no
         * obstacle: its own outer space joins {@code c}'s ({@link #joinGroups}), so both move the same whole groups.
         */
        private String normAcross(GroupedConv c, Set<Integer> roots) {
            for (int k = 0; k < groupNorms.size(); k++) {
                if (k == c.norm() || (groupNorms.get(k).movable() && sameGroups(groupNorms.get(k), roots))) {
                    continue;
                }
                for (int sp : groupNorms.get(k).spaces()) {
                    for (int leaf : leaves(sp)) {
                        if (roots.contains(leaf)) {
                            return groupNorms.get(k).node();
                        }
                    }
                }
            }
            return null;
        }

        /** Whether {@code norm}'s groups are {@code roots}, one (unsplit) space each. */
        private boolean sameGroups(GroupNorm norm, Set<Integer> roots) {
            Set<Integer> now = new LinkedHashSet<>();
            for (int sp : norm.spaces()) {
                Set<Integer> l = leaves(sp);
                if (l.size() != 1 || !now.add(l.iterator().next())) {
                    return false;
                }
            }
            return now.equals(roots);
        }

        private final List<GroupedConv> groupedConvs = new ArrayList<>();

        /**
         * Makes {@code space} (its root) move in blocks of {@code f} of its neurons: its size divided by f, every
         * member's block multiplied by f, every value's layout rewritten. Returns the root.
         */
        private int coarsen(int space, long f) {
            int r = root(space);
            Space s = spaces.get(r);
            if (f == 1) {
                return r;
            }
            s.size /= f;
            s.members.replaceAll(m -> new Draft(m.tensor(), m.axis(), m.offset(), m.block() * f, m.role()));
            for (Map.Entry<String, Layout> e : layouts.entrySet()) {
                Layout l = e.getValue();
                if (l.segs().stream().anyMatch(x -> root(x.space()) == r)) {
                    e.setValue(new Layout(l.segs().stream().map(x -> root(x.space()) == r
                            ? new Seg(x.space(), x.n() / f, x.block() * f) : x).toList(), l.opaque(), l.flattened()));
                }
            }
            return r;
        }

        /**
         * Gives each grouped convolution's outer space the members of its per-group spaces, one block of {@code per}
         * neurons per group: when every group's space is still its own (not tied to another group's, not split, not
         * pinned) and all hold the same members shifted by whole groups. Otherwise the groups stay in place (the
         * outer space is pinned), with a note; the channels inside each group still move.
         */
        private void joinGroups() {
            Map<Integer, Integer> claimed = new HashMap<>(); // a group's space -> the outer space it was joined to
            for (GroupedConv c : groupedConvs) {
                if (c.outer() < 0) {
                    continue;
                }
                int outer = root(c.outer());
                if (spaces.get(outer).pinned || splits.containsKey(outer)) { // (its groups stay; cut: a slice of them)
                    continue;
                }
                List<Draft> first = new ArrayList<>(spaces.get(root(c.inner()[0])).members);
                Set<Integer> roots = new LinkedHashSet<>();
                boolean alike = true;
                for (int g = 0; g < c.inner().length && alike; g++) {
                    int r = root(c.inner()[g]);
                    Space s = spaces.get(r);
                    alike = roots.add(r) && r != outer && !s.pinned && !splits.containsKey(r) && s.size == c.per()
                            && shifted(s.members, g * c.per()).equals(new LinkedHashSet<>(first));
                }
                if (!alike) {
                    pin(outer);
                    boolean innerPinned = java.util.Arrays.stream(c.inner()).allMatch(g -> spaces.get(root(g)).pinned);
                    notes.add("node '" + c.node() + "': its groups are not alike downstream; they stay in place, "
                            + (innerPinned ? "and so do the channels inside each group (what reads them pins them)"
                                    : "the channels inside each group move"));
                    continue;
                }
                String norm = normAcross(c, roots);
                if (norm != null) {
                    pin(outer);
                    notes.add("node '" + c.node() + "': a group normalization ('" + norm + "') also groups these channels; "
                            + "its groups stay in place, the channels inside each group move");
                    continue;
                }
                Set<Integer> before = new LinkedHashSet<>();
                roots.forEach(r -> before.add(claimed.containsKey(r) ? root(claimed.get(r)) : -1));
                if (before.size() != 1) { // some of its groups' spaces are another grouped conv's, some not
                    pin(outer);
                    notes.add("node '" + c.node() + "': its groups are tied to another grouped convolution's only in "
                            + "part; they stay in place, the channels inside each group move");
                    continue;
                }
                int other = before.iterator().next();
                if (other >= 0) { // every group's space is another grouped conv's (their outputs added): one outer space
                    union(other, outer, false);
                    continue;
                }
                roots.forEach(r -> claimed.put(r, outer));
                for (Draft m : first) {
                    member(outer, m.tensor(), m.axis(), m.offset(), m.block() * c.per(), m.role());
                }
                // the outer group is listed before the groups nested in it (a group's space may be older: a stream the
                // grouped conv's output is added into)
                long earliest = roots.stream().mapToLong(r -> spaces.get(r).order).min().orElseThrow();
                Space o = spaces.get(outer);
                o.order = Math.min(o.order, earliest - 1);
            }
        }

        /** Members with their offsets moved back by {@code neurons} neurons (each by its own block). */
        private static Set<Draft> shifted(List<Draft> members, long neurons) {
            Set<Draft> out = new LinkedHashSet<>();
            for (Draft m : members) {
                out.add(new Draft(m.tensor(), m.axis(), m.offset() - neurons * m.block(), m.block(), m.role()));
            }
            return out;
        }

        private Layout linear(Node n) {
            Layout l = in(n, 0);
            String w = n.param("weight");
            long[] shape = graph.shape(w);
            // rows and columns: [out, in], or [in, out] for a weight stored transposed
            int rows = n.longAttr("transposed", 0) == 1 ? 1 : 0;
            int cols = 1 - rows;
            if (l.flattened() && !l.opaque()) {
                long channels = l.length();
                if (channels > 0 && shape[cols] % channels == 0) {
                    long f = shape[cols] / channels;
                    List<Seg> segs = l.segs().stream().map(s -> new Seg(s.space(), s.n(), s.block() * f)).toList();
                    l = new Layout(segs, false, false);
                } else {
                    l = Layout.OPAQUE;
                    notes.add("node '" + n.name() + "': " + shape[cols] + " input features do not split into the "
                            + channels + " flattened channels; its input channels stay in place");
                }
            }
            // a head tied to an embedding (its weight, or saved apart and tied by the configuration) reads the
            // embedding's channels (OPT-350m's project_out writes them): one space, whatever leads there
            Integer tied = embeddings.get(n.stringAttr(Op.TIED_TO, w));
            if (tied != null && !l.opaque() && !l.flattened() && l.segs().size() == 1 && l.segs().get(0).block() == 1
                    && l.length() == shape[cols]) {
                union(l.segs().get(0).space(), tied, false);
            }
            consume(l, w, cols);
            int s = produce(n, w, rows, n.param("bias"), shape[rows]);
            return new Layout(List.of(new Seg(s, shape[rows], 1)), false, false);
        }

        private Layout gatedLinear(Node n) {
            Layout l = in(n, 0);
            String w = n.param("weight");
            String b = n.param("bias");
            long units = graph.shape(w)[0] / 2;
            if (l.flattened()) {
                return opaque(n, "a gated linear layer after a flatten");
            }
            consume(l, w, 1);
            int s = open(units, n.name(), "");
            for (long half : new long[] {0, units}) { // unit j: rows j (the gate) and units + j (the value)
                member(s, w, 0, half, 1, Role.PRODUCER_WEIGHT);
                if (b != null) {
                    member(s, b, 0, half, 1, Role.PRODUCER_BIAS);
                }
            }
            producer(s, n.name());
            return new Layout(List.of(new Seg(s, units, 1)), false, false);
        }

        private Layout norm(Node n) {
            Layout l = in(n, 0);
            String w = n.param("weight");
            long size = graph.shape(w)[0];
            boolean vectors = n.params().entrySet().stream().allMatch(e -> e.getKey().equals("num_batches_tracked")
                    || java.util.Arrays.equals(graph.shape(e.getValue()), new long[] {size}));
            if (!vectors) { // (a malformed graph: a bias or a statistic of another length than the weight)
                return opaque(n, "its vectors differ in length");
            }
            // (a flattened input qualifies when it holds the norm's features: flattened from one pixel, as a network
            // that pools, flattens and normalizes the pooled features has it: Hugging Face's ConvNeXt)
            if (l.opaque() || l.length() != size) {
                pinAll(l);
                n.params().values().forEach(fixed::add);
                if (!l.opaque()) {
                    notes.add("node '" + n.name() + "': normalizes " + size + " features of an input laid out as "
                            + l.length() + "; its channels stay in place");
                }
                return l.opaque() ? l : Layout.OPAQUE;
            }
            Map<String, Role> roles = new LinkedHashMap<>();
            roles.put("weight", Role.NORM_WEIGHT);
            roles.put("bias", Role.NORM_BIAS);
            roles.put("running_mean", Role.RUNNING_MEAN);
            roles.put("running_var", Role.RUNNING_VAR);
            long offset = 0;
            for (Seg s : l.segs()) {
                for (Map.Entry<String, Role> e : roles.entrySet()) {
                    String t = n.param(e.getKey());
                    if (t != null) {
                        member(s.space(), t, 0, offset, s.block(), e.getValue());
                    }
                }
                offset += s.length();
            }
            String tracked = n.param("num_batches_tracked");
            if (tracked != null) {
                fixed.add(tracked);
            }
            return l;
        }

        /**
         * {@link Op#GROUP_NORM}: the spaces cut at the groups' bounds, the per-channel vectors following them; the groups
         * registered to trade places whole ({@link #joinGroups}) when each is one space.
         */
        private Layout groupNorm(Node n) {
            Layout l = in(n, 0);
            long groups = n.longAttr("groups", 1);
            if (l.opaque()) {
                n.params().values().forEach(fixed::add);
                return l;
            }
            long channels = l.length();
            if (l.flattened() || groups < 1 || channels % groups != 0) {
                return opaque(n, "group normalization of " + groups + " groups over " + channels + " channels"
                        + (l.flattened() ? " after a flatten" : ""));
            }
            long per = channels / groups;
            for (long k = 1; k < groups; k++) {
                if (!cut(reread(l), k * per)) {
                    return opaque(n, "a bound of its " + groups + " groups cuts a neuron's block");
                }
            }
            Layout out = reread(l);
            long offset = 0;
            for (Seg s : out.segs()) {
                for (String role : new String[] {"weight", "bias"}) {
                    String t = n.param(role);
                    if (t != null) {
                        member(s.space(), t, 0, offset, s.block(), role.equals("weight") ? Role.NORM_WEIGHT : Role.NORM_BIAS);
                    }
                }
                offset += s.length();
            }
            // whole groups: each group one space of its own (one segment of block 1, starting at its bound)
            List<Integer> inner = new ArrayList<>();
            long at = 0;
            for (Seg s : out.segs()) {
                if (at % per == 0 && s.n() == per && s.block() == 1 && !inner.contains(root(s.space()))) {
                    inner.add(root(s.space()));
                }
                at += s.length();
            }
            String gw = n.param("group_weight");
            String gb = n.param("group_bias");
            // whole groups may trade places when each is one space of its own (the input uncut, or cut by another group
            // norm at these very bounds: the join then needs the groups alike, as a grouped convolution's)
            boolean movable = groups > 1 && inner.size() == groups && n.longAttr("groups_fixed", 0) == 0;
            if (groups > 1) { // (one group: a norm over all the channels, which cuts nothing)
                groupNorms.add(new GroupNorm(n.name(), out.segs().stream().mapToInt(Seg::space).toArray(), movable));
            }
            if (movable) {
                int outer = open(groups, n.name(), "");
                if (gw != null) {
                    member(outer, gw, 0, 0, 1, Role.NORM_WEIGHT);
                }
                if (gb != null) {
                    member(outer, gb, 0, 0, 1, Role.NORM_BIAS);
                }
                groupedConvs.add(new GroupedConv(n.name(), outer, inner.stream().mapToInt(Integer::intValue).toArray(), per,
                        groupNorms.size() - 1));
            } else {
                if (gw != null) {
                    fixed.add(gw);
                }
                if (gb != null) {
                    fixed.add(gb);
                }
                if (groups > 1) {
                    notes.add("node '" + n.name() + "': its " + groups + " groups stay in place ("
                            + (inner.size() != groups || l.segs().size() != 1 ? "its input's channels are cut otherwise "
                            + "already, or a group holds channels of several spaces" : "a per-group value is computed")
                            + "); the channels inside each group move");
                }
            }
            return out;
        }

        /** Keeps the layout; the per-channel vectors ({@code vector*} params) follow its spaces. */
        private Layout channelwise(Node n) {
            Layout l = in(n, 0);
            int axis = (int) n.longAttr("axis", 0);
            for (Map.Entry<String, String> p : n.params().entrySet()) {
                if (!p.getKey().startsWith("vector")) {
                    fixed.add(p.getValue());
                    continue;
                }
                String t = p.getValue();
                long[] shape = graph.shape(t);
                if (l.opaque() || l.flattened() || axis >= shape.length || l.length() != shape[axis]) {
                    pinAll(l);
                    fixed.add(t);
                    if (!l.opaque()) {
                        notes.add("node '" + n.name() + "': '" + t + "' does not have one entry per channel of its input "
                                + "(laid out as " + l.length() + "); those channels stay in place");
                    }
                    continue;
                }
                long offset = 0;
                for (Seg s : l.segs()) {
                    member(s.space(), t, axis, offset, s.block(), Role.PARAMETER);
                    offset += s.length();
                }
                for (int a = 0; a < shape.length; a++) {
                    if (a != axis && shape[a] > 1) {
                        fixed.add(SpecValidator.fixedAxis(t, a));
                    }
                }
            }
            return l;
        }

        private Layout tie(Node n, boolean byAdd) {
            Layout a = in(n, 0);
            Layout b = in(n, 1);
            if (!tieable(a, b) && refine(a, b)) {
                a = in(n, 0);
                b = in(n, 1);
            }
            if (!tieable(a, b)) {
                pinAll(a);
                pinAll(b);
                if (!a.opaque() || !b.opaque()) {
                    notes.add("node '" + n.name() + "': " + n.op() + " of inputs whose channels are laid out differently; "
                            + "their channels stay in place");
                }
                return a.opaque() ? a : new Layout(a.segs(), false, false);
            }
            for (int i = 0; i < a.segs().size(); i++) {
                union(a.segs().get(i).space(), b.segs().get(i).space(), byAdd);
            }
            return a;
        }

        /**
         * Makes two layouts of the same length tieable by splitting spaces where only one of them has a
         * boundary (an excitation's rows joining a concatenation: rows 0..15 follow the first branch, 16..23
         * the second). False when they cannot be (different lengths, a boundary inside a block).
         */
        private boolean refine(Layout a, Layout b) {
            if (a.opaque() || b.opaque() || a.flattened() != b.flattened() || a.length() != b.length()) {
                return false;
            }
            for (int round = 0; round < 2; round++) {
                Layout from = round == 0 ? a : b;
                Layout to = round == 0 ? b : a;
                long p = 0;
                for (Seg s : from.segs()) {
                    p += s.length();
                    if (!cut(to, p)) {
                        return false;
                    }
                    // the cut may have split a space that both layouts hold: read them again
                    a = reread(a);
                    b = reread(b);
                    to = round == 0 ? b : a;
                }
            }
            return true;
        }

        /** Splits the space of {@code l}'s segment that contains index {@code p} so that a segment ends at p. */
        private boolean cut(Layout l, long p) {
            long start = 0;
            for (Seg s : l.segs()) {
                long end = start + s.length();
                if (p == end || p == start) {
                    return true;
                }
                if (p < end) {
                    if ((p - start) % s.block() != 0) {
                        return false;
                    }
                    split(s.space(), (p - start) / s.block());
                    return true;
                }
                start = end;
            }
            return true;
        }

        /** A layout with every segment's space split since it was read replaced by the pieces. */
        private Layout reread(Layout l) {
            List<Seg> segs = new ArrayList<>();
            for (Seg s : l.segs()) {
                segs.addAll(pieces(s));
            }
            return new Layout(segs, l.opaque(), l.flattened());
        }

        /** Segments that stand for {@code s} now (itself, or the pieces its space was split into). */
        private List<Seg> pieces(Seg s) {
            int r = root(s.space());
            int[] parts = splits.get(r);
            if (parts == null) {
                return List.of(s);
            }
            List<Seg> out = new ArrayList<>();
            Space first = spaces.get(parts[0]);
            out.addAll(pieces(new Seg(parts[0], first.size, s.block())));
            out.addAll(pieces(new Seg(parts[1], s.n() - first.size, s.block())));
            return out;
        }

        /** Space -> the two spaces it was split into (its first k neurons, the rest). */
        private final Map<Integer, int[]> splits = new HashMap<>();

        /**
         * Splits space {@code space} (its root) into its first {@code k} neurons and the rest: two new spaces
         * with the members re-offset, the same producers and flags; every value's layout is rewritten.
         */
        private void split(int space, long k) {
            int r = root(space);
            Space s = spaces.get(r);
            int[] parts = new int[2];
            for (int i = 0; i < 2; i++) {
                long from = i == 0 ? 0 : k;
                long to = i == 0 ? k : s.size;
                // the pieces keep the place of the space in the group order
                Space p = new Space(to - from, s.order, s.node, s.suffix + "[" + from + ":" + to + "]");
                for (Draft m : s.members) {
                    p.members.add(new Draft(m.tensor(), m.axis(), m.offset() + from * m.block(), m.block(), m.role()));
                }
                p.producerNodes.addAll(s.producerNodes);
                p.pinned = s.pinned;
                p.tiedByAdd = s.tiedByAdd;
                spaces.add(p);
                parent.add(parent.size());
                parts[i] = parent.size() - 1;
            }
            s.members.clear();
            s.producerNodes.clear();
            splits.put(r, parts);
            for (Map.Entry<String, Layout> e : layouts.entrySet()) {
                e.setValue(reread(e.getValue()));
            }
        }

        private static boolean tieable(Layout a, Layout b) {
            if (a.opaque() || b.opaque() || a.flattened() != b.flattened() || a.segs().size() != b.segs().size()) {
                return false;
            }
            for (int i = 0; i < a.segs().size(); i++) {
                Seg x = a.segs().get(i);
                Seg y = b.segs().get(i);
                if (x.n() != y.n() || x.block() != y.block()) {
                    return false;
                }
            }
            return true;
        }

        private Layout concat(Node n) {
            long axis = n.longAttr("axis", 1);
            List<Layout> ins = new ArrayList<>();
            for (int i = 0; i < n.inputs().size(); i++) {
                ins.add(in(n, i));
            }
            long declared = n.longAttr("channels", -1);
            boolean channelAxis = declared >= 0 ? declared == 1 : axis == channelAxis(n.inputs().get(0));
            if (!channelAxis) {
                Layout first = ins.get(0);
                for (Layout l : ins.subList(1, ins.size())) {
                    if (!tieable(first, l)) {
                        ins.forEach(this::pinAll);
                        notes.add("node '" + n.name() + "': concatenation of inputs whose channels differ; they stay in place");
                        return Layout.OPAQUE;
                    }
                    for (int i = 0; i < first.segs().size(); i++) {
                        union(first.segs().get(i).space(), l.segs().get(i).space(), false);
                    }
                }
                return first;
            }
            List<Seg> segs = new ArrayList<>();
            for (Layout l : ins) {
                if (l.opaque() || l.flattened()) {
                    ins.forEach(this::pinAll);
                    notes.add("node '" + n.name() + "': concatenation of an input Lady cannot follow; its channels stay in place");
                    return Layout.OPAQUE;
                }
                segs.addAll(l.segs());
            }
            return new Layout(segs, false, false);
        }

        /** The channel axis of a value: 1 for images and flat features, the last axis for token sequences. */
        private long channelAxis(String value) {
            return tokenValue(value) ? 2 : 1;
        }

        /** Whether {@code value} is a token sequence {@code N x S x D} (by the operations that made it). */
        private boolean tokenValue(String value) {
            Node w = graph.writer(value);
            while (w != null) {
                switch (w.op()) {
                    case TO_TOKENS, EMBEDDING, ATTENTION, ATTENTION_GQA:
                        return true;
                    case PARAM:
                        return graph.shape(w.param("value")).length == 3;
                    case CONV, FLATTEN, SELECT:
                        return false;
                    default:
                        w = w.inputs().isEmpty() ? null : graph.writer(w.inputs().get(0));
                }
            }
            return false;
        }

        /** The channels [start, start + length): the spaces cut at both bounds, those inside kept. */
        private Layout sliceChannels(Node n) {
            Layout l = in(n, 0);
            if (l.opaque()) {
                return l;
            }
            long start = n.longAttr("start", 0);
            long end = start + n.longAttr("length", 0);
            String why = l.flattened() ? "after a flatten" : start < 0 || end > l.length() || start >= end ? "outside them"
                    : !cut(l, start) || !cut(reread(l), end) ? "that cuts a neuron's block" : null;
            if (why != null) {
                pinAll(l);
                notes.add("node '" + n.name() + "': a slice [" + start + ", " + end + ") of " + l.length() + " channels "
                        + why + "; those channels stay in place");
                return Layout.OPAQUE;
            }
            List<Seg> inside = new ArrayList<>();
            long at = 0;
            for (Seg s : reread(l).segs()) {
                if (at >= start && at + s.length() <= end) {
                    inside.add(s);
                }
                at += s.length();
            }
            return new Layout(inside, false, false);
        }

        /**
         * {@link Op#RECURRENT}: reads its input's space (W's columns), opens the hidden units' of each direction (every
         * gate's rows of W and R and its two biases, in every tensor holding them; R's columns, the state fed back): the
         * output holds the forward direction's, then the reverse's.
         */
        private Layout recurrent(Node n) {
            Layout l = in(n, 0);
            long gates = n.longAttr("gates", 1);
            long hidden = n.longAttr("hidden", 0);
            if (l.flattened()) {
                return opaque(n, "a recurrent layer after a flatten");
            }
            List<Seg> out = new ArrayList<>();
            for (long d = 0; d < n.longAttr("directions", 1); d++) {
                Set<String> ws = new LinkedHashSet<>(); // the tensors of this direction's W and R
                Set<String> rs = new LinkedHashSet<>();
                for (Map.Entry<String, String> p : n.params().entrySet()) {
                    if (p.getKey().startsWith("w" + d + ".")) {
                        ws.add(p.getValue());
                    } else if (p.getKey().startsWith("r" + d + ".")) {
                        rs.add(p.getValue());
                    }
                }
                for (String w : ws) {
                    consume(l, w, rank(w) - 1);
                }
                int s = open(hidden, n.name(), d == 0 ? "" : ".reverse");
                for (long g = 0; g < 2 * gates; g++) {
                    for (String role : g < gates ? List.of("w", "r", "b") : List.of("b")) {
                        String t;
                        for (int u = 0; (t = n.param(role + d + "." + g + "." + u)) != null; u++) {
                            boolean bias = role.equals("b");
                            member(s, t, rank(t) - (bias ? 1 : 2), n.longAttr(role + d + "." + g + "." + u, 0), 1,
                                    bias ? Role.PRODUCER_BIAS : Role.PRODUCER_WEIGHT);
                        }
                    }
                }
                for (String r : rs) {
                    member(s, r, rank(r) - 1, 0, 1, Role.CONSUMER_WEIGHT);
                }
                producer(s, n.name());
                out.add(new Seg(s, hidden, 1));
            }
            return new Layout(out, false, false);
        }

        private int rank(String tensor) {
            return graph.tensors().get(tensor).length;
        }

        /** {@link Op#CHANNEL_SHUFFLE}: its runs tied and coarsened alike, each neuron a block of groups x its block. */
        private Layout channelShuffle(Node n) {
            return tiedRuns(n, n.longAttr("groups", 1), true);
        }

        /** {@link Op#DEPTH_TO_SPACE}: CRD coarsens each space to whole outputs; DCR ties its runs (not interleaved). */
        private Layout depthToSpace(Node n) {
            long r = n.longAttr("block", 1);
            long f = r * r;
            if (r < 1 || f == 1) {
                return in(n, 0);
            }
            if (n.stringAttr("mode", "DCR").equals("DCR")) {
                return tiedRuns(n, f, false);
            }
            Layout l = in(n, 0);
            if (l.opaque()) {
                return l;
            }
            if (l.flattened() || l.length() % f != 0) {
                return opaque(n, "depth to space of blocks of " + f + " over " + l.length() + " channels");
            }
            long at = 0;
            for (Seg s : l.segs()) {
                long c = s.block() >= f ? 1 : f / s.block();
                if (at % f != 0 || (s.block() >= f ? s.block() % f != 0 : f % s.block() != 0 || s.n() % c != 0
                        || !coarsenable(root(s.space()), c))) {
                    return opaque(n, "depth to space whose blocks of " + f + " channels cut a neuron's block or span two "
                            + "spaces");
                }
                at += s.length();
            }
            List<Seg> out = new ArrayList<>();
            for (Seg s : l.segs()) {
                if (s.block() >= f) {
                    out.add(new Seg(s.space(), s.n(), s.block() / f));
                } else {
                    long c = f / s.block();
                    int sp = coarsen(s.space(), c);
                    out.add(new Seg(sp, s.n() / c, 1));
                }
            }
            return new Layout(out, false, false);
        }

        /**
         * {@link Op#SPACE_TO_DEPTH}: the input's layout repeated once per pixel of a block (DCR, ONNX's), or each neuron's
         * block r^2 times longer (CRD, PyTorch's PixelUnshuffle).
         */
        private Layout spaceToDepth(Node n) {
            Layout l = in(n, 0);
            long r = n.longAttr("block", 1);
            if (l.opaque() || r <= 1) {
                return l;
            }
            if (l.flattened()) {
                return opaque(n, "space to depth after a flatten");
            }
            List<Seg> out = new ArrayList<>();
            if (n.stringAttr("mode", "DCR").equals("CRD")) { // channel c's r^2 pixels next to each other
                for (Seg s : l.segs()) {
                    out.add(new Seg(s.space(), s.n(), s.block() * r * r));
                }
            } else {
                for (long k = 0; k < r * r; k++) {
                    out.addAll(l.segs());
                }
            }
            return new Layout(out, false, false);
        }

        /**
         * The input's g runs of C / g channels tied (coarsened alike); the output holds the tied space once, each neuron
         * a block of g times its block ({@code interleaved}: a channel shuffle) or of its block (DCR depth to space).
         */
        private Layout tiedRuns(Node n, long g, boolean interleaved) {
            Layout l = in(n, 0);
            if (l.opaque() || g == 1) {
                return l;
            }
            long channels = l.length();
            if (l.flattened() || g < 1 || channels % g != 0) {
                return opaque(n, (interleaved ? "a channel shuffle of " : "depth to space of ") + g + " runs over "
                        + channels + " channels" + (l.flattened() ? " after a flatten" : ""));
            }
            long m = channels / g;
            for (long k = 1; k < g; k++) {
                if (!cut(reread(l), k * m)) {
                    return opaque(n, (interleaved ? "a channel shuffle" : "depth to space") + " whose runs cut a neuron's block");
                }
            }
            List<Seg> runs = reread(l).segs();
            Set<Integer> roots = new LinkedHashSet<>();
            long block = 1;
            for (Seg s : runs) {
                roots.add(root(s.space()));
                block = Math.max(block, s.block());
            }
            String why = runs.size() != g ? "a run holds channels of several spaces"
                    : roots.size() != g ? "two runs are the same channels" : null;
            for (Seg s : runs) {
                if (why == null && (s.length() != m || m % block != 0 || block % s.block() != 0
                        || !coarsenable(root(s.space()), block / s.block()))) {
                    why = "its runs are laid out in blocks that do not fit each other";
                }
            }
            if (why != null) {
                return opaque(n, (interleaved ? "a channel shuffle of " : "depth to space of ") + g + " runs: " + why);
            }
            int first = -1;
            for (Seg s : runs) {
                int r = coarsen(s.space(), block / s.block());
                if (first < 0) {
                    first = r;
                } else {
                    union(first, r, false);
                }
            }
            return new Layout(List.of(new Seg(root(first), m / block, interleaved ? block * g : block)), false, false);
        }

        /** Whether every layout holding space {@code r} (a root) holds whole blocks of {@code f} of its neurons. */
        private boolean coarsenable(int r, long f) {
            if (spaces.get(r).size % f != 0) {
                return false;
            }
            for (Layout l : layouts.values()) {
                for (Seg s : l.segs()) {
                    if (root(s.space()) == r && s.n() % f != 0) {
                        return false;
                    }
                }
            }
            return true;
        }

        private Layout flatten(Node n) {
            Layout l = in(n, 0);
            if (l.opaque()) {
                return l;
            }
            return new Layout(l.segs(), false, true);
        }

        private Layout param(Node n) {
            String t = n.param("value");
            long[] shape = graph.shape(t);
            if (shape.length == 0) { // a scalar (CLIP's logit_scale): no channels
                fixed.add(t);
                return Layout.OPAQUE;
            }
            int axis = shape.length - 1;
            int s = open(shape[axis], n.name(), "");
            member(s, t, axis, 0, 1, Role.PARAMETER);
            for (int a = 0; a < axis; a++) {
                if (shape[a] > 1) {
                    fixed.add(SpecValidator.fixedAxis(t, a));
                }
            }
            return new Layout(List.of(new Seg(s, shape[axis], 1)), false, false);
        }

        private Layout embedding(Node n) {
            String w = n.param("weight");
            long[] shape = graph.shape(w);
            fixed.add(SpecValidator.fixedAxis(w, 0));
            int s = produce(n, w, 1, null, shape[1]);
            embeddings.put(w, s);
            return new Layout(List.of(new Seg(s, shape[1], 1)), false, false);
        }

        private Layout attention(Node n) {
            Layout l = in(n, 0);
            String in = n.param("in_proj_weight");
            String inBias = n.param("in_proj_bias");
            String out = n.param("out_proj_weight");
            long d = graph.shape(out)[0];
            long heads = n.longAttr("heads", 1);
            long hd = d / heads;
            consume(l, in, 1);
            if (n.inputs().size() > 1) { // keys and values from another input: in_proj's columns read both (tied)
                consume(in(n, 1), in, 1);
            }
            int h = open(heads, n.name(), ".heads");
            for (int seg = 0; seg < 3; seg++) {
                member(h, in, 0, seg * d, hd, Role.PRODUCER_WEIGHT);
                if (inBias != null) {
                    member(h, inBias, 0, seg * d, hd, Role.PRODUCER_BIAS);
                }
            }
            member(h, out, 1, 0, hd, Role.CONSUMER_WEIGHT);
            producer(h, n.name() + ".heads");
            // inside each head (no rotary embedding): its q and k dimensions alike (each score is kept), its v
            // dimensions with out_proj's columns
            for (long g = 0; g < heads; g++) {
                int qk = open(hd, n.name(), ".qk_pass." + g);
                for (int seg = 0; seg < 2; seg++) {
                    member(qk, in, 0, seg * d + g * hd, 1, Role.PRODUCER_WEIGHT);
                    bias(qk, inBias, seg * d + g * hd, 1);
                }
                producer(qk, n.name() + ".qk_pass." + g);
            }
            for (long g = 0; g < heads; g++) {
                int vs = open(hd, n.name(), ".v_dims." + g);
                member(vs, in, 0, 2 * d + g * hd, 1, Role.PRODUCER_WEIGHT);
                bias(vs, inBias, 2 * d + g * hd, 1);
                member(vs, out, 1, g * hd, 1, Role.CONSUMER_WEIGHT);
                producer(vs, n.name() + ".v_dims." + g);
            }
            int o = produce(n, out, 0, n.param("out_proj_bias"), d);
            return new Layout(List.of(new Seg(o, d, 1)), false, false);
        }

        private Layout attentionGqa(Node n) {
            Layout l = in(n, 0);
            long heads = n.longAttr("heads", 1);
            long kv = n.longAttr("kv_heads", heads);
            long hd = n.longAttr("head_dim", 1);
            long rep = heads / kv;
            // weights [out, in], or [in, out] stored transposed (GPT-2's Conv1D): out is the axis the heads lie on
            int out = n.longAttr("transposed", 0) == 1 ? 1 : 0;
            int cols = 1 - out;
            int oOut = n.longAttr("o_transposed", out) == 1 ? 1 : 0; // o stored otherwise (an ONNX export's Gemm)
            int oCols = 1 - oOut;
            // separate q, k, v, or one packed tensor: stacked (q rows, then k, then v: Phi-3's qkv_proj, GPT-2's
            // c_attn), or per KV head (its query heads' rows, then its k, then its v: GPT-NeoX's query_key_value, one
            // query head per KV head; Falcon's)
            String packed = n.param("qkv_weight");
            boolean perHead = packed != null && n.longAttr("qkv_per_head", 0) == 1;
            long group = (rep + 2) * hd; // (per KV head: the rows of one)
            String q = packed != null ? packed : n.param("q_weight");
            String k = packed != null ? packed : n.param("k_weight");
            String v = packed != null ? packed : n.param("v_weight");
            String qb = packed != null ? n.param("qkv_bias") : n.param("q_bias");
            String kb = packed != null ? qb : n.param("k_bias");
            String vb = packed != null ? qb : n.param("v_bias");
            // where query head j's, and KV head g's k and v, rows start (weight and bias alike)
            java.util.function.LongUnaryOperator qAt = perHead ? j -> j / rep * group + j % rep * hd : j -> j * hd;
            java.util.function.LongUnaryOperator kAt = perHead ? g -> g * group + rep * hd
                    : g -> (packed != null ? heads * hd : 0) + g * hd;
            java.util.function.LongUnaryOperator vAt = perHead ? g -> g * group + (rep + 1) * hd
                    : g -> (packed != null ? (heads + kv) * hd : 0) + g * hd;
            String o = n.param("o_weight");
            Layout kvl = n.inputs().size() > 1 ? in(n, 1) : l; // cross-attention: k and v read another input
            for (String t : new java.util.LinkedHashSet<>(List.of(q, k, v))) {
                consume(t.equals(q) ? l : kvl, t, cols);
            }
            int kvs = open(kv, n.name(), ".kv_heads");
            if (perHead) { // a KV head's rows and its query heads' are one block
                member(kvs, q, out, 0, group, Role.PRODUCER_WEIGHT);
                bias(kvs, qb, 0, group);
            } else {
                member(kvs, q, out, qAt.applyAsLong(0), rep * hd, Role.PRODUCER_WEIGHT);
                member(kvs, k, out, kAt.applyAsLong(0), hd, Role.PRODUCER_WEIGHT);
                member(kvs, v, out, vAt.applyAsLong(0), hd, Role.PRODUCER_WEIGHT);
                bias(kvs, qb, qAt.applyAsLong(0), rep * hd);
                bias(kvs, kb, kAt.applyAsLong(0), hd);
                bias(kvs, vb, vAt.applyAsLong(0), hd);
            }
            normMember(n, kvs, "q_norm_full", 0, rep * hd); // a norm of the whole projection: its weight follows the rows
            normMember(n, kvs, "k_norm_full", 0, hd);
            member(kvs, o, oCols, 0, rep * hd, Role.CONSUMER_WEIGHT);
            String headBias = n.param("head_bias"); // a bias per query head along one axis (Swin's table: columns)
            if (headBias != null) {
                int along = (int) n.longAttr("head_bias_axis", 1);
                member(kvs, headBias, along, 0, rep, Role.PARAMETER);
                for (int a = 0; a < graph.shape(headBias).length; a++) {
                    if (a != along) {
                        fixed.add(SpecValidator.fixedAxis(headBias, a)); // positions, which stay
                    }
                }
            }
            String headScale = n.param("head_scale"); // a value per head (Swin V2's logit_scale [heads, 1, 1])
            if (headScale != null) {
                member(kvs, headScale, 0, 0, rep, Role.PARAMETER);
            }
            String cpbOut = n.param("cpb_out_weight"); // Swin V2's position-bias MLP: its last layer's rows are the heads
            if (cpbOut != null) {
                member(kvs, cpbOut, 0, 0, rep, Role.PARAMETER);
                long units = graph.shape(cpbOut)[1]; // and its hidden units a space of their own
                int cs = open(units, n.name(), ".cpb_units");
                member(cs, n.param("cpb_in_weight"), 0, 0, 1, Role.PRODUCER_WEIGHT);
                bias(cs, n.param("cpb_in_bias"), 0, 1);
                member(cs, cpbOut, 1, 0, 1, Role.CONSUMER_WEIGHT);
                producer(cs, n.name() + ".cpb_units");
                fixed.add(SpecValidator.fixedAxis(n.param("cpb_in_weight"), 1)); // the two coordinates stay
            }
            producer(kvs, n.name() + ".kv_heads");
            if (n.longAttr("alibi", 0) == 1) { // a bias whose slope is fixed by each head's index (BLOOM)
                pin(kvs);
                notes.add("node '" + n.name() + "': ALiBi's slopes are fixed per head, so its heads stay in place");
            }
            for (long g = 0; g < kv; g++) {
                if (rep > 1) {
                    int qs = open(rep, n.name(), ".q_heads." + g);
                    member(qs, q, out, qAt.applyAsLong(g * rep), hd, Role.PRODUCER_WEIGHT);
                    bias(qs, qb, qAt.applyAsLong(g * rep), hd);
                    normMember(n, qs, "q_norm_full", g * rep * hd, hd);
                    member(qs, o, oCols, g * rep * hd, hd, Role.CONSUMER_WEIGHT);
                    producer(qs, n.name() + ".q_heads." + g);
                }
            }
            // dimensions RoPE does not rotate are unpaired: the last hd - rotary_dim of each head (Phi-4-mini: 1/4,
            // GPT-NeoX: 3/4), every one without RoPE (GPT-2: rotary_dim 0). They move, the same way in every query
            // head of a KV head and in the KV head's k (their dot product is kept); a head norm (one weight shared
            // by every head) would have to move with each, so they stay then
            long rd = n.longAttr("rotary_dim", hd);
            if (rd >= 0 && rd < hd && !n.has("q_norm") && !n.has("k_norm")) {
                for (long g = 0; g < kv; g++) {
                    int ps = open(hd - rd, n.name(), ".qk_pass." + g);
                    for (long r = 0; r < rep; r++) {
                        member(ps, q, out, qAt.applyAsLong(g * rep + r) + rd, 1, Role.PRODUCER_WEIGHT);
                        bias(ps, qb, qAt.applyAsLong(g * rep + r) + rd, 1);
                        normMember(n, ps, "q_norm_full", (g * rep + r) * hd + rd, 1);
                    }
                    member(ps, k, out, kAt.applyAsLong(g) + rd, 1, Role.PRODUCER_WEIGHT);
                    bias(ps, kb, kAt.applyAsLong(g) + rd, 1);
                    normMember(n, ps, "k_norm_full", g * hd + rd, 1);
                    producer(ps, n.name() + ".qk_pass." + g);
                }
            }
            for (long g = 0; g < kv; g++) {
                int vs = open(hd, n.name(), ".v_dims." + g);
                member(vs, v, out, vAt.applyAsLong(g), 1, Role.PRODUCER_WEIGHT);
                bias(vs, vb, vAt.applyAsLong(g), 1);
                for (long r = 0; r < rep; r++) {
                    member(vs, o, oCols, (g * rep + r) * hd, 1, Role.CONSUMER_WEIGHT);
                }
                producer(vs, n.name() + ".v_dims." + g);
            }
            long width = graph.shape(o)[oOut];
            int os = produce(n, o, oOut, n.param("o_bias"), width);
            return new Layout(List.of(new Seg(os, width, 1)), false, false);
        }

        /**
         * A mixture of experts: the experts' order (router rows, each expert's tensors whole), each expert's units and the
         * shared expert's, the output space (every down's rows).
         */
        private Layout moe(Node n) {
            Layout l = in(n, 0);
            if (l.flattened()) {
                return opaque(n, "a mixture of experts after a flatten");
            }
            long e = n.longAttr("experts", 0);
            String router = n.param("router");
            consume(l, router, 1);
            List<String[]> experts = new ArrayList<>(); // {gate, up, down}, or {gate_up, gate_up, down}
            for (int i = 0; i < e; i++) {
                String gateUp = n.param("gate_up." + i);
                experts.add(gateUp != null ? new String[] {gateUp, gateUp, n.param("down." + i)}
                        : new String[] {n.param("gate." + i), n.param("up." + i), n.param("down." + i)});
            }
            String[] shared = n.has("shared_gate") ? new String[] {n.param("shared_gate"), n.param("shared_up"),
                    n.param("shared_down")} : null;
            List<String[]> units = shared == null ? experts : concat(experts, shared); // the gated MLPs
            for (String[] x : units) {
                for (String t : new java.util.LinkedHashSet<>(List.of(x[0], x[1]))) {
                    consume(l, t, 1);
                }
            }
            if (n.has("shared_scale")) {
                consume(l, n.param("shared_scale"), 1);
                fixed.add(SpecValidator.fixedAxis(n.param("shared_scale"), 0));
            }
            int order = open(e, n.name(), ".experts");
            member(order, router, 0, 0, 1, Role.PRODUCER_WEIGHT);
            for (int i = 0; i < e; i++) {
                for (String t : new java.util.LinkedHashSet<>(List.of(experts.get(i)))) {
                    member(order, t, 0, i, 1, Role.WHOLE_TENSOR);
                }
            }
            producer(order, n.name() + ".experts");
            for (int i = 1; i < e; i++) { // experts of different widths cannot trade places
                long first = graph.shape(experts.get(0)[2])[1];
                long other = graph.shape(experts.get(i)[2])[1];
                if (first != other) {
                    pin(order);
                    notes.add("node '" + n.name() + "': its experts differ in width (" + first + " and " + other
                            + " units); their order stays in place");
                    break;
                }
            }
            for (int i = 0; i < units.size(); i++) {
                String[] x = units.get(i);
                String suffix = i < e ? ".experts." + i : ".shared_expert";
                long width = graph.shape(x[2])[1];
                int u = open(width, n.name(), suffix);
                member(u, x[0], 0, 0, 1, Role.PRODUCER_WEIGHT);
                member(u, x[1], 0, x[0].equals(x[1]) ? width : 0, 1, Role.PRODUCER_WEIGHT); // fused: unit j, rows j and w + j
                member(u, x[2], 1, 0, 1, Role.CONSUMER_WEIGHT);
                producer(u, n.name() + suffix);
            }
            long d = graph.shape(router)[1];
            int out = open(d, n.name(), "");
            for (String[] x : units) {
                member(out, x[2], 0, 0, 1, Role.PRODUCER_WEIGHT);
            }
            producer(out, n.name() + ".experts");
            return new Layout(List.of(new Seg(out, d, 1)), false, false);
        }

        private static List<String[]> concat(List<String[]> a, String[] b) {
            List<String[]> out = new ArrayList<>(a);
            out.add(b);
            return out;
        }

        /** The node's norm weight {@code role} (one entry per row of the projection it normalizes), if it has one. */
        private void normMember(Node n, int space, String role, long offset, long block) {
            String t = n.param(role);
            if (t != null) {
                member(space, t, 0, offset, block, Role.NORM_WEIGHT);
            }
        }

        /** Bias {@code t} (if not null) from {@code offset}, {@code block} entries per neuron. */
        private void bias(int space, String t, long offset, long block) {
            if (t != null) {
                member(space, t, 0, offset, block, Role.PRODUCER_BIAS);
            }
        }

        // ---- the spec ----

        private PermutationSpec build() {
            joinGroups();
            List<Space> roots = new ArrayList<>();
            for (int i = 0; i < spaces.size(); i++) {
                if (root(i) == i) {
                    roots.add(spaces.get(i));
                }
            }
            roots.sort((x, y) -> Long.compare(x.order, y.order));
            Map<Space, String> names = names(roots);
            List<Group> groups = new ArrayList<>();
            for (Space s : roots) {
                boolean producers = s.members.stream().anyMatch(m -> m.role() == Role.PRODUCER_WEIGHT);
                if (s.pinned || !producers || s.size < 2) {
                    for (Draft m : s.members) {
                        if (m.role() != Role.WHOLE_TENSOR) { // a whole tensor staying with its neuron stays as it is
                            fixed.add(SpecValidator.fixedAxis(m.tensor(), m.axis()));
                        }
                    }
                    if (!s.pinned && !s.members.isEmpty() && !producers) {
                        notes.add("channels of '" + s.node + "' have no producer; they stay in place");
                    }
                    continue;
                }
                List<Member> members = new ArrayList<>();
                Set<String> seen = new LinkedHashSet<>();
                for (Draft m : s.members) {
                    // a tensor shared by two nodes (tied embeddings: the embedding's columns are also the output
                    // layer's) is listed once, in its first role
                    if (seen.add(m.tensor() + "[" + m.axis() + "]@" + m.offset() + "/" + m.block())) {
                        members.add(new Member(m.tensor(), m.axis(), m.offset(), m.block(), m.role()));
                    }
                }
                groups.add(new Group(names.get(s), s.size, members));
            }
            // a tensor axis that is fixed for one space but moved by a group (nested ranges) is not fixed
            Set<String> moved = new LinkedHashSet<>();
            for (Group g : groups) {
                for (Member m : g.members()) {
                    moved.add(SpecValidator.fixedAxis(m.tensor(), m.axis()));
                    moved.add(m.tensor());
                }
            }
            Set<String> fixedOut = new LinkedHashSet<>();
            for (String f : fixed) {
                if (!moved.contains(f)) {
                    // the one axis of a vector: the vector itself
                    String vector = f.endsWith("[0]") ? f.substring(0, f.length() - 3) : null;
                    fixedOut.add(vector != null && graph.tensors().containsKey(vector)
                            && graph.tensors().get(vector).length == 1 ? vector : f);
                }
            }
            for (String t : graph.tensors().keySet()) {
                if (!moved.contains(t) && !fixedOut.contains(t) && fixedOut.stream().noneMatch(f -> f.startsWith(t + "["))) {
                    fixedOut.add(t);
                }
            }
            return new PermutationSpec(graph.name(), groups, fixedOut, notes);
        }

        private Map<Space, String> names(List<Space> roots) {
            Map<Space, String> names = new LinkedHashMap<>();
            Map<String, Integer> count = new HashMap<>();
            for (Space s : roots) {
                String name = s.node + s.suffix;
                if (s.tiedByAdd && s.producerNodes.size() > 1) {
                    String common = commonParent(s.producerNodes.subList(1, s.producerNodes.size()));
                    name = "stream." + (common.isEmpty() ? s.producerNodes.get(0) : common);
                }
                names.put(s, name);
                count.merge(name, 1, Integer::sum);
            }
            for (Map.Entry<Space, String> e : names.entrySet()) {
                Space s = e.getKey();
                if (count.get(e.getValue()) > 1 && s.tiedByAdd && !s.producerNodes.isEmpty()) {
                    e.setValue("stream." + span(s.producerNodes));
                }
            }
            // pieces of one stream (cut by a slice, or by the groups of a grouped convolution added into it) share
            // their producers: their own suffix, else their place, tells them apart
            Map<String, Integer> seen = new HashMap<>();
            names.values().forEach(v -> seen.merge(v, 1, Integer::sum));
            Set<String> taken = new java.util.HashSet<>();
            names.values().stream().filter(v -> seen.get(v) == 1).forEach(taken::add);
            for (Map.Entry<Space, String> e : names.entrySet()) {
                if (seen.get(e.getValue()) > 1) {
                    String suffix = e.getKey().suffix;
                    String base = e.getValue().endsWith(suffix) ? e.getValue() : e.getValue() + suffix;
                    String name = base;
                    for (int k = 2; !taken.add(name); k++) {
                        name = base + "#" + k;
                    }
                    e.setValue(name);
                }
            }
            return names;
        }

        /**
         * The module paths a stream spans, for streams the common-parent rule names alike (MobileNetV3's
         * residual stretches): the common path of every producer, then the first and last producers' next
         * component ("features.4.block.3.0" .. "features.6.block.3.0" -> "features.4-6"); the first producer
         * when they share nothing.
         */
        private static String span(List<String> nodes) {
            String sep = nodes.stream().allMatch(n -> n.startsWith("/")) ? "/" : ".";
            String q = java.util.regex.Pattern.quote(sep);
            String[] first = nodes.get(0).split(q);
            String[] last = nodes.get(nodes.size() - 1).split(q);
            int k = first.length;
            for (String node : nodes) {
                String[] parts = node.split(q);
                int j = 0;
                while (j < k && j < parts.length && first[j].equals(parts[j])) {
                    j++;
                }
                k = j;
            }
            if (k == 0 || k >= first.length || k >= last.length) {
                return nodes.get(0);
            }
            String prefix = String.join(sep, Arrays.copyOf(first, k));
            return prefix + sep + first[k] + (first[k].equals(last[k]) ? "" : "-" + last[k]);
        }

        /**
         * The longest common module path of the parents of {@code nodes} ("layer2.0.conv2", "layer2.1.conv2" -> "layer2";
         * ONNX scopes "/layer2/layer2.0/conv2/Conv", "/layer2/layer2.1/conv2/Conv" -> "/layer2").
         */
        private static String commonParent(List<String> nodes) {
            // module paths ("layer2.0.conv2"), or the scopes of an ONNX export ("/layer2/layer2.0/conv2/Conv")
            boolean scopes = nodes.stream().allMatch(n -> n.startsWith("/"));
            String sep = scopes ? "/" : ".";
            List<String> common = null;
            for (String node : nodes) {
                List<String> parts = new ArrayList<>(Arrays.asList(node.split(java.util.regex.Pattern.quote(sep))));
                parts.remove(parts.size() - 1);
                if (common == null) {
                    common = parts;
                } else {
                    int k = 0;
                    while (k < common.size() && k < parts.size() && common.get(k).equals(parts.get(k))) {
                        k++;
                    }
                    common = new ArrayList<>(common.subList(0, k));
                }
            }
            return common == null ? "" : String.join(sep, common);
        }
    }
}
