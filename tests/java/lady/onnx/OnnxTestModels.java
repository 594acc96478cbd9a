package lady.onnx;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

import com.google.protobuf.ByteString;

import lady.onnx.proto.Onnx.AttributeProto;
import lady.onnx.proto.Onnx.GraphProto;
import lady.onnx.proto.Onnx.ModelProto;
import lady.onnx.proto.Onnx.NodeProto;
import lady.onnx.proto.Onnx.OperatorSetIdProto;
import lady.onnx.proto.Onnx.StringStringEntryProto;
import lady.onnx.proto.Onnx.TensorProto;
import lady.onnx.proto.Onnx.TensorShapeProto;
import lady.onnx.proto.Onnx.TypeProto;
import lady.onnx.proto.Onnx.ValueInfoProto;

/**
 * Small ONNX models built in Java with the schema classes, so that the reader, the writer and ONNX Runtime
 * are tested without Python. {@link #classifier} is a two-layer perceptron on 3 x 2 x 2 inputs,
 *
 * <pre>  logits = Gemm(Relu(Gemm(Flatten(x), w1, b1, transB=1)), w2', b2, transB=1),  w2' = Identity(Identity(w2))</pre>
 *
 * whose initializers use every storage form: w1 in raw_data, b1 in float_data, w2 (reached through a chain
 * of two Identity aliases, as PyTorch's exporter shares equal initializers) in raw_data, b2 in an external
 * file (after 8 bytes of other data), and three initializers no node reads: int64 steps in int64_data, a
 * float16 pair in int32_data, and a uint16 pair (no libtorch type) in raw_data.
 */
final class OnnxTestModels {
    private OnnxTestModels() {}

    static final int CHANNELS = 3;
    static final int SIDE = 2;
    static final int FEATURES = CHANNELS * SIDE * SIDE;
    static final int HIDDEN = 4;
    static final int CLASSES = 3;
    static final String EXTERNAL_FILE = "weights.bin";
    static final long EXTERNAL_OFFSET = 8;
    static final long[] STEPS = {3, -1, 1L << 40};
    /** float16 bit patterns of 1.0 and -2.0. */
    static final short[] HALF = {(short) 0x3c00, (short) 0xc000};
    static final short[] UINT16 = {7, (short) 65535};

    /** The weights of {@link #classifier}, drawn from a seed. */
    record Weights(float[] w1, float[] b1, float[] w2, float[] b2) {
        static Weights draw(long seed) {
            SplittableRandom r = new SplittableRandom(seed);
            return new Weights(uniform(r, HIDDEN * FEATURES), uniform(r, HIDDEN), uniform(r, CLASSES * HIDDEN),
                    uniform(r, CLASSES));
        }

        /** What the model computes, in plain Java: {@code n} rows of {@link #FEATURES} in, n x CLASSES out. */
        float[] logits(float[] x, int n) {
            float[] out = new float[n * CLASSES];
            for (int i = 0; i < n; i++) {
                float[] h = new float[HIDDEN];
                for (int j = 0; j < HIDDEN; j++) {
                    double s = b1[j];
                    for (int k = 0; k < FEATURES; k++) {
                        s += (double) x[i * FEATURES + k] * w1[j * FEATURES + k];
                    }
                    h[j] = (float) Math.max(0, s);
                }
                for (int c = 0; c < CLASSES; c++) {
                    double s = b2[c];
                    for (int j = 0; j < HIDDEN; j++) {
                        s += (double) h[j] * w2[c * HIDDEN + j];
                    }
                    out[i * CLASSES + c] = (float) s;
                }
            }
            return out;
        }
    }

    private static float[] uniform(SplittableRandom r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (r.nextDouble() * 2 - 1);
        }
        return v;
    }

    /**
     * Writes {@link #classifier} as {@code dir/name} (and its external data file {@link #EXTERNAL_FILE}) and
     * returns the model's path. {@code batch} 0: dynamic batch named "batch".
     */
    static Path writeClassifier(Path dir, String name, Weights w, int batch) throws IOException {
        ByteBuffer ext = ByteBuffer.allocate((int) EXTERNAL_OFFSET + 4 * CLASSES).order(ByteOrder.LITTLE_ENDIAN);
        ext.putLong(0x5eed5eedL);
        for (float v : w.b2()) {
            ext.putFloat(v);
        }
        Files.write(dir.resolve(EXTERNAL_FILE), ext.array());
        Path p = dir.resolve(name);
        Files.write(p, classifier(w, batch).toByteArray());
        return p;
    }

    static ModelProto classifier(Weights w, int batch) {
        TensorProto.Builder b1 = TensorProto.newBuilder().setName("b1").setDataType(TensorProto.DataType.FLOAT_VALUE)
                .addDims(HIDDEN);
        for (float v : w.b1()) {
            b1.addFloatData(v);
        }
        TensorProto b2 = TensorProto.newBuilder().setName("b2").setDataType(TensorProto.DataType.FLOAT_VALUE)
                .addDims(CLASSES).setDataLocation(TensorProto.DataLocation.EXTERNAL)
                .addExternalData(entry("location", EXTERNAL_FILE))
                .addExternalData(entry("offset", Long.toString(EXTERNAL_OFFSET)))
                .addExternalData(entry("length", Long.toString(4L * CLASSES))).build();
        TensorProto.Builder steps = TensorProto.newBuilder().setName("steps").setDataType(TensorProto.DataType.INT64_VALUE)
                .addDims(STEPS.length);
        for (long v : STEPS) {
            steps.addInt64Data(v);
        }
        TensorProto.Builder half = TensorProto.newBuilder().setName("half").setDataType(TensorProto.DataType.FLOAT16_VALUE)
                .addDims(HALF.length);
        for (short v : HALF) {
            half.addInt32Data(v & 0xffff);
        }
        ByteBuffer u16 = ByteBuffer.allocate(2 * UINT16.length).order(ByteOrder.LITTLE_ENDIAN);
        for (short v : UINT16) {
            u16.putShort(v);
        }
        GraphProto g = GraphProto.newBuilder().setName("mlp")
                .addNode(node("Flatten", "flatten", new String[] {"x"}, new String[] {"flat"}, intAttr("axis", 1)))
                .addNode(node("Gemm", "fc1", new String[] {"flat", "w1", "b1"}, new String[] {"h"},
                        intAttr("transB", 1), AttributeProto.newBuilder().setName("alpha")
                                .setType(AttributeProto.AttributeType.FLOAT).setF(1.0f).build()))
                .addNode(node("Relu", "relu", new String[] {"h"}, new String[] {"r"}))
                .addNode(node("Identity", "share1", new String[] {"w2"}, new String[] {"w2_alias"}))
                .addNode(node("Identity", "share2", new String[] {"w2_alias"}, new String[] {"w2_alias2"}))
                .addNode(node("Gemm", "fc2", new String[] {"r", "w2_alias2", "b2"}, new String[] {"logits"},
                        intAttr("transB", 1)))
                .addInitializer(floats("w1", w.w1(), HIDDEN, FEATURES))
                .addInitializer(b1)
                .addInitializer(floats("w2", w.w2(), CLASSES, HIDDEN))
                .addInitializer(b2)
                .addInitializer(steps)
                .addInitializer(half)
                .addInitializer(TensorProto.newBuilder().setName("u16").setDataType(TensorProto.DataType.UINT16_VALUE)
                        .addDims(UINT16.length).setRawData(ByteString.copyFrom(u16.array())))
                .addInput(value("x", batch, CHANNELS, SIDE, SIDE))
                .addOutput(value("logits", batch, CLASSES))
                .addValueInfo(value("h", batch, HIDDEN))
                .build();
        return model(g);
    }

    static ModelProto model(GraphProto g) {
        return ModelProto.newBuilder().setIrVersion(8).setProducerName("lady-tests").setProducerVersion("1")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(17))
                .addMetadataProps(entry("owner", "lady"))
                .setGraph(g).build();
    }

    static TensorProto floats(String name, float[] v, long... dims) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) {
            b.putFloat(f);
        }
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(TensorProto.DataType.FLOAT_VALUE)
                .setRawData(ByteString.copyFrom(b.array()));
        for (long d : dims) {
            t.addDims(d);
        }
        return t.build();
    }

    static NodeProto node(String op, String name, String[] in, String[] out, AttributeProto... attrs) {
        NodeProto.Builder n = NodeProto.newBuilder().setOpType(op).setName(name);
        for (String s : in) {
            n.addInput(s);
        }
        for (String s : out) {
            n.addOutput(s);
        }
        for (AttributeProto a : attrs) {
            n.addAttribute(a);
        }
        return n.build();
    }

    /** An INTS attribute (a Transpose's perm). */
    static AttributeProto ints(String name, long... v) {
        AttributeProto.Builder a = AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
        for (long x : v) {
            a.addInts(x);
        }
        return a.build();
    }

    /** A 1-D INT64 initializer (a Reshape's shape, axes). */
    static TensorProto longs(String name, long... v) {
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(TensorProto.DataType.INT64_VALUE)
                .addDims(v.length);
        for (long x : v) {
            t.addInt64Data(x);
        }
        return t.build();
    }

    static AttributeProto intAttr(String name, long v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(v).build();
    }

    /** A float tensor value; dimension 0 is the symbolic "batch" when {@code batch} is 0. */
    static ValueInfoProto value(String name, int batch, long... rest) {
        TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
        s.addDim(batch == 0 ? TensorShapeProto.Dimension.newBuilder().setDimParam("batch")
                : TensorShapeProto.Dimension.newBuilder().setDimValue(batch));
        for (long d : rest) {
            s.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(d));
        }
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(
                TypeProto.Tensor.newBuilder().setElemType(TensorProto.DataType.FLOAT_VALUE).setShape(s))).build();
    }

    static StringStringEntryProto entry(String k, String v) {
        return StringStringEntryProto.newBuilder().setKey(k).setValue(v).build();
    }
}
