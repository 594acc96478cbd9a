package lady.checkpoint;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

import lady.LadyException;
import lady.util.Text;

/**
 * A minimal, defensive zip reader over a {@link FileChannel}: the central directory (zip64
 * included) is parsed and checked against the file size, and entry data is located so that
 * stored (uncompressed) entries can be read in bulk straight into tensor memory. Every
 * inconsistency is an INVALID_INPUT error naming the file.
 */
final class ZipArchive {
    static final int LOCAL_HEADER_SIG = 0x04034b50;
    static final int CENTRAL_SIG = 0x02014b50;
    static final int EOCD_SIG = 0x06054b50;
    static final int ZIP64_EOCD_SIG = 0x06064b50;
    static final int ZIP64_LOCATOR_SIG = 0x07064b50;
    static final int EOCD_SIZE = 22;
    static final int LOCAL_HEADER_SIZE = 30;
    static final int CENTRAL_HEADER_SIZE = 46;
    static final int MAX_COMMENT = 0xFFFF;
    static final int METHOD_STORED = 0;
    static final int METHOD_DEFLATED = 8;
    /** Largest central directory read into memory (a state dict has a few thousand entries). */
    static final long MAX_CENTRAL_DIRECTORY = 64L << 20;

    /** One entry: where its data lies in the file. */
    record Entry(String name, int method, long crc, long compressedSize, long size, long localHeaderOffset) {}

    private final FileChannel ch;
    private final long fileSize;
    private final String file;
    private final Map<String, Entry> entries;
    private final long centralDirectoryOffset;

    private ZipArchive(FileChannel ch, String file) throws IOException {
        this.ch = ch;
        this.fileSize = ch.size();
        this.file = file;
        long[] cd = findCentralDirectory();
        this.centralDirectoryOffset = cd[0];
        this.entries = Collections.unmodifiableMap(readCentralDirectory(cd[0], cd[1], cd[2]));
    }

    static ZipArchive open(FileChannel ch, String file) throws IOException {
        return new ZipArchive(ch, file);
    }

    Map<String, Entry> entries() {
        return entries;
    }

    LadyException bad(String what) {
        return LadyException.invalidInput(file + " is not a valid checkpoint: " + what);
    }

    private ByteBuffer readAt(long pos, int len) throws IOException {
        if (pos < 0 || len < 0 || pos + len > fileSize) {
            throw bad("zip structure points outside the file (truncated?)");
        }
        ByteBuffer b = ByteBuffer.allocate(len).order(ByteOrder.LITTLE_ENDIAN);
        while (b.hasRemaining()) {
            if (ch.read(b, pos + b.position()) < 0) {
                throw bad("the file ends early (truncated?)");
            }
        }
        return b.flip();
    }

    /** {offset, size, count} of the central directory. */
    private long[] findCentralDirectory() throws IOException {
        if (fileSize < EOCD_SIZE) {
            throw bad("too short to be a zip archive (truncated?)");
        }
        int tail = (int) Math.min(fileSize, EOCD_SIZE + MAX_COMMENT);
        ByteBuffer b = readAt(fileSize - tail, tail);
        int at = -1;
        for (int i = tail - EOCD_SIZE; i >= 0; i--) {
            if (b.getInt(i) == EOCD_SIG && i + EOCD_SIZE + (b.getShort(i + 20) & 0xFFFF) <= tail) {
                at = i;
                break;
            }
        }
        if (at < 0) {
            throw bad("no zip end-of-central-directory record (truncated or not a zip file)");
        }
        long eocdPos = fileSize - tail + at;
        int disk = b.getShort(at + 4) & 0xFFFF;
        int cdDisk = b.getShort(at + 6) & 0xFFFF;
        long countHere = b.getShort(at + 8) & 0xFFFF;
        long count = b.getShort(at + 10) & 0xFFFF;
        long size = b.getInt(at + 12) & 0xFFFFFFFFL;
        long offset = b.getInt(at + 16) & 0xFFFFFFFFL;
        long limit = eocdPos;
        if ((disk != 0 && disk != 0xFFFF) || (cdDisk != 0 && cdDisk != 0xFFFF) || countHere != count) {
            throw bad("a multi-disk (split) zip archive, or an inconsistent end-of-central-directory record");
        }
        if (count == 0xFFFF || size == 0xFFFFFFFFL || offset == 0xFFFFFFFFL) {
            long count16 = count;
            long size32 = size;
            long offset32 = offset;
            if (eocdPos < 20) {
                throw bad("zip64 locator missing");
            }
            ByteBuffer loc = readAt(eocdPos - 20, 20);
            if (loc.getInt(0) != ZIP64_LOCATOR_SIG) {
                throw bad("zip64 locator missing");
            }
            long z64 = loc.getLong(8);
            ByteBuffer r = readAt(z64, 56);
            if (r.getInt(0) != ZIP64_EOCD_SIG) {
                throw bad("zip64 end-of-central-directory record missing");
            }
            count = r.getLong(32);
            size = r.getLong(40);
            offset = r.getLong(48);
            limit = z64;
            // a field of the classic record that is not the zip64 placeholder must agree with the zip64 record
            if ((count16 != 0xFFFF && count16 != count) || (size32 != 0xFFFFFFFFL && size32 != size)
                    || (offset32 != 0xFFFFFFFFL && offset32 != offset) || r.getLong(24) != count) {
                throw bad("the zip64 end-of-central-directory record disagrees with the classic one");
            }
        }
        if (offset < 0 || size < 0 || offset > limit || size > limit - offset) {
            throw bad("central directory lies outside the file (truncated?)");
        }
        if (size > MAX_CENTRAL_DIRECTORY) {
            throw bad("central directory of " + size + " bytes is too large");
        }
        if (count < 0 || count > size / CENTRAL_HEADER_SIZE) {
            throw bad("central directory claims " + count + " entries in " + size + " bytes");
        }
        return new long[] {offset, size, count};
    }

    private Map<String, Entry> readCentralDirectory(long offset, long size, long count) throws IOException {
        ByteBuffer b = readAt(offset, (int) size);
        Map<String, Entry> out = new LinkedHashMap<>();
        int p = 0;
        for (long i = 0; i < count; i++) {
            if (p + CENTRAL_HEADER_SIZE > size || b.getInt(p) != CENTRAL_SIG) {
                throw bad("corrupt central directory entry " + i);
            }
            int flags = b.getShort(p + 8) & 0xFFFF;
            int method = b.getShort(p + 10) & 0xFFFF;
            long crc = b.getInt(p + 16) & 0xFFFFFFFFL;
            long csize = b.getInt(p + 20) & 0xFFFFFFFFL;
            long usize = b.getInt(p + 24) & 0xFFFFFFFFL;
            int nameLen = b.getShort(p + 28) & 0xFFFF;
            int extraLen = b.getShort(p + 30) & 0xFFFF;
            int commentLen = b.getShort(p + 32) & 0xFFFF;
            long local = b.getInt(p + 42) & 0xFFFFFFFFL;
            int next = p + CENTRAL_HEADER_SIZE + nameLen + extraLen + commentLen;
            if (next > size) {
                throw bad("corrupt central directory entry " + i);
            }
            String name = utf8(b, p + CENTRAL_HEADER_SIZE, nameLen);
            // zip64 extended information: present fields replace the 0xFFFFFFFF placeholders in order
            int e = p + CENTRAL_HEADER_SIZE + nameLen;
            int eEnd = e + extraLen;
            while (e + 4 <= eEnd) {
                int id = b.getShort(e) & 0xFFFF;
                int len = b.getShort(e + 2) & 0xFFFF;
                if (e + 4 + len > eEnd) {
                    throw bad("corrupt extra field of entry " + Text.quote(name));
                }
                if (id == 0x0001) {
                    int q = e + 4;
                    int qEnd = q + len;
                    if (usize == 0xFFFFFFFFL) {
                        usize = long8(b, q, qEnd, name);
                        q += 8;
                    }
                    if (csize == 0xFFFFFFFFL) {
                        csize = long8(b, q, qEnd, name);
                        q += 8;
                    }
                    if (local == 0xFFFFFFFFL) {
                        local = long8(b, q, qEnd, name);
                    }
                }
                e += 4 + len;
            }
            if ((flags & 1) != 0) {
                throw bad("entry " + Text.quote(name) + " is encrypted");
            }
            if (csize < 0 || usize < 0 || local < 0 || local > centralDirectoryOffset) {
                throw bad("entry " + Text.quote(name) + " lies outside the file");
            }
            if (out.put(name, new Entry(name, method, crc, csize, usize, local)) != null) {
                throw bad("duplicate entry " + Text.quote(name));
            }
            flagsOf.put(name, flags);
            p = next;
        }
        if (p != size) {
            throw bad("the central directory holds " + (size - p) + " bytes after its " + count
                    + " entries (wrong entry count)");
        }
        checkLocalHeaders(out);
        return out;
    }

    /** Central-directory flags per entry (bit 3: sizes and CRC in a data descriptor after the data). */
    private final Map<String, Integer> flagsOf = new java.util.HashMap<>();
    /** Where each entry's data starts, from its local header (checked against the central directory). */
    private final Map<String, Long> dataOffsets = new java.util.HashMap<>();

    /**
     * Every local header must be where the central directory says, name the same entry with the same method
     * and flags, and agree on CRC and sizes (or defer them to a data descriptor that agrees); entries must not
     * overlap each other or the central directory. A file where two readers could see different contents
     * (a local header offset pointing at another entry, a descriptor with other sizes) is refused.
     */
    private void checkLocalHeaders(Map<String, Entry> entries) throws IOException {
        List<long[]> spans = new ArrayList<>();
        for (Entry en : entries.values()) {
            long start = en.localHeaderOffset();
            ByteBuffer h = readAt(start, LOCAL_HEADER_SIZE);
            if (h.getInt(0) != LOCAL_HEADER_SIG) {
                throw bad("entry " + Text.quote(en.name()) + " has no local header at the offset the central "
                        + "directory gives");
            }
            int flags = h.getShort(6) & 0xFFFF;
            int method = h.getShort(8) & 0xFFFF;
            long crc = h.getInt(14) & 0xFFFFFFFFL;
            long csize = h.getInt(18) & 0xFFFFFFFFL;
            long usize = h.getInt(22) & 0xFFFFFFFFL;
            int nameLen = h.getShort(26) & 0xFFFF;
            int extraLen = h.getShort(28) & 0xFFFF;
            String name = utf8(readAt(start + LOCAL_HEADER_SIZE, nameLen), 0, nameLen);
            if (!name.equals(en.name())) {
                throw bad("the central directory's entry " + Text.quote(en.name()) + " points at the local header of "
                        + Text.quote(name) + " (wrong local header offset)");
            }
            int cdFlags = flagsOf.get(en.name());
            if (method != en.method() || (flags & DESCRIPTOR_FLAG) != (cdFlags & DESCRIPTOR_FLAG)) {
                throw bad("entry " + Text.quote(en.name()) + ": its local header and the central directory disagree "
                        + "on the compression method or flags");
            }
            long data = start + LOCAL_HEADER_SIZE + nameLen + extraLen;
            if (data > centralDirectoryOffset || en.compressedSize() > centralDirectoryOffset - data) {
                throw bad("entry " + Text.quote(en.name()) + " extends past the end of its data (truncated?)");
            }
            long end = data + en.compressedSize();
            boolean placeholders = csize == 0xFFFFFFFFL || usize == 0xFFFFFFFFL; // zip64: sizes in the extra field
            if ((flags & DESCRIPTOR_FLAG) != 0) {
                boolean deferred = crc == 0 && csize == 0 && usize == 0;
                boolean same = crc == en.crc() && (placeholders || (csize == en.compressedSize() && usize == en.size()));
                if (!deferred && !same) {
                    throw bad("entry " + Text.quote(en.name()) + ": its local header disagrees with the central "
                            + "directory on CRC or sizes");
                }
                end = checkDescriptor(en, end);
            } else if (crc != en.crc() || (!placeholders && (csize != en.compressedSize() || usize != en.size()))) {
                throw bad("entry " + Text.quote(en.name()) + ": its local header disagrees with the central directory "
                        + "on CRC or sizes");
            }
            dataOffsets.put(en.name(), data);
            spans.add(new long[] {start, end});
        }
        spans.sort((a, b) -> Long.compare(a[0], b[0]));
        for (int i = 1; i < spans.size(); i++) {
            if (spans.get(i)[0] < spans.get(i - 1)[1]) {
                throw bad("two entries overlap in the file");
            }
        }
    }

    /** Local header flag bit 3: CRC and sizes follow the data in a data descriptor. */
    static final int DESCRIPTOR_FLAG = 1 << 3;
    private static final int DESCRIPTOR_SIG = 0x08074b50;

    /** The data descriptor after {@code en}'s data (at {@code at}) must repeat the central directory's CRC and
     * sizes (with or without its optional signature, 4- or 8-byte sizes); returns where it ends. */
    private long checkDescriptor(Entry en, long at) throws IOException {
        int avail = (int) Math.max(0, Math.min(24, centralDirectoryOffset - at));
        ByteBuffer d = readAt(at, avail);
        for (int sig = 0; sig <= 4; sig += 4) {
            if (sig == 4 && (avail < 4 || d.getInt(0) != DESCRIPTOR_SIG)) {
                break;
            }
            for (int width = 4; width <= 8; width += 4) {
                int len = sig + 4 + 2 * width;
                if (len > avail) {
                    continue;
                }
                long crc = d.getInt(sig) & 0xFFFFFFFFL;
                long csize = width == 4 ? d.getInt(sig + 4) & 0xFFFFFFFFL : d.getLong(sig + 4);
                long usize = width == 4 ? d.getInt(sig + 8) & 0xFFFFFFFFL : d.getLong(sig + 12);
                if (crc == en.crc() && csize == en.compressedSize() && usize == en.size()) {
                    return at + len;
                }
            }
        }
        throw bad("entry " + Text.quote(en.name()) + " has no data descriptor agreeing with the central directory");
    }


    private long long8(ByteBuffer b, int q, int qEnd, String name) {
        if (q + 8 > qEnd) {
            throw bad("corrupt zip64 field of entry " + Text.quote(name));
        }
        return b.getLong(q);
    }

    private String utf8(ByteBuffer b, int pos, int len) {
        ByteBuffer s = b.duplicate().position(pos).limit(pos + len);
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .decode(s).toString();
        } catch (CharacterCodingException e) {
            throw bad("an entry name is not valid UTF-8");
        }
    }

    /** File offset of the entry's data (its local header was checked when the archive was opened). */
    long dataOffset(Entry en) {
        Long data = dataOffsets.get(en.name());
        if (data == null) {
            throw bad("no entry " + Text.quote(en.name()));
        }
        return data;
    }

    /** The whole entry in memory (stored or deflated), at most {@code maxBytes}; CRC checked. */
    byte[] readSmall(Entry en, long maxBytes) throws IOException {
        if (en.size() > maxBytes) {
            throw bad("entry " + Text.quote(en.name()) + " is " + en.size() + " bytes, more than the limit of " + maxBytes);
        }
        long data = dataOffset(en);
        byte[] out;
        if (en.method() == METHOD_STORED) {
            if (en.compressedSize() != en.size()) {
                throw bad("entry " + Text.quote(en.name()) + " has inconsistent sizes");
            }
            ByteBuffer b = readAt(data, (int) en.size());
            out = new byte[b.remaining()];
            b.get(out);
        } else if (en.method() == METHOD_DEFLATED) {
            if (en.compressedSize() > maxBytes) {
                throw bad("entry " + Text.quote(en.name()) + " is too large");
            }
            ByteBuffer b = readAt(data, (int) en.compressedSize());
            Inflater inf = new Inflater(true);
            try {
                inf.setInput(b);
                out = new byte[(int) en.size()];
                int n = 0;
                while (n < out.length) {
                    int r = inf.inflate(out, n, out.length - n);
                    if (r == 0 && (inf.finished() || inf.needsInput() || inf.needsDictionary())) {
                        break;
                    }
                    n += r;
                }
                if (n != out.length) {
                    throw bad("entry " + Text.quote(en.name()) + " decompresses to fewer bytes than declared");
                }
            } catch (DataFormatException e) {
                throw bad("entry " + Text.quote(en.name()) + " is corrupt: " + e.getMessage());
            } finally {
                inf.end();
            }
        } else {
            throw bad("entry " + Text.quote(en.name()) + " uses unsupported zip compression method " + en.method());
        }
        CRC32 crc = new CRC32();
        crc.update(out);
        if (crc.getValue() != en.crc()) {
            throw bad("entry " + Text.quote(en.name()) + " fails its CRC check (corrupt file)");
        }
        return out;
    }

    /** Names of all entries, in central directory order. */
    List<String> names() {
        return new ArrayList<>(entries.keySet());
    }
}
