package lady.onnx;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import lady.graph.Node;

/**
 * Multi-head attention in an ONNX graph built from MatMul, Reshape, Transpose and Softmax (what PyTorch's exporter
 * writes for {@code nn.MultiheadAttention} and for attention written by hand): found after a first import pass, so
 * that the second pass writes each as one {@link lady.graph.Op#ATTENTION_GQA} node, whose heads and the dimensions
 * inside them are groups.
 *
 * <p>A block is proved, not guessed from names. From a Softmax, the search walks back to the product of two
 * activations that makes the scores (through scalings and masks), forward to the product of the probabilities with
 * the values, back from both products to the linear layers that make q, k and v, and forward from the values'
 * product to the linear layer that reads it (the output projection). Along those paths it follows where every
 * output channel of the three projections goes: each axis of each value is a row-major list of factors, either
 * positions (batch, sequence) or a run of a projection's channels with a stride, so that a Reshape splits or merges
 * factors, a Transpose moves axes and a Slice or Split of a projection's output takes a contiguous part of it (a
 * packed in-projection), as does a Slice, Split or Gather of one index of its outermost factor (timm's packed
 * projection viewed as [3, heads, dimensions], then unbound or indexed). The block is kept only when the products tie exactly what multi-head attention ties:
 * <ul>
 *   <li>q, k and v each split into heads of d dimensions (channel h d + j, in that order): H for q, KV for k and v
 *       (one head of d, for KV = 1);</li>
 *   <li>the scores' product contracts q's dimensions with k's, and pairs q's heads (in KV groups) with k's on a batch
 *       axis;</li>
 *   <li>the values' product contracts positions only and pairs the probabilities' heads (groups) with v's;</li>
 *   <li>the output projection reads the heads and v's dimensions merged back in that order;</li>
 *   <li>every scaling, mask or other constant on the way is the same along every axis that holds channels
 *       (a mask of one value per head, ALiBi's, is not), softmax runs over positions, and no value inside the
 *       block is read outside it (except for its shape).</li>
 * </ul>
 * q may read another input than k and v (cross-attention). A rotary embedding on q and k ({@code x cos +
 * rotate_half(x) sin}: tables that vary along each head's dimensions, its halves sliced and concatenated back) pins
 * those dimensions, never the heads. Constants include values computed only from inputs whose channels Lady does not
 * follow (token ids, position ids, an attention mask). Grouped-query attention whose k and v heads are repeated with
 * Expand and Reshape (transformers' repeat_kv) pairs each group of query heads with one k and v head: the products
 * then pair q's heads with copies, and the block has KV heads with H / KV query heads each. k and v heads that a
 * product broadcasts (an axis of size 1, or none, against q's query heads) are read the same way: multi-query's
 * single k and v head (KV = 1: k and v are then one head's dimensions, which a rotary embedding may pin), and q
 * viewed as [groups, heads in a group] against k and v with one head per group (q's heads composed from two
 * factors). A packed projection may also hold each head's q, k and v rows together (GPT-NeoX's and BLOOM's
 * query_key_value: q's heads then lie 3 d apart), with a rotary embedding on part of each head (its rotated part cut,
 * rotated and put back beside the rest). A bias per head on the scores is allowed when it is stored: a float
 * initializer read by nothing else (a bias folded by the exporter), or a table's rows gathered at constant indices
 * (Swin's relative position bias), then only reshaped, transposed or unsqueezed: its axis that follows the heads then
 * moves with them (the attention node's {@code head_bias}). The scores may be reshaped on the way to the softmax (Swin's
 * shifted-window mask, added to a view of them). Anything else (heads repeated in another order, a projection in another layout) is not a block: its
 * nodes are imported one by one as before, and the projections stay in place.
 */
final class OnnxAttention {
    private static final int MAX_CHAIN = 32;
    /** The stride that marks a factor of copies. */
    private static final long COPIES = -1;

    private static final Set<String> SCORE_OPS = Set.of("Mul", "Div", "Add", "Sub", "Where", "Cast", "Identity",
            "Reshape");
    private static final Set<String> PROB_OPS = Set.of("Cast", "Identity", "Dropout");
    private static final Set<String> PATH_OPS = Set.of("Transpose", "Reshape", "Squeeze", "Unsqueeze", "Flatten", "Slice",
            "Split", "Mul", "Div", "Cast", "Identity", "Neg", "Concat", "Add", "Sub", "Expand", "Gather");
    private static final Set<String> OUT_OPS = Set.of("Transpose", "Reshape", "Squeeze", "Unsqueeze", "Flatten", "Cast",
            "Identity");
    /** The nodes from a table's Gather to a bias per head on the scores. */
    private static final Set<String> BIAS_PATH_OPS = Set.of("Gather", "Reshape", "Transpose", "Unsqueeze", "Squeeze",
            "Identity");
    /** Readers of a value that use only its shape. */
    private static final Set<String> SHAPE_READERS = Set.of("Shape", "Size");

    /** A linear layer the first pass wrote: its graph node, its ONNX node and the bias Add fused into it (or -1). */
    record Linear(Node node, int index, int biasAdd) {
    }

    /**
     * What the first pass knows of an operand: its shape, its small integer values, whether it depends on data, and
     * whether that data is invariant: computed from graph inputs whose channels Lady does not follow (token ids,
     * position ids, an attention mask) without any value whose channels it does, so that no permutation changes it.
     */
    record Operand(long[] shape, long[] ints, boolean data, boolean invariant) {
        /** Data a permutation may change. */
        boolean moving() {
            return data && !invariant;
        }
    }

    /** The first pass's facts the search reads. */
    interface Facts {
        /** The operands of a node, in order (null entries for omitted inputs). */
        List<Operand> operands(OnnxModel.ResolvedNode r);

        /** The shape of a node's output value, or null. */
        long[] shape(String value);

        /** The linear layer whose output is {@code value}, or null. */
        Linear linear(String value);

        /** The linear layer the ONNX node at {@code index} was written as, or null. */
        Linear linearAt(int index);

        /** Whether {@code value} is an initializer of a floating type, read into the state dict. */
        boolean floatInitializer(String value);
    }

    /**
     * One attention block: the ONNX nodes it replaces ({@code members}, the projections and their bias Adds among
     * them), the output projection's ONNX node ({@code anchor}, where the block is written), the q, k, v projections
     * (one packed layer three times, or three layers), the output projection, the query heads, the key and value heads,
     * the head dimension, whether a rotary embedding pins the q and k dimensions, and whether a packed projection
     * holds its rows per head (each head's q, k, v rows together: GPT-NeoX's and BLOOM's query_key_value) rather than
     * q's, then k's, then v's; and a stored bias per head on the scores, which moves with them (or null).
     */
    record Block(Set<Integer> members, int anchor, Linear q, Linear k, Linear v, Linear o, long heads, long kvHeads,
            long headDim, boolean rotary, boolean perHead, HeadBias headBias) {
        boolean packed() {
            return OnnxAttention.packed(q, k, v);
        }
    }

    /**
     * A stored bias per head: input {@code input} of ONNX node {@code node} reads its tensor, whose axis {@code axis}
     * follows the heads (Swin's relative position bias table, its columns; the bias itself where an export folded it).
     */
    record HeadBias(int node, int input, int axis) {
    }

    private final List<OnnxModel.ResolvedNode> order;
    private final Map<String, List<OnnxModel.ResolvedNode>> readers;
    private final Set<String> outputs;
    private final Facts facts;
    private final Map<String, OnnxModel.ResolvedNode> writers = new HashMap<>();
    private final Map<Integer, Integer> position = new HashMap<>();

    private OnnxAttention(List<OnnxModel.ResolvedNode> order, Map<String, List<OnnxModel.ResolvedNode>> readers,
            Set<String> outputs, Facts facts) {
        this.order = order;
        this.readers = readers;
        this.outputs = outputs;
        this.facts = facts;
        for (int i = 0; i < order.size(); i++) {
            OnnxModel.ResolvedNode r = order.get(i);
            position.put(r.index(), i);
            for (String o : r.node().outputs()) {
                if (!o.isEmpty()) {
                    writers.put(o, r);
                }
            }
        }
    }

    /** The attention blocks of a graph, none sharing a node. */
    static List<Block> find(List<OnnxModel.ResolvedNode> order, Map<String, List<OnnxModel.ResolvedNode>> readers,
            Set<String> outputs, Facts facts) {
        OnnxAttention search = new OnnxAttention(order, readers, outputs, facts);
        List<Block> blocks = new ArrayList<>();
        Set<Integer> taken = new java.util.HashSet<>();
        for (OnnxModel.ResolvedNode r : order) {
            String op = r.node().opType();
            if ((op.equals("Softmax") || op.equals("LogSoftmax")) && r.node().domain().isEmpty()) {
                Block b;
                try {
                    b = search.match(r);
                } catch (Mismatch | RuntimeException e) { // a malformed graph: not a block, never a failure
                    continue;
                }
                if (b.members().stream().noneMatch(taken::contains) && !taken.contains(b.anchor())) {
                    taken.addAll(b.members());
                    taken.add(b.anchor());
                    blocks.add(b);
                }
            }
        }
        return blocks;
    }

    /** Not a block (a control-flow exception of the search, without a stack trace). */
    private static final class Mismatch extends Exception {
        private static final long serialVersionUID = 1L;

        Mismatch() {
            super(null, null, false, false);
        }
    }

    private static void require(boolean condition) throws Mismatch {
        if (!condition) {
            throw new Mismatch();
        }
    }

    // ---- the search ----

    private Block match(OnnxModel.ResolvedNode softmax) throws Mismatch {
        Set<Integer> members = new LinkedHashSet<>();
        members.add(softmax.index());
        // the scores: back through scalings and masks to a product of two activations
        OnnxModel.ResolvedNode scores = back(dataInput(softmax), SCORE_OPS, members, w -> isProduct(w));
        // the probabilities: forward to their product with the values
        OnnxModel.ResolvedNode mix = forward(softmax.node().outputs().get(0), PROB_OPS, members,
                (n, v) -> isProduct(n) && n.node().inputs().get(0).equals(v) && !n.node().inputs().get(1).equals(v));
        members.add(scores.index());
        members.add(mix.index());
        // q, k, v: back to their projections
        Linear q = origin(scores.node().inputs().get(0), members);
        Linear k = origin(scores.node().inputs().get(1), members);
        Linear v = origin(mix.node().inputs().get(1), members);
        // the output projection: forward from the values' product
        OnnxModel.ResolvedNode anchor = forward(mix.node().outputs().get(0), OUT_OPS, members, (n, val) -> {
            Linear l = facts.linearAt(n.index());
            return l != null && n.node().inputs().get(0).equals(val);
        });
        members.remove(anchor.index());
        Linear o = facts.linearAt(anchor.index());
        for (Linear l : List.of(q, k, v)) {
            members.add(l.index());
            if (l.biasAdd() >= 0) {
                members.add(l.biasAdd());
            }
        }
        require(!members.contains(anchor.index()) && (o.biasAdd() < 0 || !members.contains(o.biasAdd())));
        // k and v read the same input: q's (self-attention) or another (cross-attention); separate layers, or one
        // packed layer
        require(v.node().inputs().get(0).equals(k.node().inputs().get(0)));
        require(packed(q, k, v) || (q.node() != k.node() && k.node() != v.node() && q.node() != v.node()));
        require(!q.node().has("constant") && !k.node().has("constant") && !v.node().has("constant")
                && !o.node().has("constant"));
        long transposed = q.node().longAttr("transposed", 0); // the three stored alike: one attribute
        require(k.node().longAttr("transposed", 0) == transposed && v.node().longAttr("transposed", 0) == transposed);
        // nothing inside the block is read outside it, except for shapes (a side branch whose values only Shape reads,
        // as k.size(-2) after a permute the product does not use, joins the block)
        Deque<Integer> todo = new ArrayDeque<>(members);
        Set<Integer> side = new java.util.HashSet<>(); // nodes read only for their shapes: no layout to follow
        while (!todo.isEmpty()) {
            OnnxModel.ResolvedNode r = order.get(position.get(todo.pop()));
            for (String out : r.node().outputs()) {
                if (out.isEmpty()) {
                    continue;
                }
                require(!outputs.contains(out));
                for (OnnxModel.ResolvedNode reader : readers.getOrDefault(out, List.of())) {
                    if (members.contains(reader.index()) || reader.index() == anchor.index()
                            || SHAPE_READERS.contains(reader.node().opType())) {
                        continue;
                    }
                    require(shapesOnly(reader, 0));
                    members.add(reader.index());
                    side.add(reader.index());
                    todo.push(reader.index());
                }
            }
        }
        return new Layouts(members, side, q, k, v, o, scores, mix, anchor).prove();
    }

    /** Whether every value {@code r} writes is read only for its shape (through nodes like it). */
    private boolean shapesOnly(OnnxModel.ResolvedNode r, int depth) {
        if (depth > MAX_CHAIN || !r.node().domain().isEmpty()) {
            return false;
        }
        for (String out : r.node().outputs()) {
            if (out.isEmpty()) {
                continue;
            }
            if (outputs.contains(out)) {
                return false;
            }
            for (OnnxModel.ResolvedNode reader : readers.getOrDefault(out, List.of())) {
                if (!SHAPE_READERS.contains(reader.node().opType()) && !shapesOnly(reader, depth + 1)) {
                    return false;
                }
            }
        }
        return true;
    }

    private interface Stop {
        boolean test(OnnxModel.ResolvedNode n, String value);
    }

    /** The one input of {@code r} that depends on data a permutation may change. */
    private String dataInput(OnnxModel.ResolvedNode r) throws Mismatch {
        List<Operand> ops = facts.operands(r);
        String found = null;
        for (int i = 0; i < ops.size(); i++) {
            if (ops.get(i) != null && ops.get(i).moving()) {
                require(found == null);
                found = r.node().inputs().get(i);
            }
        }
        require(found != null);
        return found;
    }

    private boolean isProduct(OnnxModel.ResolvedNode w) {
        if (!w.node().opType().equals("MatMul") || !w.node().domain().isEmpty() || w.node().inputs().size() != 2) {
            return false;
        }
        List<Operand> ops = facts.operands(w);
        return ops.get(0) != null && ops.get(1) != null && ops.get(0).moving() && ops.get(1).moving();
    }

    /** Back from {@code value} through nodes of {@code ops} (one data input each) to the node {@code stop} accepts. */
    private OnnxModel.ResolvedNode back(String value, Set<String> ops, Set<Integer> members,
            java.util.function.Predicate<OnnxModel.ResolvedNode> stop) throws Mismatch {
        String v = value;
        for (int step = 0; step < MAX_CHAIN; step++) {
            OnnxModel.ResolvedNode w = writers.get(v);
            require(w != null && w.node().domain().isEmpty());
            if (stop.test(w)) {
                return w;
            }
            require(ops.contains(w.node().opType()));
            members.add(w.index());
            v = dataInput(w);
        }
        throw new Mismatch();
    }

    /** Forward from {@code value} through single readers of {@code ops} to the reader {@code stop} accepts. */
    private OnnxModel.ResolvedNode forward(String value, Set<String> ops, Set<Integer> members, Stop stop) throws Mismatch {
        String v = value;
        for (int step = 0; step < MAX_CHAIN; step++) {
            List<OnnxModel.ResolvedNode> rs = new ArrayList<>();
            for (OnnxModel.ResolvedNode r : readers.getOrDefault(v, List.of())) {
                if (!SHAPE_READERS.contains(r.node().opType())) {
                    rs.add(r);
                }
            }
            require(rs.size() == 1 && !outputs.contains(v));
            OnnxModel.ResolvedNode n = rs.get(0);
            require(n.node().domain().isEmpty());
            if (stop.test(n, v)) {
                return n;
            }
            require(ops.contains(n.node().opType()) && dataInput(n).equals(v));
            members.add(n.index());
            v = n.node().outputs().get(0);
        }
        throw new Mismatch();
    }

    /**
     * The projection {@code value} comes from, through layout changes, scalings and a rotary embedding (whose two
     * branches, x cos and rotate_half(x) sin, meet again): every path back must end at the same linear layer.
     */
    private Linear origin(String value, Set<Integer> members) throws Mismatch {
        Linear found = null;
        Deque<String> todo = new ArrayDeque<>(List.of(value));
        Set<String> seen = new java.util.HashSet<>();
        while (!todo.isEmpty()) {
            String v = todo.pop();
            if (!seen.add(v)) {
                continue;
            }
            require(seen.size() <= MAX_CHAIN);
            Linear l = facts.linear(v);
            if (l != null) {
                require(found == null || found == l);
                found = l;
                continue;
            }
            OnnxModel.ResolvedNode w = writers.get(v);
            require(w != null && w.node().domain().isEmpty() && PATH_OPS.contains(w.node().opType()));
            members.add(w.index());
            List<Operand> ops = facts.operands(w);
            boolean any = false;
            for (int i = 0; i < ops.size(); i++) {
                if (ops.get(i) != null && ops.get(i).moving()) {
                    todo.push(w.node().inputs().get(i));
                    any = true;
                }
            }
            require(any);
        }
        require(found != null);
        return found;
    }

    // ---- the layouts ----

    /**
     * {@code size} of a projection's output channels from {@code base}, laid out by the factors that refer to it: a
     * contiguous run, or with gaps where a projection packed per head holds other heads' k and v between q's.
     */
    private record Seg(Node linear, long base, long size) {
    }

    /**
     * A factor of an axis: {@code size} positions (seg null, stride 0), {@code size} copies of the same entries
     * (seg null, stride {@link #COPIES}: an Expand, grouped-query attention's k and v repeated for each query head of
     * a group), or channels {@code seg.base + i * stride} for i below {@code size}; or a piece of such a factor
     * ({@code whole}: its entries from {@code start}, a rotary embedding's halves).
     */
    private record Factor(Seg seg, long size, long stride, Factor whole, long start) {
        Factor(Seg seg, long size, long stride) {
            this(seg, size, stride, null, 0);
        }

        boolean channels() {
            return seg != null;
        }

        boolean copies() {
            return seg == null && stride == COPIES;
        }

        /** The outer part of size {@code outer} and the inner rest, row-major. */
        Factor[] split(long outer) {
            long inner = size / outer;
            return new Factor[] {new Factor(seg, outer, seg == null ? stride : stride * inner), new Factor(seg, inner, stride)};
        }

        /** Channels inside a head: the innermost run of a split projection, or a piece of one. */
        boolean inside() {
            return seg != null && (whole != null || (stride == 1 && size < seg.size()));
        }
    }

    /** Per axis, its factors outer to inner (factors of size 1 left out). */
    private record Layout(List<List<Factor>> axes) {
        int rank() {
            return axes.size();
        }

        boolean channelsOn(int axis) {
            return axes.get(axis).stream().anyMatch(Factor::channels);
        }
    }

    /** The proof of one candidate block: the layouts of its values and the factors its products tie. */
    private final class Layouts {
        private final Set<Integer> members;
        private final Set<Integer> side;
        private final Linear q;
        private final Linear k;
        private final Linear v;
        private final Linear o;
        private final OnnxModel.ResolvedNode scores;
        private final OnnxModel.ResolvedNode mix;
        private final OnnxModel.ResolvedNode anchor;
        private final Map<String, Layout> layouts = new HashMap<>();
        private final Map<Factor, Factor> parent = new HashMap<>();
        private final List<Factor[]> scoreContracted = new ArrayList<>();
        private final List<Factor[]> scoreBatch = new ArrayList<>();
        private final List<Factor[]> mixBatch = new ArrayList<>();
        private final List<Factor[]> mixContracted = new ArrayList<>();
        /** Channels a product pairs with copies on a batch axis: query heads that share their group's k and v. */
        private final List<Factor> scoreShared = new ArrayList<>();
        private final List<Factor> mixShared = new ArrayList<>();
        /** Factors whose channels are treated unevenly (a rotary embedding's tables, its halves): they stay. */
        private final List<Factor> pinned = new ArrayList<>();
        /**
         * Whole runs of k's or v's channels treated as the dimensions of one head (a rotary embedding on multi-query's
         * single key head): the proof requires each to be that, or the block is not one.
         */
        private final List<Factor> singleHead = new ArrayList<>();
        /** The scores' head factor a stored bias per head varies along ({@link #headBias}), or null; that bias. */
        private Factor headBias;
        private HeadBias headBiasAt;
        /** The nodes from that tensor to the scores (they join the block). */
        private final Set<Integer> headBiasNodes = new java.util.HashSet<>();

        Layouts(Set<Integer> members, Set<Integer> side, Linear q, Linear k, Linear v, Linear o,
                OnnxModel.ResolvedNode scores, OnnxModel.ResolvedNode mix, OnnxModel.ResolvedNode anchor) {
            this.members = members;
            this.side = side;
            this.q = q;
            this.k = k;
            this.v = v;
            this.o = o;
            this.scores = scores;
            this.mix = mix;
            this.anchor = anchor;
        }

        Block prove() throws Mismatch {
            for (Linear l : new LinkedHashSet<>(List.of(q, k, v))) {
                String out = l.node().output();
                long[] shape = facts.shape(out);
                require(shape != null && shape.length >= 2 && OnnxShapes.known(shape));
                List<List<Factor>> axes = new ArrayList<>();
                for (int i = 0; i < shape.length; i++) {
                    boolean last = i == shape.length - 1;
                    axes.add(factors(last ? new Factor(new Seg(l.node(), 0, shape[i]), shape[i], 1)
                            : new Factor(null, shape[i], 0)));
                }
                layouts.put(out, new Layout(axes));
            }
            Set<Integer> projections = new java.util.HashSet<>();
            for (Linear l : List.of(q, k, v)) {
                projections.add(l.index());
                projections.add(l.biasAdd());
            }
            List<OnnxModel.ResolvedNode> inOrder = members.stream()
                    .filter(i -> !projections.contains(i) && !side.contains(i))
                    .map(i -> order.get(position.get(i)))
                    .sorted(java.util.Comparator.comparingInt(r -> position.get(r.index()))).toList();
            for (OnnxModel.ResolvedNode r : inOrder) {
                step(r);
            }
            // each of q, k, v: one run of heads of d dimensions, channel h d + j; H query heads, KV key and value heads
            Factor[] qf = heads(scores.node().inputs().get(0), q, false);
            Factor[] kf = heads(scores.node().inputs().get(1), k, true);
            Factor[] vf = heads(mix.node().inputs().get(1), v, true);
            // per head (GPT-NeoX's, BLOOM's packing): q's heads lie 3 d apart, each head's q, k, v rows together
            boolean perHead = qf[0].stride() != qf[1].size();
            packing(qf[0].seg(), kf[1].seg(), vf[1].seg(), perHead ? qf[1].size() : 0);
            require(!perHead || (kf[0] != null && vf[0] != null && kf[0].stride() == qf[0].stride()
                    && vf[0].stride() == qf[0].stride() && kf[0].size() == qf[0].size()));
            long h = qf[0].size();
            boolean single = kf[0] == null; // multi-query: one key and value head, shared by every query head
            long kv = single ? 1 : kf[0].size();
            long d = qf[1].size();
            for (Factor f : singleHead) { // whole runs taken for one head's dimensions: k's or v's, of multi-query
                require(single && (f.equals(kf[1]) || f.equals(vf[1])));
            }
            require((vf[0] == null) == single && h % kv == 0 && (single || vf[0].size() == kv) && kf[1].size() == d
                    && vf[1].size() == d);
            // grouped-query: q's heads, KV groups of h / kv, the groups paired with k's and v's heads, the query heads
            // inside a group with their copies (multi-query: one group, every query head inside it)
            Factor[] groups = single ? new Factor[] {null, qf[0]} : kv == h ? new Factor[] {qf[0], null} : qf[0].split(kv);
            List<Factor> inside = groups[1] == null ? List.of() : List.of(groups[1]);
            // the scores contract q's dimensions with k's and pair q's groups with k's heads
            require(scoreContracted.size() == 1 && sameClass(scoreContracted.get(0), qf[1], kf[1]));
            require(single ? scoreBatch.isEmpty() : scoreBatch.size() == 1 && sameClass(scoreBatch.get(0), groups[0], kf[0]));
            require(scoreShared.equals(inside));
            // the values' product contracts positions and pairs the probabilities' groups with v's heads
            require(mixContracted.isEmpty() && mixShared.equals(inside) && (single ? mixBatch.isEmpty()
                    : mixBatch.size() == 1 && find(mixBatch.get(0)[0]) == find(groups[0])
                            && find(mixBatch.get(0)[1]) == find(vf[0])));
            Factor top = single ? qf[0] : groups[0];
            require(find(top) != find(qf[1]) && find(qf[1]) != find(vf[1]) && find(top) != find(vf[1]));
            require(groups[1] == null || (find(groups[1]) == groups[1] && !parent.containsKey(groups[1])));
            // a rotary embedding pins q's and k's dimensions; heads and v's dimensions never
            Set<Factor> stay = new java.util.HashSet<>();
            for (Factor f : pinned) {
                stay.add(find(f));
            }
            require(!stay.contains(find(qf[0])) && !stay.contains(find(top)) && (single || !stay.contains(find(vf[0])))
                    && !stay.contains(find(vf[1])) && (groups[1] == null || !stay.contains(groups[1])));
            boolean rotary = stay.contains(find(qf[1]));
            // the output projection reads the groups (v's heads), the query heads inside them, then v's dimensions,
            // merged on its contracted axis
            Layout in = layouts.get(anchor.node().inputs().get(0));
            require(in != null);
            for (int a = 0; a < in.rank() - 1; a++) {
                require(!in.channelsOn(a));
            }
            List<Factor> last = in.axes().get(in.rank() - 1);
            int g = single ? 0 : 1; // v's heads first, but for one
            require(last.size() == g + inside.size() + 1 && (single || find(last.get(0)) == find(vf[0]))
                    && last.subList(g, last.size() - 1).equals(inside) && last.get(last.size() - 1).equals(vf[1]));
            // a bias per head read from a table's columns: one per query head, in the scores' head order
            require(headBias == null || (kv == h && find(headBias) == find(qf[0])));
            members.addAll(headBiasNodes);
            return new Block(members, anchor.index(), q, k, v, o, h, kv, d, rotary, perHead, headBiasAt);
        }

        /**
         * The two factors of {@code value}'s layout that hold {@code l}'s channels: heads, then dimensions; with
         * {@code single}, a projection of one head (multi-query's k and v) gives its dimensions alone, heads null.
         */
        private Factor[] heads(String value, Linear l, boolean single) throws Mismatch {
            Layout lay = layouts.get(value);
            require(lay != null);
            List<Factor> fs = new ArrayList<>();
            for (List<Factor> axis : lay.axes()) {
                for (Factor f : axis) {
                    if (f.channels()) {
                        fs.add(f);
                    }
                }
            }
            require(!fs.isEmpty());
            Seg seg = fs.get(0).seg();
            require(seg.linear() == l.node());
            Factor dim = null;
            for (Factor f : fs) {
                require(f.seg() == seg && f.whole() == null);
                if (f.stride() == 1) {
                    require(dim == null);
                    dim = f;
                }
            }
            require(dim != null);
            if (fs.size() == 1) {
                require(single && dim.size() == seg.size());
                return new Factor[] {null, dim};
            }
            // the heads: one factor, or several that compose it (grouped-query's q split into groups and the heads
            // inside them on two axes), outer to inner by stride
            List<Factor> outer = new ArrayList<>(fs);
            outer.remove(dim);
            outer.sort(java.util.Comparator.comparingLong(Factor::stride).reversed());
            long heads = 1;
            Factor innermost = outer.get(outer.size() - 1);
            for (int i = 0; i < outer.size(); i++) {
                long inner = i + 1 < outer.size() ? outer.get(i + 1).stride() * outer.get(i + 1).size() : dim.size();
                // the innermost head factor lies d apart, or 3 d with each head's q, k, v rows together (per head)
                require(outer.get(i).stride() == inner || (i == outer.size() - 1 && outer.size() == 1
                        && inner == dim.size() && outer.get(i).stride() == 3 * dim.size()));
                heads *= outer.get(i).size();
            }
            Factor head = outer.size() == 1 ? outer.get(0) : new Factor(seg, heads, innermost.stride());
            require(head.size() > 1 && head.size() * dim.size() == seg.size());
            return new Factor[] {head, dim};
        }

        /**
         * Separate projections: each its whole output; one packed projection: q's rows, then k's, then v's, or (a
         * head dimension {@code perHead} above 0) each head's q, k and v rows together.
         */
        private void packing(Seg qs, Seg ks, Seg vs, long perHead) throws Mismatch {
            if (perHead > 0) {
                long[] shape = facts.shape(qs.linear().output());
                require(packed(q, k, v) && shape[shape.length - 1] == 3 * qs.size() && ks.size() == qs.size()
                        && vs.size() == qs.size() && qs.base() == 0 && ks.base() == perHead && vs.base() == 2 * perHead);
                return;
            }
            for (Seg s : List.of(qs, ks, vs)) {
                long[] shape = facts.shape(s.linear().output());
                long total = shape[shape.length - 1];
                if (packed(q, k, v)) {
                    require(total == qs.size() + ks.size() + vs.size());
                } else {
                    require(s.base() == 0 && total == s.size());
                }
            }
            require(!packed(q, k, v) || (qs.base() == 0 && ks.base() == qs.size()
                    && vs.base() == qs.size() + ks.size()));
        }

        private boolean sameClass(Factor[] pair, Factor a, Factor b) {
            return find(pair[0]) == find(a) && find(pair[1]) == find(b) && find(a) == find(b);
        }

        private Factor find(Factor f) {
            Factor p = parent.getOrDefault(f, f);
            if (p.equals(f)) {
                return f;
            }
            Factor root = find(p);
            parent.put(f, root);
            return root;
        }

        private void union(Factor a, Factor b) throws Mismatch {
            require(a.size() == b.size());
            Factor ra = find(a);
            Factor rb = find(b);
            if (!ra.equals(rb)) {
                parent.put(ra, rb);
            }
        }

        private Layout layoutOf(String value) throws Mismatch {
            Layout l = layouts.get(value);
            require(l != null);
            return l;
        }

        private void step(OnnxModel.ResolvedNode r) throws Mismatch {
            String op = r.node().opType();
            List<Operand> ops = facts.operands(r);
            String out = r.node().outputs().get(0);
            long[] outShape = facts.shape(out);
            require(outShape != null && OnnxShapes.known(outShape));
            if (r == scores || r == mix) {
                layouts.put(out, product(r, outShape));
                return;
            }
            List<Integer> tracked = new ArrayList<>();
            for (int i = 0; i < ops.size(); i++) {
                if (ops.get(i) != null && ops.get(i).moving()) {
                    tracked.add(i);
                }
            }
            require(!tracked.isEmpty());
            if (tracked.size() > 1) {
                layouts.put(out, joined(r, tracked, outShape));
                return;
            }
            int di = tracked.get(0);
            Layout x = layoutOf(r.node().inputs().get(di));
            long[] inShape = ops.get(di).shape();
            require(inShape != null && inShape.length == x.rank());
            switch (op) {
                case "Transpose" -> {
                    long[] perm = OnnxShapes.ints(r.node(), "perm", null);
                    if (perm == null) {
                        perm = new long[x.rank()];
                        for (int i = 0; i < perm.length; i++) {
                            perm[i] = x.rank() - 1 - i;
                        }
                    }
                    require(perm.length == x.rank());
                    List<List<Factor>> axes = new ArrayList<>();
                    for (long p : perm) {
                        require(p >= 0 && p < x.rank());
                        axes.add(x.axes().get((int) p));
                    }
                    layouts.put(out, new Layout(axes));
                }
                case "Reshape", "Squeeze", "Unsqueeze", "Flatten" -> layouts.put(out, reshape(x, outShape));
                case "Expand" -> layouts.put(out, expand(x, inShape, outShape));
                case "Slice" -> layouts.put(out, slice(r, ops, x, inShape, outShape));
                case "Split" -> split(r, ops, x, inShape);
                case "Gather" -> layouts.put(out, gather(r, ops, di, x, inShape, outShape));
                case "Cast", "Identity", "Dropout", "Neg" -> {
                    for (int j = 1; j < r.node().outputs().size(); j++) {
                        require(r.node().outputs().get(j).isEmpty() || (!readers.containsKey(r.node().outputs().get(j))
                                && !outputs.contains(r.node().outputs().get(j))));
                    }
                    layouts.put(out, x);
                }
                case "Softmax", "LogSoftmax" -> {
                    long axis = OnnxShapes.attr(r.node(), "axis", Long.MIN_VALUE);
                    require(OnnxShapes.axis(axis, x.rank()) == x.rank() - 1);
                    require(!x.channelsOn(x.rank() - 1));
                    layouts.put(out, x);
                }
                case "Concat" -> {
                    require(ops.size() == 1); // one piece: itself
                    layouts.put(out, x);
                }
                default -> layouts.put(out, broadcast(r, x, ops, di, outShape)); // Mul, Div, Add, Sub, Where
            }
        }

        /** An element-wise node: constants that vary along an axis holding channels are refused. */
        private Layout broadcast(OnnxModel.ResolvedNode r, Layout x, List<Operand> ops, int di, long[] outShape)
                throws Mismatch {
            int rank = outShape.length;
            require(rank >= x.rank());
            List<List<Factor>> axes = new ArrayList<>();
            for (int i = 0; i < rank - x.rank(); i++) {
                axes.add(factors(new Factor(null, outShape[i], 0)));
            }
            axes.addAll(x.axes());
            Layout y = new Layout(axes);
            for (int i = 0; i < rank; i++) {
                long size = 1;
                for (Factor f : y.axes().get(i)) {
                    size *= f.size();
                }
                require(size == outShape[i]);
            }
            for (int j = 0; j < ops.size(); j++) {
                Operand c = ops.get(j);
                if (j == di || c == null) {
                    continue;
                }
                require(c.shape() != null && c.shape().length <= rank);
                for (int a = 0; a < c.shape().length; a++) {
                    int i = a + rank - c.shape().length;
                    if (c.shape()[a] != 1) { // varies along axis i: only inside heads (a rotary table), which then stay
                        List<Factor> here = y.axes().get(i);
                        if (r.node().opType().equals("Add") && here.size() == 1 && here.get(0).channels()
                                && !here.get(0).inside() && headBias(r, j, a, here.get(0))) {
                            continue; // or heads: a bias per head from a table's columns, which then move with them
                        }
                        for (Factor f : here) {
                            require(!f.channels() || f.inside() || oneHead(f));
                            if (f.channels()) {
                                pinned.add(f.whole() != null ? f.whole() : f);
                            }
                        }
                    }
                }
            }
            return y;
        }

        /**
         * Whether input {@code input} of {@code add}, added along its axis {@code axis} to the scores' head factor
         * {@code heads}, is a stored bias per head: a float initializer read by nothing else, then only reshaped,
         * transposed or unsqueezed, one of its axes staying one axis that lands on {@code axis} with as many entries as
         * heads; or such a table's rows taken at constant indices first (Swin's relative position bias, the table's
         * columns). Then that axis can move with the heads: recorded, and the nodes on the way join the block.
         */
        private boolean headBias(OnnxModel.ResolvedNode add, int input, int axis, Factor heads) {
            if (headBias != null) {
                return false;
            }
            List<OnnxModel.ResolvedNode> chain = new ArrayList<>(); // from the tensor's first reader to the Add
            OnnxModel.ResolvedNode reader = add;
            int readerInput = input;
            String v = add.node().inputs().get(input);
            boolean gather = false;
            for (int step = 0; !gather; step++) {
                long readBy = readers.getOrDefault(v, List.of()).stream()
                        .filter(n -> !SHAPE_READERS.contains(n.node().opType())).count();
                if (step > MAX_CHAIN || readBy != 1 || outputs.contains(v)) {
                    return false;
                }
                OnnxModel.ResolvedNode w = writers.get(v);
                if (w == null) { // the stored tensor itself
                    break;
                }
                if (!w.node().domain().isEmpty() || !BIAS_PATH_OPS.contains(w.node().opType())) {
                    return false;
                }
                chain.add(0, w);
                gather = w.node().opType().equals("Gather");
                reader = w;
                readerInput = 0;
                v = w.node().inputs().get(0);
            }
            Operand stored = facts.operands(reader).get(readerInput);
            long[] ts = stored == null ? null : stored.shape();
            if (ts == null || stored.data() || !facts.floatInitializer(v)
                    || readers.getOrDefault(v, List.of()).size() != 1) { // moved with the heads: read here only
                return false;
            }
            List<Integer> candidates = new ArrayList<>(); // the stored tensor's axes that may follow the heads
            List<OnnxModel.ResolvedNode> path = chain;
            int startAxis = -1; // where a candidate lies on the path's first value
            if (gather) { // rows of a 2-D table at constant indices: its columns, the Gather's last axis
                OnnxModel.ResolvedNode g = chain.get(0);
                List<Operand> gops = facts.operands(g);
                long[] out = facts.shape(g.node().outputs().get(0));
                if (ts.length != 2 || gops.size() != 2 || gops.get(1) == null || gops.get(1).data()
                        || OnnxShapes.attr(g.node(), "axis", 0) != 0 || out == null || out.length == 0
                        || out[out.length - 1] != ts[1]) {
                    return false;
                }
                candidates.add(1);
                startAxis = out.length - 1;
                path = chain.subList(1, chain.size());
            } else {
                for (int c = 0; c < ts.length; c++) {
                    if (ts[c] == heads.size()) {
                        candidates.add(c);
                    }
                }
            }
            for (int c : candidates) {
                if (ts[c] == heads.size() && follows(path, gather ? startAxis : c) == axis) {
                    headBias = heads;
                    headBiasAt = new HeadBias(reader.index(), readerInput, c);
                    chain.forEach(n -> headBiasNodes.add(n.index()));
                    return true;
                }
            }
            return false;
        }

        /**
         * Where axis {@code at} of the first value of {@code path} lands at its end, each node a Reshape, Unsqueeze,
         * Squeeze (the axis staying one axis), Transpose or Identity; -1 when it does not stay one axis.
         */
        private int follows(List<OnnxModel.ResolvedNode> path, int at) {
            for (OnnxModel.ResolvedNode w : path) {
                Operand x = facts.operands(w).get(0);
                long[] in = x == null ? null : x.shape();
                long[] out = facts.shape(w.node().outputs().get(0));
                if (in == null || out == null || !OnnxShapes.known(in) || !OnnxShapes.known(out) || at < 0) {
                    return -1;
                }
                switch (w.node().opType()) {
                    case "Transpose" -> {
                        long[] perm = OnnxShapes.ints(w.node(), "perm", null);
                        int found = -1;
                        for (int k = 0; k < out.length; k++) {
                            long from = perm == null ? out.length - 1 - k : perm[k];
                            found = from == at ? k : found;
                        }
                        at = found;
                    }
                    case "Identity" -> { }
                    default -> { // Reshape, Unsqueeze, Squeeze: the axis one axis still
                        int[] moved = OnnxShapes.reshapedAxis(in, out, at);
                        at = moved == null || moved[1] != 0 ? -1 : moved[0];
                    }
                }
            }
            return at;
        }

        /** An Expand: axes of size 1 (and new leading axes) become copies. */
        private Layout expand(Layout x, long[] inShape, long[] to) throws Mismatch {
            require(to.length >= x.rank());
            List<List<Factor>> axes = new ArrayList<>();
            int lead = to.length - x.rank();
            for (int i = 0; i < to.length; i++) {
                long from = i < lead ? 1 : inShape[i - lead];
                if (from == to[i]) {
                    axes.add(i < lead ? List.of() : x.axes().get(i - lead));
                } else {
                    require(from == 1);
                    axes.add(factors(new Factor(null, to[i], COPIES)));
                }
            }
            return new Layout(axes);
        }

        private Layout reshape(Layout x, long[] to) throws Mismatch {
            Deque<Factor> queue = new ArrayDeque<>();
            for (List<Factor> axis : x.axes()) {
                queue.addAll(axis);
            }
            List<List<Factor>> axes = new ArrayList<>();
            for (long dim : to) {
                List<Factor> axis = new ArrayList<>();
                long need = dim;
                require(need >= 1);
                while (need > 1) {
                    Factor f = queue.pollFirst();
                    require(f != null);
                    if (f.size() <= need) {
                        require(need % f.size() == 0);
                        axis.add(f);
                        need /= f.size();
                    } else {
                        require(f.size() % need == 0);
                        Factor[] parts = f.split(need);
                        axis.add(parts[0]);
                        queue.addFirst(parts[1]);
                        need = 1;
                    }
                }
                axes.add(axis);
            }
            require(queue.isEmpty());
            return new Layout(axes);
        }

        /** A Slice: of positions, or of a run of one projection's channels (a packed projection's q, k or v). */
        private Layout slice(OnnxModel.ResolvedNode r, List<Operand> ops, Layout x, long[] inShape, long[] outShape)
                throws Mismatch {
            long[][] p = OnnxShapes.sliceArrays(r.node(), ops.stream().map(c -> c == null ? null : c.ints()).toList());
            require(p != null && outShape.length == x.rank());
            List<List<Factor>> axes = new ArrayList<>(x.axes());
            for (int i = 0; i < p[0].length; i++) {
                int a = p[2] == null ? i : OnnxShapes.axis(p[2][i], x.rank());
                require(a >= 0 && (p[3] == null || p[3][i] == 1));
                long start = OnnxShapes.clamp(p[0][i], inShape[a]);
                long end = OnnxShapes.clamp(p[1][i], inShape[a]);
                require(end - start == outShape[a]);
                cut(axes, a, start, end - start);
            }
            return new Layout(axes);
        }

        /**
         * A Gather of one constant index along an axis (timm's {@code q, k, v = qkv[0], qkv[1], qkv[2]} of a packed
         * projection viewed as [3, batch, heads, positions, dimensions]): that entry, the axis dropped for a scalar
         * index.
         */
        private Layout gather(OnnxModel.ResolvedNode r, List<Operand> ops, int di, Layout x, long[] inShape,
                long[] outShape) throws Mismatch {
            Operand index = ops.size() == 2 ? ops.get(1) : null;
            require(di == 0 && index != null && !index.data() && index.ints() != null && index.ints().length == 1
                    && index.shape() != null && index.shape().length <= 1);
            int a = OnnxShapes.axis(OnnxShapes.attr(r.node(), "axis", 0), x.rank());
            require(a >= 0);
            long i = index.ints()[0] < 0 ? index.ints()[0] + inShape[a] : index.ints()[0];
            require(i >= 0 && i < inShape[a]);
            List<List<Factor>> axes = new ArrayList<>(x.axes());
            cut(axes, a, i, 1);
            if (index.shape().length == 0) {
                require(axes.get(a).isEmpty());
                axes.remove(a);
            }
            require(axes.size() == outShape.length);
            return new Layout(axes);
        }

        /**
         * Cuts axis {@code a} of {@code axes} to its entries [start, start + length) ({@link #part}); or, when the
         * axis is a factor of the packed projection's whole output (GPT-2's c_attn split in three; timm's viewed as
         * [3, heads, dimensions], GPT-NeoX's as [heads, 3 dimensions], BLOOM's as [heads, 3, dimensions], q's, k's or
         * v's entries taken), re-bases every factor of those channels on the channels taken, keeping their strides
         * (the axis keeps the factor's entries taken, none for one).
         */
        private void cut(List<List<Factor>> axes, int a, long start, long length) throws Mismatch {
            List<Factor> axis = axes.get(a);
            Factor f = axis.size() == 1 ? axis.get(0) : null;
            if (f == null || !f.channels() || f.whole() != null || !packedOutput(f.seg())
                    || (start == 0 && length == f.size())) {
                axes.set(a, part(axis, start, length));
                return;
            }
            require(length >= 1 && start + length <= f.size());
            Seg from = f.seg();
            Seg to = new Seg(from.linear(), from.base() + start * f.stride(), from.size() / f.size() * length);
            long covered = 1; // the run's factors partition it, none a piece, and no proof step has seen them yet
            for (int i = 0; i < axes.size(); i++) {
                List<Factor> re = new ArrayList<>();
                for (Factor g : axes.get(i)) {
                    if (g.channels() && g.seg().equals(from)) {
                        require(g.whole() == null);
                        covered *= g.size();
                        if (i != a) {
                            re.add(new Factor(to, g.size(), g.stride()));
                        }
                    } else {
                        re.add(g);
                    }
                }
                axes.set(i, re);
            }
            require(covered == from.size() && !seen(from));
            axes.set(a, factors(new Factor(to, length, f.stride())));
        }

        /** Whether {@code s} is the whole output of the one projection that packs q, k and v. */
        private boolean packedOutput(Seg s) {
            return packed(q, k, v) && s.linear() == q.node() && wholeOutput(s);
        }

        /** Whether {@code s} is its projection's whole output. */
        private boolean wholeOutput(Seg s) {
            long[] shape = facts.shape(s.linear().output());
            return s.base() == 0 && shape != null && shape.length > 0 && shape[shape.length - 1] == s.size();
        }

        /** Whether a proof step (a product's pairing, a pin) refers to channels of {@code s}. */
        private boolean seen(Seg s) {
            java.util.function.Predicate<Factor> of = g -> g != null && s.equals(g.seg());
            return parent.keySet().stream().anyMatch(of) || pinned.stream().anyMatch(of)
                    || singleHead.stream().anyMatch(of) || scoreShared.stream().anyMatch(of)
                    || mixShared.stream().anyMatch(of);
        }

        private void split(OnnxModel.ResolvedNode r, List<Operand> ops, Layout x, long[] inShape) throws Mismatch {
            int a = OnnxShapes.axis(OnnxShapes.attr(r.node(), "axis", 0), x.rank());
            require(a >= 0);
            long start = 0;
            for (String out : r.node().outputs()) {
                if (out.isEmpty()) {
                    continue;
                }
                long[] s = facts.shape(out);
                require(s != null && s.length == x.rank());
                List<List<Factor>> axes = new ArrayList<>(x.axes());
                cut(axes, a, start, s[a]);
                layouts.put(out, new Layout(axes));
                start += s[a];
            }
            require(start == inShape[a]);
        }

        /** Entries [start, start + length) of an axis: all of it, none, a run of positions, or a piece of a head (pinned). */
        private List<Factor> part(List<Factor> axis, long start, long length) throws Mismatch {
            long size = 1;
            for (Factor f : axis) {
                size *= f.size();
            }
            if (start == 0 && length == size) {
                return axis;
            }
            if (length == 0) { // nothing (GPT-NeoX's pass-through part of a rotary embedding over the whole head)
                return List.of(NOTHING);
            }
            require(axis.size() == 1);
            Factor f = axis.get(0);
            if (!f.channels()) {
                return factors(new Factor(null, length, 0));
            }
            if ((f.inside() || oneHead(f)) && f.whole() == null) { // a rotary embedding's half of each head: they stay
                pinned.add(f);
                return List.of(new Factor(f.seg(), length, f.stride(), f, start));
            }
            require(f.whole() != null); // else a part of q's own output: no packing of q, k and v takes that (cut)
            // a part of a piece (rotate_half of a partial rotary embedding's rotated part)
            return List.of(new Factor(f.seg(), length, f.stride(), f.whole(), f.start() + start));
        }

        /**
         * Whether {@code f} is a whole run of channels that only k's or v's single head can be (recorded in
         * {@link #singleHead}, which the proof checks): a projection's channels in one run, of a separate projection
         * other than q's, or already cut from a packed one. (The whole output of q's projection, when q, k and v are
         * packed, is cut in three instead.)
         */
        private boolean oneHead(Factor f) {
            if (!f.channels() || f.whole() != null || f.stride() != 1 || f.size() != f.seg().size()) {
                return false;
            }
            boolean one = f.seg().linear() != q.node() || !wholeOutput(f.seg());
            if (one) {
                singleHead.add(f);
            }
            return one;
        }

        /**
         * A node of several tracked inputs: Add, Sub, Mul or Div of values laid out alike (a rotary embedding's x cos +
         * rotate_half(x) sin), or a Concat that puts the pieces of one factor back together, in any order
         * (rotate_half's cat(-x2, x1): the factor is pinned already).
         */
        private Layout joined(OnnxModel.ResolvedNode r, List<Integer> tracked, long[] outShape) throws Mismatch {
            List<String> ins = r.node().inputs();
            Layout first = layoutOf(ins.get(tracked.get(0)));
            require(first.rank() == outShape.length);
            String op = r.node().opType();
            if (op.equals("Concat")) {
                int a = OnnxShapes.axis(OnnxShapes.attr(r.node(), "axis", Long.MIN_VALUE), first.rank());
                require(a >= 0);
                for (int i = 0; i < ins.size(); i++) { // inputs not followed: empty ones only
                    Operand c = facts.operands(r).get(i);
                    require(tracked.contains(i) || (c != null && c.shape() != null && c.shape().length == first.rank()
                            && c.shape()[a] == 0));
                }
                Factor whole = null;
                List<Factor> pieces = new ArrayList<>();
                for (int i : tracked) {
                    Layout l = layoutOf(ins.get(i));
                    require(l.rank() == first.rank());
                    List<Factor> axis = l.axes().get(a);
                    if (axis.equals(List.of(NOTHING))) {
                        continue;
                    }
                    for (int j = 0; j < l.rank(); j++) {
                        require(j == a || l.axes().get(j).equals(first.axes().get(j)));
                    }
                    require(axis.size() == 1 && axis.get(0).channels());
                    Factor f = axis.get(0); // a piece, or a whole factor beside empty inputs (a piece of all of it)
                    Factor of = f.whole() != null ? f.whole() : f;
                    require(whole == null || whole.equals(of));
                    whole = of;
                    pieces.add(f.whole() != null ? f : new Factor(f.seg(), f.size(), f.stride(), f, 0));
                }
                require(whole != null);
                // pieces of one factor (pinned when cut) that cover a run of it, in any order: the run
                pieces.sort(java.util.Comparator.comparingLong(Factor::start));
                long at = pieces.get(0).start();
                for (Factor piece : pieces) {
                    require(piece.start() == at);
                    at += piece.size();
                }
                long from = pieces.get(0).start();
                List<List<Factor>> axes = new ArrayList<>(first.axes());
                axes.set(a, List.of(from == 0 && at == whole.size() ? whole
                        : new Factor(whole.seg(), at - from, whole.stride(), whole, from)));
                return new Layout(axes);
            }
            require(Set.of("Add", "Sub", "Mul", "Div").contains(op));
            for (int i : tracked) {
                require(layoutOf(ins.get(i)).equals(first));
            }
            for (int i = 0; i < ins.size(); i++) { // anything else: one value (a scalar)
                Operand c = facts.operands(r).get(i);
                require(tracked.contains(i) || (c != null && c.shape() != null && c.shape().length == 0));
            }
            return first;
        }

        /** A product of two activations: batch axes paired, the contracted axes paired, M from a, N from b. */
        private Layout product(OnnxModel.ResolvedNode r, long[] outShape) throws Mismatch {
            Layout a = layoutOf(r.node().inputs().get(0));
            Layout b = layoutOf(r.node().inputs().get(1));
            require(a.rank() >= 2 && b.rank() >= 2 && outShape.length == Math.max(a.rank(), b.rank()));
            List<Factor[]> batch = r == scores ? scoreBatch : mixBatch;
            List<Factor[]> contracted = r == scores ? scoreContracted : mixContracted;
            int rank = outShape.length;
            List<List<Factor>> axes = new ArrayList<>();
            List<Factor> shared = r == scores ? scoreShared : mixShared;
            for (int i = 0; i < rank - 2; i++) {
                List<Factor> fa = axisOrNone(a, i - (rank - a.rank()));
                List<Factor> fb = axisOrNone(b, i - (rank - b.rank()));
                if (fa.isEmpty() || fb.isEmpty()) { // broadcast: b's entries for every one of a's (or positions)
                    require(fb.stream().noneMatch(Factor::channels));
                    for (Factor x : fa) { // a's channels over b's one entry: heads sharing it (multi-query's k, v)
                        if (x.channels()) {
                            shared.add(x);
                        }
                    }
                    axes.add(fa.isEmpty() ? fb : fa);
                } else {
                    List<Factor> out = new ArrayList<>();
                    for (Factor[] p : align(fa, fb)) {
                        Factor x = p[0];
                        Factor y = p[1];
                        if (x.channels() && y.channels()) {
                            union(x, y);
                            batch.add(p);
                        } else if (x.channels()) { // a's channels against b's copies: heads sharing b's entries
                            require(y.copies());
                            shared.add(x);
                        } else {
                            require(!y.channels() && x.copies() == y.copies());
                        }
                        out.add(x);
                    }
                    axes.add(out);
                }
            }
            for (Factor[] p : align(a.axes().get(a.rank() - 1), b.axes().get(b.rank() - 2))) {
                require(p[0].channels() == p[1].channels() && !p[0].copies() && !p[1].copies());
                if (p[0].channels()) {
                    union(p[0], p[1]);
                    contracted.add(p);
                }
            }
            axes.add(a.axes().get(a.rank() - 2));
            axes.add(b.axes().get(b.rank() - 1));
            return new Layout(axes);
        }

        /** Two axes' factors split until they pair entry for entry, outer to inner. */
        private List<Factor[]> align(List<Factor> fa, List<Factor> fb) throws Mismatch {
            Deque<Factor> a = new ArrayDeque<>(fa);
            Deque<Factor> b = new ArrayDeque<>(fb);
            List<Factor[]> out = new ArrayList<>();
            while (!a.isEmpty() && !b.isEmpty()) {
                Factor x = a.pollFirst();
                Factor y = b.pollFirst();
                if (x.size() != y.size()) {
                    Deque<Factor> big = x.size() > y.size() ? a : b;
                    Factor f = x.size() > y.size() ? x : y;
                    long small = Math.min(x.size(), y.size());
                    require(f.size() % small == 0 && f.whole() == null);
                    Factor[] parts = f.split(small);
                    big.addFirst(parts[1]);
                    if (f == x) {
                        x = parts[0];
                    } else {
                        y = parts[0];
                    }
                }
                out.add(new Factor[] {x, y});
            }
            require(a.isEmpty() && b.isEmpty());
            return out;
        }

        private List<Factor> axisOrNone(Layout l, int axis) {
            return axis < 0 ? List.of() : l.axes().get(axis);
        }

    }

    /** Whether q, k and v are one packed projection. */
    private static boolean packed(Linear q, Linear k, Linear v) {
        return q.node() == k.node() && k.node() == v.node();
    }

    private static List<Factor> factors(Factor f) {
        return f.size() == 1 ? List.of() : List.of(f);
    }

    /** The one factor of an axis of no entries (an empty slice), which a Concat drops. */
    private static final Factor NOTHING = new Factor(null, 0, 0);

}
