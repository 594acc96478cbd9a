package lady.onnx;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A small shape inference for {@link OnnxGraph}: the output shapes of the common ONNX operators from their
 * input shapes (dimensions -1 where unknown), and the values of small integer computations on shapes
 * (Shape, Gather, Concat, Unsqueeze, arithmetic) so that a Reshape whose target PyTorch's exporter computes
 * at run time is read. Anything it does not know gives null (unknown), never an exception: a malformed or
 * unusual node only makes the import more careful.
 */
final class OnnxShapes {
    private OnnxShapes() {}

    /**
     * The shape of every output of node {@code r} (null where unknown), from the shapes, small integer values
     * and small float values of its inputs (entries null where unknown or absent).
     */
    static long[][] infer(OnnxModel.ResolvedNode r, List<long[]> shapes, List<long[]> ints, List<double[]> reals) {
        OnnxNode n = r.node();
        long[][] out = new long[n.outputs().size()][];
        try {
            compute(n, shapes, ints, reals, out);
        } catch (IndexOutOfBoundsException | ArithmeticException | NegativeArraySizeException e) {
            Arrays.fill(out, null); // a node whose inputs do not fit its operator: shapes unknown
        }
        for (int i = 0; i < out.length; i++) {
            if (out[i] != null && Arrays.stream(out[i]).anyMatch(d -> d < -1)) {
                out[i] = null;
            }
        }
        return out;
    }

    private static long[] in(List<long[]> l, int i) {
        return i < l.size() ? l.get(i) : null;
    }

    private static double[] real(List<double[]> l, int i) {
        return i < l.size() ? l.get(i) : null;
    }

    /** {@code ints}, or {@code reals} when every one is an integer (else null). */
    private static long[] integral(long[] ints, double[] reals) {
        if (ints != null || reals == null) {
            return ints;
        }
        long[] v = new long[reals.length];
        for (int i = 0; i < v.length; i++) {
            if (reals[i] != Math.rint(reals[i]) || Math.abs(reals[i]) > 1L << 52) {
                return null;
            }
            v[i] = (long) reals[i];
        }
        return v;
    }

    private static void compute(OnnxNode n, List<long[]> s, List<long[]> ints, List<double[]> reals, long[][] out) {
        long[] x = in(s, 0);
        switch (n.opType()) {
            case "Constant" -> out[0] = constantShape(n);
            case "ConstantOfShape" -> out[0] = known(in(ints, 0)) ? in(ints, 0).clone() : null;
            case "Shape" -> {
                if (x != null) {
                    long[] range = shapeRange(n, x.length);
                    out[0] = new long[] {range[1] - range[0]};
                }
            }
            case "Size" -> out[0] = new long[0];
            case "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Where", "Equal", "Greater", "Less",
                    "GreaterOrEqual", "LessOrEqual", "And", "Or", "Xor", "Mod", "PRelu", "BitwiseAnd", "BitwiseOr",
                    "BitwiseXor" -> out[0] = broadcast(s);
            case "Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool" -> out[0] = window(n, x, in(s, 1));
            case "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool" -> {
                if (x != null && x.length >= 2) {
                    out[0] = x.clone();
                    Arrays.fill(out[0], 2, x.length, 1);
                }
            }
            case "Gemm" -> {
                long[] a = x;
                long[] b = in(s, 1);
                if (a != null && b != null && a.length == 2 && b.length == 2) {
                    long m = attr(n, "transA", 0) == 0 ? a[0] : a[1];
                    long k = attr(n, "transB", 0) == 0 ? b[1] : b[0];
                    out[0] = new long[] {m, k};
                }
            }
            case "MatMul" -> out[0] = matmul(x, in(s, 1));
            case "LSTM", "GRU", "RNN" -> { // Y [S, dirs, N, H] (layout 1: [N, S, dirs, H]), Y_h and Y_c [dirs, N, H]
                long h = attr(n, "hidden_size", 0);
                long d = "bidirectional".equals(stringAttr(n, "direction", "forward")) ? 2 : 1;
                if (x != null && x.length == 3 && h > 0) {
                    boolean batchFirst = attr(n, "layout", 0) == 1;
                    long seq = batchFirst ? x[1] : x[0];
                    long batch = batchFirst ? x[0] : x[1];
                    out[0] = batchFirst ? new long[] {batch, seq, d, h} : new long[] {seq, d, batch, h};
                    for (int k = 1; k < out.length; k++) {
                        out[k] = batchFirst ? new long[] {batch, d, h} : new long[] {d, batch, h};
                    }
                }
            }
            case "DepthToSpace", "SpaceToDepth" -> {
                long r = attr(n, "blocksize", 0);
                if (x != null && x.length == 4 && r > 0 && x[1] >= 0 && x[2] >= 0 && x[3] >= 0) {
                    boolean up = n.opType().equals("DepthToSpace");
                    if (up ? x[1] % (r * r) == 0 : x[2] % r == 0 && x[3] % r == 0) {
                        out[0] = up ? new long[] {x[0], x[1] / (r * r), x[2] * r, x[3] * r}
                                : new long[] {x[0], x[1] * r * r, x[2] / r, x[3] / r};
                    }
                }
            }
            case "DynamicQuantizeLinear" -> { // the quantized tensor, its scale and its zero point
                out[0] = x == null ? null : x.clone();
                for (int k = 1; k < out.length; k++) {
                    out[k] = new long[0];
                }
            }
            case "Flatten" -> {
                if (x != null) {
                    long a = attr(n, "axis", 1);
                    int axis = (int) (a < 0 ? a + x.length : a);
                    if (axis >= 0 && axis <= x.length) {
                        out[0] = new long[] {product(x, 0, axis), product(x, axis, x.length)};
                    }
                }
            }
            case "Reshape" -> out[0] = reshape(x, in(ints, 1), attr(n, "allowzero", 0) == 1);
            case "Transpose" -> {
                if (x != null) {
                    long[] perm = ints(n, "perm", null);
                    out[0] = new long[x.length];
                    for (int i = 0; i < x.length; i++) {
                        out[0][i] = x[perm == null ? x.length - 1 - i : (int) perm[i]];
                    }
                }
            }
            case "Unsqueeze", "Squeeze" -> out[0] = squeeze(n, x, axes(n, ints, 1));
            case "Concat" -> {
                long[] first = x;
                if (first != null) {
                    int axis = axis(attr(n, "axis", 0), first.length);
                    long[] o = first.clone();
                    long sum = 0;
                    for (long[] t : s) {
                        if (t == null || t.length != first.length || axis < 0) {
                            return;
                        }
                        sum = t[axis] < 0 || sum < 0 ? -1 : sum + t[axis];
                    }
                    o[axis] = sum;
                    out[0] = o;
                }
            }
            case "Split" -> split(n, x, in(ints, 1), out);
            case "Slice" -> out[0] = slice(n, x, ints);
            case "Gather" -> {
                long[] idx = in(s, 1);
                if (x != null && idx != null) {
                    int axis = axis(attr(n, "axis", 0), x.length);
                    if (axis >= 0) {
                        long[] o = new long[x.length - 1 + idx.length];
                        System.arraycopy(x, 0, o, 0, axis);
                        System.arraycopy(idx, 0, o, axis, idx.length);
                        System.arraycopy(x, axis + 1, o, axis + idx.length, x.length - axis - 1);
                        out[0] = o;
                    }
                }
            }
            case "Pad" -> {
                long[] pads = n.attribute("pads") != null ? ints(n, "pads", null) : in(ints, 1);
                long[] axes = in(ints, 3);
                if (x != null && pads != null) {
                    long[] o = x.clone();
                    int count = pads.length / 2;
                    for (int i = 0; i < count; i++) {
                        int a = axes == null ? i : axis(axes[i], x.length);
                        o[a] = o[a] < 0 ? -1 : o[a] + pads[i] + pads[i + count];
                    }
                    out[0] = o;
                }
            }
            case "Resize", "Upsample" -> out[0] = resize(n, x, ints, reals);
            case "Expand" -> {
                long[] to = in(ints, 1);
                if (x != null && to != null) {
                    List<long[]> both = new ArrayList<>();
                    both.add(x);
                    both.add(to);
                    out[0] = broadcast(both);
                }
            }
            case "Tile" -> {
                long[] rep = in(ints, 1);
                if (x != null && rep != null && rep.length == x.length) {
                    out[0] = new long[x.length];
                    for (int i = 0; i < x.length; i++) {
                        out[0][i] = x[i] < 0 ? -1 : x[i] * rep[i];
                    }
                }
            }
            case "ArgMax", "ArgMin" -> {
                if (x != null) {
                    int axis = axis(attr(n, "axis", 0), x.length);
                    out[0] = reduced(x, new long[] {axis}, attr(n, "keepdims", 1) == 1);
                }
            }
            case "Range" -> { // integer bounds, or floating ones with integral values (torch.arange(n, dtype=float))
                long[] a = integral(in(ints, 0), real(reals, 0));
                long[] b = integral(in(ints, 1), real(reals, 1));
                long[] c = integral(in(ints, 2), real(reals, 2));
                if (a != null && b != null && c != null && a.length == 1 && b.length == 1 && c.length == 1 && c[0] != 0) {
                    out[0] = new long[] {Math.max(0, Math.floorDiv(b[0] - a[0] + c[0] - Long.signum(c[0]), c[0]))};
                }
            }
            default -> {
                if (n.opType().startsWith("Reduce")) {
                    if (x != null) {
                        long[] axes = axes(n, ints, 1);
                        if (axes == null && s.size() > 1 && s.get(1) != null) {
                            return; // axes computed at run time
                        }
                        if (axes == null || axes.length == 0) {
                            if (attr(n, "noop_with_empty_axes", 0) == 1) {
                                out[0] = x.clone();
                                return;
                            }
                            axes = new long[x.length];
                            for (int i = 0; i < x.length; i++) {
                                axes[i] = i;
                            }
                        }
                        out[0] = reduced(x, axes, attr(n, "keepdims", 1) == 1);
                    }
                } else if (OnnxImporter.keepsShape(n.opType()) && x != null) {
                    out[0] = x.clone();
                    for (int k = 1; k < out.length; k++) {
                        out[k] = n.opType().equals("Dropout") ? x.clone() : null;
                    }
                }
            }
        }
    }

    /**
     * The integer values of output 0 of {@code r} when its inputs' are known (small shape computations), or
     * null.
     */
    static long[] fold(OnnxModel.ResolvedNode r, List<long[]> shapes, List<long[]> ints) {
        try {
            return foldValues(r.node(), shapes, ints);
        } catch (IndexOutOfBoundsException | ArithmeticException | NegativeArraySizeException e) {
            return null;
        }
    }

    private static long[] foldValues(OnnxNode n, List<long[]> shapes, List<long[]> ints) {
        long[] v = in(ints, 0);
        switch (n.opType()) {
            case "Constant": {
                OnnxAttribute t = n.attribute("value");
                if (t != null && t.type() == OnnxAttribute.Type.TENSOR) {
                    OnnxConstant c = t.asTensor();
                    boolean integer = switch (c.dtype()) {
                        case INT64, INT32, INT16, INT8, UINT8, UINT16, UINT32, UINT64, BOOL -> true;
                        default -> false;
                    };
                    return integer && product(c.shape(), 0, c.shape().length) <= OnnxImporter.MAX_FOLDED ? c.longs() : null;
                }
                if (n.attribute("value_int") != null) {
                    return new long[] {n.attribute("value_int").asLong()};
                }
                if (n.attribute("value_ints") != null) {
                    return n.attribute("value_ints").asLongs();
                }
                return null;
            }
            case "Shape": {
                long[] x = in(shapes, 0);
                if (!known(x)) {
                    return null;
                }
                long[] range = shapeRange(n, x.length);
                return Arrays.copyOfRange(x, (int) range[0], (int) range[1]);
            }
            case "Size": {
                long[] x = in(shapes, 0);
                return known(x) ? new long[] {product(x, 0, x.length)} : null;
            }
            case "Identity", "Cast", "Unsqueeze", "Squeeze", "Reshape", "Flatten":
                return v;
            case "Gather": {
                long[] idx = in(ints, 1);
                long[] x = in(shapes, 0);
                if (v == null || idx == null || x == null || x.length != 1) {
                    return null;
                }
                long[] o = new long[idx.length];
                for (int i = 0; i < idx.length; i++) {
                    o[i] = v[(int) (idx[i] < 0 ? idx[i] + v.length : idx[i])];
                }
                return o;
            }
            case "Concat": {
                List<Long> o = new ArrayList<>();
                for (long[] a : ints) {
                    if (a == null) {
                        return null;
                    }
                    for (long e : a) {
                        o.add(e);
                    }
                }
                return o.stream().mapToLong(Long::longValue).toArray();
            }
            case "Slice": {
                long[] x = in(shapes, 0);
                long[] s = slice(n, x, ints);
                long[][] p = sliceArrays(n, ints);
                if (v == null || !known(x) || product(x, 0, x.length) != v.length || !known(s) || p == null) {
                    return null;
                }
                long[] first = new long[x.length]; // per axis: the first index read and the step
                long[] step = new long[x.length];
                Arrays.fill(step, 1);
                for (int i = 0; i < p[0].length; i++) {
                    int a = p[2] == null ? i : axis(p[2][i], x.length);
                    step[a] = p[3] == null ? 1 : p[3][i];
                    long d = x[a];
                    first[a] = step[a] > 0 ? clamp(p[0][i], d)
                            : Math.max(-1, Math.min(d - 1, p[0][i] < 0 ? p[0][i] + d : p[0][i]));
                }
                long[] in = rowMajorStrides(x);
                long base = 0;
                long[] strides = new long[x.length];
                for (int k = 0; k < x.length; k++) {
                    long last = first[k] + (s[k] - 1) * step[k];
                    if (s[k] > 0 && (first[k] < 0 || first[k] >= x[k] || last < 0 || last >= x[k])) {
                        return null; // (the slice's own shape keeps inside the input)
                    }
                    base += first[k] * in[k];
                    strides[k] = step[k] * in[k];
                }
                return strided(v, s, base, strides);
            }
            case "Transpose": { // of small integer tensors (F.pad's pads, reordered as the exporter writes them)
                long[] x = in(shapes, 0);
                if (v == null || !known(x) || product(x, 0, x.length) != v.length) {
                    return null;
                }
                long[] perm = ints(n, "perm", null);
                if (perm == null) {
                    perm = new long[x.length];
                    for (int i = 0; i < perm.length; i++) {
                        perm[i] = x.length - 1 - i;
                    }
                }
                if (perm.length != x.length) {
                    return null;
                }
                long[] in = rowMajorStrides(x);
                long[] outShape = new long[x.length];
                long[] strides = new long[x.length];
                for (int k = 0; k < x.length; k++) { // output axis k reads input axis perm[k]
                    outShape[k] = x[(int) perm[k]];
                    strides[k] = in[(int) perm[k]];
                }
                return strided(v, outShape, 0, strides);
            }
            case "Add", "Sub", "Mul", "Div", "Mod": {
                long[] b = in(ints, 1);
                if (v == null || b == null || (v.length != b.length && v.length != 1 && b.length != 1)) {
                    return null;
                }
                long[] o = new long[Math.max(v.length, b.length)];
                for (int i = 0; i < o.length; i++) {
                    long x = v[v.length == 1 ? 0 : i];
                    long y = b[b.length == 1 ? 0 : i];
                    o[i] = switch (n.opType()) {
                        case "Add" -> x + y;
                        case "Sub" -> x - y;
                        case "Mul" -> x * y;
                        case "Div" -> x / y;
                        default -> Math.floorMod(x, y);
                    };
                }
                return o;
            }
            case "Neg": {
                return v == null ? null : Arrays.stream(v).map(e -> -e).toArray();
            }
            case "Equal": { // PyTorch's expand(-1, ...): Where(Equal(shape, -1), ones, shape)
                long[] b = in(ints, 1);
                if (v == null || b == null || (v.length != b.length && v.length != 1 && b.length != 1)) {
                    return null;
                }
                long[] o = new long[Math.max(v.length, b.length)];
                for (int i = 0; i < o.length; i++) {
                    o[i] = v[v.length == 1 ? 0 : i] == b[b.length == 1 ? 0 : i] ? 1 : 0;
                }
                return o;
            }
            case "Where": {
                long[] x = in(ints, 1);
                long[] y = in(ints, 2);
                if (v == null || x == null || y == null) {
                    return null;
                }
                int len = Math.max(v.length, Math.max(x.length, y.length));
                for (long[] a : new long[][] {v, x, y}) {
                    if (a.length != len && a.length != 1) {
                        return null;
                    }
                }
                long[] o = new long[len];
                for (int i = 0; i < len; i++) {
                    o[i] = v[v.length == 1 ? 0 : i] != 0 ? x[x.length == 1 ? 0 : i] : y[y.length == 1 ? 0 : i];
                }
                return o;
            }
            case "ConstantOfShape": {
                if (!known(v) || product(v, 0, v.length) > OnnxImporter.MAX_FOLDED) {
                    return null;
                }
                OnnxAttribute t = n.attribute("value");
                long fill = 0;
                if (t != null && t.type() == OnnxAttribute.Type.TENSOR) {
                    OnnxConstant c = t.asTensor();
                    if (c.dtype() == OnnxDType.FLOAT || c.dtype() == OnnxDType.DOUBLE) {
                        return null;
                    }
                    fill = c.longs()[0];
                }
                long[] o = new long[(int) product(v, 0, v.length)];
                Arrays.fill(o, fill);
                return o;
            }
            default:
                return null;
        }
    }

    /**
     * The values of shape {@code outShape} read from {@code v} at {@code base} plus, along each output axis k, its index
     * times {@code strides[k]} (a slice or a transpose of a row-major tensor), or null when the output is too large to
     * fold.
     */
    private static long[] strided(long[] v, long[] outShape, long base, long[] strides) {
        long total = product(outShape, 0, outShape.length);
        if (total > OnnxImporter.MAX_FOLDED) {
            return null;
        }
        long[] o = new long[(int) total];
        long[] idx = new long[outShape.length];
        for (int j = 0; j < o.length; j++) {
            long at = base;
            for (int k = 0; k < idx.length; k++) {
                at += idx[k] * strides[k];
            }
            o[j] = v[(int) at];
            next(idx, outShape);
        }
        return o;
    }

    private static long[] rowMajorStrides(long[] shape) {
        long[] stride = new long[shape.length];
        long acc = 1;
        for (int k = shape.length - 1; k >= 0; k--) {
            stride[k] = acc;
            acc *= shape[k];
        }
        return stride;
    }

    /** Advances a row-major index over {@code shape}. */
    private static void next(long[] idx, long[] shape) {
        for (int k = idx.length - 1; k >= 0; k--) {
            if (++idx[k] < shape[k]) {
                return;
            }
            idx[k] = 0;
        }
    }

    /**
     * Where the channel axis {@code caxis} of a value of shape {@code from} lands when reshaped to {@code to}:
     * {axis, 0} when it stays one axis, {axis, 1} when it is merged with the axes after it (channel-major
     * blocks), or null when it is split or merged inside another axis.
     */
    static int[] reshapedAxis(long[] from, long[] to, int caxis) {
        for (long d : from) {
            if (d <= 0) {
                return null;
            }
        }
        for (long d : to) {
            if (d <= 0) {
                return null;
            }
        }
        int i = 0;
        int j = 0;
        while (i < from.length || j < to.length) {
            boolean oneIn = i < from.length && from[i] == 1;
            boolean oneOut = j < to.length && to[j] == 1;
            if (oneIn && oneOut) {
                if (i == caxis) {
                    return new int[] {j, 0};
                }
                i++;
                j++;
                continue;
            }
            if (oneIn) {
                if (i == caxis) {
                    return null;
                }
                i++;
                continue;
            }
            if (oneOut) {
                j++;
                continue;
            }
            if (i >= from.length || j >= to.length) {
                return null;
            }
            int gi = i;
            int gj = j;
            long pi = from[i++];
            long pj = to[j++];
            while (pi != pj) {
                if (pi < pj) {
                    if (i >= from.length) {
                        return null;
                    }
                    pi *= from[i++];
                } else {
                    if (j >= to.length) {
                        return null;
                    }
                    pj *= to[j++];
                }
            }
            if (caxis >= gi && caxis < i) {
                if (i - gi == 1 && j - gj == 1) {
                    return new int[] {gj, 0};
                }
                return j - gj == 1 && caxis == gi ? new int[] {gj, 1} : null;
            }
        }
        return null;
    }

    /** Whether a Slice leaves axis {@code caxis} whole and in order (not sliced, or from its start to its end by 1). */
    static boolean sliceKeepsAxis(OnnxNode n, List<long[]> ints, int rank, int caxis) {
        long[][] p = sliceArrays(n, ints);
        if (p == null) {
            return false;
        }
        int i = sliceEntry(p, rank, caxis);
        return i < 0 || p[3] == null || p[3][i] == 1;
    }

    /**
     * {start, length} of the run of channels (axis {@code caxis}, of {@code channels}) a Slice keeps when it slices that
     * axis with step 1 and known bounds; null otherwise (not sliced there, a step, unknown bounds).
     */
    static long[] channelRun(OnnxNode n, List<long[]> ints, int rank, int caxis, long channels) {
        long[][] p = sliceArrays(n, ints);
        int i = p == null || channels < 0 ? -1 : sliceEntry(p, rank, caxis);
        if (i < 0 || (p[3] != null && p[3][i] != 1)) {
            return null;
        }
        long start = clamp(p[0][i], channels);
        long end = Math.max(start, clamp(p[1][i], channels));
        return new long[] {start, end - start};
    }

    /** The entry of {@link #sliceArrays}' {@code p} that slices axis {@code axis} (of a value of {@code rank}), or -1. */
    private static int sliceEntry(long[][] p, int rank, int axis) {
        for (int i = 0; i < p[0].length; i++) {
            if ((p[2] == null ? i : axis(p[2][i], rank)) == axis) {
                return i;
            }
        }
        return -1;
    }

    // ---- helpers ----

    private static long[] constantShape(OnnxNode n) {
        OnnxAttribute t = n.attribute("value");
        if (t != null && t.type() == OnnxAttribute.Type.TENSOR) {
            return t.asTensor().shape();
        }
        if (n.attribute("value_int") != null || n.attribute("value_float") != null) {
            return new long[0];
        }
        if (n.attribute("value_ints") != null) {
            return new long[] {n.attribute("value_ints").asLongs().length};
        }
        if (n.attribute("value_floats") != null) {
            return new long[] {n.attribute("value_floats").asFloats().length};
        }
        return null;
    }

    /** [start, end) of a Shape node's output (opset 15 attributes). */
    private static long[] shapeRange(OnnxNode n, int rank) {
        long start = clamp(attr(n, "start", 0), rank);
        long end = n.attribute("end") == null ? rank : clamp(attr(n, "end", rank), rank);
        return new long[] {start, Math.max(start, end)};
    }

    /** A slice bound {@code v} on an axis of {@code size}: negative ones counted from the end, then clamped. */
    static long clamp(long v, long size) {
        long a = v < 0 ? v + size : v;
        return Math.max(0, Math.min(size, a));
    }

    static boolean known(long[] shape) {
        if (shape == null) {
            return false;
        }
        for (long d : shape) {
            if (d < 0) {
                return false;
            }
        }
        return true;
    }

    private static long product(long[] s, int from, int to) {
        long p = 1;
        for (int i = from; i < to; i++) {
            if (s[i] < 0) {
                return -1;
            }
            p = Math.multiplyExact(p, s[i]);
        }
        return p;
    }

    /** String attribute {@code name}, or {@code fallback} when absent or of another type. */
    static String stringAttr(OnnxNode n, String name, String fallback) {
        OnnxAttribute a = n.attribute(name);
        return a != null && a.type() == OnnxAttribute.Type.STRING ? a.asString() : fallback;
    }

    /** Integer attribute {@code name}, or {@code fallback} when absent or of another type. */
    static long attr(OnnxNode n, String name, long fallback) {
        OnnxAttribute a = n.attribute(name);
        return a != null && a.type() == OnnxAttribute.Type.INT ? a.asLong() : fallback;
    }

    /** Integer-list attribute {@code name}, or {@code fallback} when absent or of another type. */
    static long[] ints(OnnxNode n, String name, long[] fallback) {
        OnnxAttribute a = n.attribute(name);
        return a != null && a.type() == OnnxAttribute.Type.INTS ? a.asLongs() : fallback;
    }

    /** Axis {@code a} of a value of rank {@code rank}, negative ones counted from the end; -1 when out of range. */
    static int axis(long a, int rank) {
        long v = a < 0 ? a + rank : a;
        return v < 0 || v >= rank ? -1 : (int) v;
    }

    /** The axes of a node: its attribute (older opsets) or the constant at input {@code input}. */
    private static long[] axes(OnnxNode n, List<long[]> ints, int input) {
        long[] a = ints(n, "axes", null);
        return a != null ? a : in(ints, input);
    }

    private static long[] broadcast(List<long[]> shapes) {
        int rank = 0;
        for (long[] s : shapes) {
            if (s == null) {
                return null;
            }
            rank = Math.max(rank, s.length);
        }
        long[] o = new long[rank];
        Arrays.fill(o, 1);
        for (long[] s : shapes) {
            for (int i = 0; i < s.length; i++) {
                int k = rank - s.length + i;
                long d = s[i];
                if (d == 1) {
                    continue;
                }
                if (o[k] == 1 || o[k] == d) {
                    o[k] = d;
                } else if (d < 0 || o[k] < 0) {
                    o[k] = -1;
                } else {
                    return null; // incompatible
                }
            }
        }
        return o;
    }

    /** Output shape of a convolution or pooling window over {@code x} (weight {@code w} for convolutions). */
    private static long[] window(OnnxNode n, long[] x, long[] w) {
        boolean conv = n.opType().startsWith("Conv");
        boolean transposed = n.opType().equals("ConvTranspose");
        long[] kernel = conv ? (w == null || w.length < 3 ? null : Arrays.copyOfRange(w, 2, w.length)) : ints(n, "kernel_shape", null);
        if (x == null && kernel != null) {
            x = filled(kernel.length + 2, -1); // the rank from the kernel, the sizes unknown
        }
        if (x == null || x.length < 3 || (conv && (w == null || w.length != x.length))) {
            return null;
        }
        int sp = x.length - 2;
        if (kernel == null || kernel.length != sp) {
            return null;
        }
        long[] strides = ints(n, "strides", filled(sp, 1));
        long[] dil = ints(n, "dilations", filled(sp, 1));
        long[] pads = ints(n, "pads", filled(2 * sp, 0));
        String auto = n.attribute("auto_pad") != null && n.attribute("auto_pad").type() == OnnxAttribute.Type.STRING
                ? n.attribute("auto_pad").asString() : "NOTSET";
        boolean ceil = attr(n, "ceil_mode", 0) == 1;
        long[] o = new long[x.length];
        o[0] = x[0];
        o[1] = !conv ? x[1] : transposed ? w[1] * attr(n, "group", 1) : w[0];
        if (strides.length != sp || dil.length != sp || pads.length != 2 * sp) {
            Arrays.fill(o, 2, o.length, -1);
            return o;
        }
        long[] outputShape = ints(n, "output_shape", null);
        long[] outputPadding = ints(n, "output_padding", filled(sp, 0));
        for (int i = 0; i < sp; i++) {
            long in = x[i + 2];
            if (in < 0) {
                o[i + 2] = -1;
                continue;
            }
            long eff = dil[i] * (kernel[i] - 1) + 1;
            if (transposed) {
                o[i + 2] = outputShape != null && outputShape.length == sp ? outputShape[i]
                        : strides[i] * (in - 1) + outputPadding[i] + eff - pads[i] - pads[i + sp];
            } else if (auto.equals("SAME_UPPER") || auto.equals("SAME_LOWER")) {
                o[i + 2] = (in + strides[i] - 1) / strides[i];
            } else {
                long p = auto.equals("VALID") ? 0 : pads[i] + pads[i + sp];
                long span = in + p - eff;
                if (span < 0) {
                    return null;
                }
                o[i + 2] = (ceil ? (span + strides[i] - 1) / strides[i] : span / strides[i]) + 1;
            }
        }
        return o;
    }

    private static long[] filled(int n, long v) {
        long[] a = new long[Math.max(0, n)];
        Arrays.fill(a, v);
        return a;
    }

    private static long[] matmul(long[] a, long[] b) {
        if (a == null || b == null || a.length == 0 || b.length == 0) {
            return null;
        }
        if (a.length == 1 && b.length == 1) {
            return new long[0];
        }
        if (a.length == 1) {
            long[] o = Arrays.copyOf(b, b.length - 1);
            o[o.length - 1] = b[b.length - 1];
            return o;
        }
        if (b.length == 1) {
            return Arrays.copyOf(a, a.length - 1);
        }
        long[] batchA = Arrays.copyOf(a, a.length - 2);
        long[] batchB = Arrays.copyOf(b, b.length - 2);
        long[] batch = broadcast(List.of(batchA, batchB));
        if (batch == null) {
            return null;
        }
        long[] o = Arrays.copyOf(batch, batch.length + 2);
        o[batch.length] = a[a.length - 2];
        o[batch.length + 1] = b[b.length - 1];
        return o;
    }

    private static long[] reshape(long[] x, long[] target, boolean allowZero) {
        if (target == null) {
            return null;
        }
        long[] o = target.clone();
        int free = -1;
        for (int i = 0; i < o.length; i++) {
            if (o[i] == 0 && !allowZero) {
                if (x == null || i >= x.length) {
                    return null;
                }
                o[i] = x[i];
            } else if (o[i] == -1) {
                if (free >= 0) {
                    return null;
                }
                free = i;
            } else if (o[i] < 0) {
                return null;
            }
        }
        if (free >= 0) {
            if (!known(x)) {
                o[free] = -1;
                return o;
            }
            long total = product(x, 0, x.length);
            long rest = 1;
            for (int i = 0; i < o.length; i++) {
                if (i != free) {
                    if (o[i] < 0) {
                        o[free] = -1;
                        return o;
                    }
                    rest = Math.multiplyExact(rest, o[i]);
                }
            }
            if (rest == 0 || total % rest != 0) {
                return null;
            }
            o[free] = total / rest;
        }
        return o;
    }

    private static long[] squeeze(OnnxNode n, long[] x, long[] axes) {
        if (x == null) {
            return null;
        }
        if (n.opType().equals("Unsqueeze")) {
            if (axes == null) {
                return null;
            }
            int rank = x.length + axes.length;
            boolean[] added = new boolean[rank];
            for (long a : axes) {
                int v = axis(a, rank);
                if (v < 0) {
                    return null;
                }
                added[v] = true;
            }
            long[] o = new long[rank];
            for (int i = 0, j = 0; i < rank; i++) {
                o[i] = added[i] ? 1 : x[j++];
            }
            return o;
        }
        List<Long> o = new ArrayList<>();
        boolean[] removed = new boolean[x.length];
        if (axes == null) {
            for (int i = 0; i < x.length; i++) {
                if (x[i] < 0) {
                    return null;
                }
                removed[i] = x[i] == 1;
            }
        } else {
            for (long a : axes) {
                int v = axis(a, x.length);
                if (v < 0) {
                    return null;
                }
                removed[v] = true;
            }
        }
        for (int i = 0; i < x.length; i++) {
            if (!removed[i]) {
                o.add(x[i]);
            }
        }
        return o.stream().mapToLong(Long::longValue).toArray();
    }

    private static void split(OnnxNode n, long[] x, long[] sizes, long[][] out) {
        if (x == null) {
            return;
        }
        int axis = axis(attr(n, "axis", 0), x.length);
        if (axis < 0) {
            return;
        }
        long[] s = sizes != null ? sizes : ints(n, "split", null);
        if (s == null) {
            if (x[axis] < 0 || x[axis] % out.length != 0) {
                return;
            }
            s = filled(out.length, x[axis] / out.length);
        }
        if (s.length != out.length) {
            return;
        }
        for (int k = 0; k < out.length; k++) {
            out[k] = x.clone();
            out[k][axis] = s[k];
        }
    }

    /** {starts, ends, axes (or null), steps (or null)} of a Slice node, or null when not known. */
    static long[][] sliceArrays(OnnxNode n, List<long[]> ints) {
        long[] starts;
        long[] ends;
        long[] axes;
        long[] steps = null;
        if (n.attribute("starts") != null) { // opset < 10
            starts = ints(n, "starts", null);
            ends = ints(n, "ends", null);
            axes = ints(n, "axes", null);
        } else {
            starts = in(ints, 1);
            ends = in(ints, 2);
            axes = in(ints, 3);
            steps = in(ints, 4);
        }
        if (starts == null || ends == null || starts.length != ends.length || (axes != null && axes.length != starts.length)
                || (steps != null && steps.length != starts.length)) {
            return null;
        }
        return new long[][] {starts, ends, axes, steps};
    }

    private static long[] slice(OnnxNode n, long[] x, List<long[]> ints) {
        long[][] p = sliceArrays(n, ints);
        if (x == null || p == null) {
            return null;
        }
        long[] o = x.clone();
        for (int i = 0; i < p[0].length; i++) {
            int a = p[2] == null ? i : axis(p[2][i], x.length);
            if (a < 0) {
                return null;
            }
            long step = p[3] == null ? 1 : p[3][i];
            long d = x[a];
            if (d < 0 || step == 0) {
                o[a] = -1;
                continue;
            }
            long start;
            long end;
            if (step > 0) {
                start = clamp(p[0][i], d);
                end = clamp(p[1][i], d);
                o[a] = end <= start ? 0 : (end - start + step - 1) / step;
            } else {
                start = Math.max(-1, Math.min(d - 1, p[0][i] < 0 ? p[0][i] + d : p[0][i]));
                end = Math.max(-1, Math.min(d - 1, p[1][i] < 0 ? p[1][i] + d : p[1][i]));
                o[a] = start <= end ? 0 : (start - end - step - 1) / -step;
            }
        }
        return o;
    }

    private static long[] resize(OnnxNode n, long[] x, List<long[]> ints, List<double[]> reals) {
        if (x == null) {
            return null;
        }
        boolean upsample = n.opType().equals("Upsample");
        long[] sizes = upsample ? null : in(ints, 3);
        if (sizes != null && sizes.length == x.length) {
            return sizes.clone();
        }
        double[] scales = upsample ? (reals.size() > 1 ? reals.get(1) : null) : (reals.size() > 2 ? reals.get(2) : null);
        if (scales == null && n.attribute("scales") != null && n.attribute("scales").type() == OnnxAttribute.Type.FLOATS) {
            float[] f = n.attribute("scales").asFloats();
            scales = new double[f.length];
            for (int i = 0; i < f.length; i++) {
                scales[i] = f[i];
            }
        }
        if (scales == null || scales.length != x.length) {
            return null;
        }
        long[] o = new long[x.length];
        for (int i = 0; i < x.length; i++) {
            o[i] = x[i] < 0 ? -1 : (long) Math.floor(x[i] * scales[i]);
        }
        return o;
    }

    private static long[] reduced(long[] x, long[] axes, boolean keep) {
        boolean[] r = new boolean[x.length];
        for (long a : axes) {
            int v = axis(a, x.length);
            if (v < 0) {
                return null;
            }
            r[v] = true;
        }
        List<Long> o = new ArrayList<>();
        for (int i = 0; i < x.length; i++) {
            if (!r[i]) {
                o.add(x[i]);
            } else if (keep) {
                o.add(1L);
            }
        }
        return o.stream().mapToLong(Long::longValue).toArray();
    }
}
