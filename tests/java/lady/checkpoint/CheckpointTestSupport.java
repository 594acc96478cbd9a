package lady.checkpoint;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import lady.tensor.HostTensor;
import lady.torch.TorchTensors;

/** Helpers shared by the checkpoint tests. */
final class CheckpointTestSupport {
    private CheckpointTestSupport() {}

    static Path golden(String name) {
        URL u = CheckpointTestSupport.class.getResource("/golden/" + name);
        if (u == null) {
            throw new IllegalStateException("missing test resource golden/" + name);
        }
        try {
            return Path.of(u.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** SHA-256 of a tensor's contiguous little-endian bytes (what make_golden.py records). */
    static String sha256(HostTensor t) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            if (t.byteSize() > 0) {
                ByteBuffer b = t.bytes(0, Math.toIntExact(t.byteSize()));
                md.update(b);
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The tensor's values in row-major order, as doubles. */
    static double[] values(Tensor t) {
        Tensor d = t.to(torch.ScalarType.Double).contiguous();
        double[] out = new double[(int) d.numel()];
        if (out.length > 0) {
            d.data_ptr_double().get(out);
        }
        return out;
    }

    /** The host tensor's values in row-major order, as doubles (exact for int64 through libtorch). */
    static double[] values(HostTensor t) {
        return values(TorchTensors.copy(t));
    }

    /** A zip with STORED entries, in the given order. */
    static byte[] zip(Map<String, byte[]> entries) throws IOException {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        try (ZipOutputStream z = new ZipOutputStream(bos)) {
            for (Map.Entry<String, byte[]> e : entries.entrySet()) {
                ZipEntry ze = new ZipEntry(e.getKey());
                ze.setMethod(ZipEntry.STORED);
                ze.setSize(e.getValue().length);
                CRC32 crc = new CRC32();
                crc.update(e.getValue());
                ze.setCrc(crc.getValue());
                z.putNextEntry(ze);
                z.write(e.getValue());
                z.closeEntry();
            }
        }
        return bos.toByteArray();
    }
}
