package lady.checkpoint;

import java.math.BigInteger;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.tensor.DType;
import lady.util.Text;

/**
 * A restricted unpickler for PyTorch checkpoints. It interprets the pickle opcodes that
 * {@code torch.save} emits (protocol 2, plus the protocol 3-5 forms of the same operations) into
 * inert Java values and NEVER executes anything: the only "callables" are an allow-list of globals
 * that it implements itself ({@code collections.OrderedDict}, {@code torch._utils._rebuild_tensor_v2},
 * {@code torch._utils._rebuild_parameter}, the typed {@code torch.*Storage} classes,
 * {@code torch.device}, {@code _codecs.encode}), and a few constructors of plain values it builds itself
 * ({@code builtins.set}, {@code torch.Size}, {@code functools.partial}). A global of the modules pickle payloads
 * reach for ({@code os}, {@code subprocess}, {@code builtins}, ...: {@link #PAYLOAD_MODULES}) is refused by name where
 * the file names it. Any other global is an inert reference: constructing or calling it (NEWOBJ, as
 * {@code torch.save(model)} pickles every {@code nn.Module}; REDUCE, as numpy pickles a scalar) gives a
 * {@link PObject} whose arguments and BUILD state are kept as data, never run; a whole pickled model is read as its
 * state dict ({@link #moduleStateDict}); a file that names a function and gives no state dict is refused by that
 * name ({@link #refusal}).
 *
 * <p>Values: Python None is {@code null}; bool {@link Boolean}; int {@link Long} (or
 * {@link BigInteger}); float {@link Double}; str {@link String}; bytes {@link Bytes}; tuple
 * {@link PTuple}; list {@link ArrayList}; dict and OrderedDict {@link PDict}; tensors
 * {@link TensorRef} (not loaded: the storage bytes are read later, only for tensors kept).
 *
 * <p>The interpreter is iterative (no recursion, so nesting depth cannot overflow the stack); every
 * length is checked against the bytes left, and the memo is a map (a huge memo index allocates
 * nothing).
 */
final class Unpickler {
    /** Largest pickled integer (LONG1 / LONG4 byte length). */
    static final int MAX_LONG_BYTES = 64;
    /** Highest pickle protocol accepted. */
    static final int MAX_PROTOCOL = 5;

    /** A reference to one storage record of the archive, from a persistent id. */
    record StorageRef(DType dtype, String key, long numel) {}

    /** A tensor as {@code _rebuild_tensor_v2} describes it: a strided view of a storage. */
    record TensorRef(StorageRef storage, long offset, long[] size, long[] stride) {}

    /** A Python tuple. */
    record PTuple(Object[] items) {
        int size() {
            return items.length;
        }

        Object get(int i) {
            return items[i];
        }
    }

    /** Python bytes. */
    record Bytes(byte[] value) {}

    /**
     * An object of a class Lady does not know, as NEWOBJ (or {@code copyreg._reconstructor}) made it: the class's
     * name and the state its BUILD gave (a {@link PDict} for a module's {@code __dict__}), as inert data.
     */
    static final class PObject {
        final String className;
        Object state;

        PObject(String className, Object state) {
            this.className = className;
            this.state = state;
        }
    }

    /** A Python dict or OrderedDict (keys kept in insertion order; non-scalar keys kept aside). */
    static final class PDict {
        final LinkedHashMap<Object, Object> map = new LinkedHashMap<>();
        final List<Object[]> otherKeys = new ArrayList<>();
        /** The state BUILD gave it, or null (a state dict's OrderedDict: {'_metadata': module versions}). */
        Object state;

        void put(Object k, Object v) {
            if (k == null || k instanceof String || k instanceof Long || k instanceof Boolean
                    || k instanceof Double || k instanceof BigInteger) {
                map.put(k, v);
            } else {
                otherKeys.add(new Object[] {k, v}); // never hashed: no recursion on nested keys
            }
        }
    }

    /** Resolves a persistent id (the tuple of BINPERSID) into a value. */
    @FunctionalInterface
    interface PersistentLoader {
        Object load(Object pid);
    }

    private enum Callable {
        ORDERED_DICT, REBUILD_TENSOR_V2, REBUILD_PARAMETER, REBUILD_PARAMETER_WITH_STATE, DEVICE, CODECS_ENCODE,
        /** builtins.set and frozenset: a list (never hashed). */
        SET,
        /** torch.Size: a tuple. */
        SIZE,
        /** functools.partial: an inert {@link PObject} (a module's norm_layer, never called). */
        PARTIAL,
        /** copyreg._reconstructor(cls, base, state): NEWOBJ's protocol-0/1 form. */
        RECONSTRUCTOR,
        /** Any other global outside {@link #PAYLOAD_MODULES}: an inert reference (NEWOBJ and REDUCE give inert objects). */
        INERT
    }

    /** An allowed global: either a callable we implement or a storage type. */
    record Global(String qualifiedName, Callable callable, DType storageType) {
        /** Whether it is a reference Lady does not implement, kept as data ({@link Callable#INERT}). */
        boolean inert() {
            return callable == Callable.INERT;
        }
    }

    private static final Map<String, Global> ALLOWED = new HashMap<>();

    static {
        allow("collections", "OrderedDict", Callable.ORDERED_DICT);
        allow("torch._utils", "_rebuild_tensor_v2", Callable.REBUILD_TENSOR_V2);
        allow("torch._utils", "_rebuild_parameter", Callable.REBUILD_PARAMETER);
        allow("torch._utils", "_rebuild_parameter_with_state", Callable.REBUILD_PARAMETER_WITH_STATE);
        allow("torch", "device", Callable.DEVICE);
        allow("_codecs", "encode", Callable.CODECS_ENCODE);
        allow("builtins", "set", Callable.SET);
        allow("builtins", "frozenset", Callable.SET);
        allow("__builtin__", "set", Callable.SET);
        allow("torch", "Size", Callable.SIZE);
        allow("functools", "partial", Callable.PARTIAL);
        allow("copyreg", "_reconstructor", Callable.RECONSTRUCTOR);
        allow("copy_reg", "_reconstructor", Callable.RECONSTRUCTOR);
        for (DType d : DType.values()) {
            ALLOWED.put("torch " + d.torchStorage(), new Global("torch." + d.torchStorage(), null, d));
            // saved from a GPU by PyTorch 1.6 to 1.10 (and by the legacy format): the storage's type names its device
            ALLOWED.put("torch.cuda " + d.torchStorage(), new Global("torch.cuda." + d.torchStorage(), null, d));
        }
    }

    private static void allow(String module, String name, Callable c) {
        ALLOWED.put(module + " " + name, new Global(module + "." + name, c, null));
    }

    private static final Object MARK = new Object() {
        @Override
        public String toString() {
            return "MARK";
        }
    };

    private final byte[] data;
    private final String file;
    private final PersistentLoader persistentLoader;
    private int pos;
    private int opPos;
    private final ArrayList<Object> stack = new ArrayList<>();
    private final ArrayList<Integer> marks = new ArrayList<>();
    private final HashMap<Long, Object> memo = new HashMap<>();
    /**
     * The first global the file named that is neither one Lady implements nor a class (a function such as a module's
     * activation attribute, {@code torch.nn.functional.relu}), or null. Such a reference is kept inert; if the file then
     * fails to give a state dict, it is refused by that name ({@link #refusal}).
     */
    private Global foreignFunction;

    Unpickler(byte[] data, String file, PersistentLoader persistentLoader) {
        this(data, 0, file, persistentLoader);
    }

    /** An unpickler of the pickle that starts at byte {@code start} of {@code data} (one of several in a row). */
    Unpickler(byte[] data, int start, String file, PersistentLoader persistentLoader) {
        this.data = data;
        this.pos = start;
        this.file = file;
        this.persistentLoader = persistentLoader;
    }

    /** The position after the last byte read: after {@link #load}, where the next pickle of the file starts. */
    int position() {
        return pos;
    }

    private LadyException bad(String what) {
        return LadyException.invalidInput(file + " is not a valid checkpoint: pickle byte " + opPos + ": " + what);
    }

    /** Runs the pickle program to its STOP and returns the result. */
    Object load() {
        try {
            return run();
        } catch (LadyException e) {
            throw refusal(e);
        }
    }

    /**
     * The refusal of a file that failed with {@code e}: by the name of the first function it named that Lady does not
     * implement ({@link #foreignFunction}), else {@code e}.
     */
    LadyException refusal(LadyException e) {
        return foreignFunction != null ? refused(file, foreignFunction) : e;
    }

    private Object run() {
        while (true) {
            opPos = pos;
            int op = u8();
            switch (op) {
                case 0x80 -> { // PROTO
                    int proto = u8();
                    if (proto > MAX_PROTOCOL) {
                        throw bad("unsupported pickle protocol " + proto);
                    }
                }
                case 0x95 -> need(8) /* FRAME: length, frames are just a hint */;
                case '.' -> { // STOP
                    Object v = pop();
                    if (!stack.isEmpty() || !marks.isEmpty()) {
                        throw bad("values left on the stack at STOP");
                    }
                    return v;
                }
                case '(' -> marks.add(stack.size()); // MARK
                case '0' -> pop(); // POP
                case '1' -> popMark(); // POP_MARK
                case '2' -> push(peek()); // DUP
                case 'N' -> push(null);
                case 0x88 -> push(Boolean.TRUE);
                case 0x89 -> push(Boolean.FALSE);
                case 'J' -> push((long) i32()); // BININT
                case 'K' -> push((long) u8()); // BININT1
                case 'M' -> push((long) u16()); // BININT2
                case 0x8a -> push(longBytes(u8())); // LONG1
                case 0x8b -> push(longBytes(len32())); // LONG4
                case 'I' -> push(textInt(line())); // INT (protocol 0)
                case 'L' -> push(textLong(line())); // LONG (protocol 0)
                case 'G' -> push(Double.longBitsToDouble(Long.reverseBytes(i64()))); // BINFLOAT (big-endian)
                case 'F' -> push(textFloat(line())); // FLOAT (protocol 0)
                case 'X' -> push(utf8(len32())); // BINUNICODE
                case 0x8c -> push(utf8(u8())); // SHORT_BINUNICODE
                case 0x8d -> push(utf8(len64())); // BINUNICODE8
                case 'T' -> push(latin1(len32())); // BINSTRING (Python 2 str)
                case 'U' -> push(latin1(u8())); // SHORT_BINSTRING
                case 'B' -> push(new Bytes(bytes(len32()))); // BINBYTES
                case 'C' -> push(new Bytes(bytes(u8()))); // SHORT_BINBYTES
                case 0x8e -> push(new Bytes(bytes(len64()))); // BINBYTES8
                case ')' -> push(new PTuple(new Object[0])); // EMPTY_TUPLE
                case 't' -> push(new PTuple(popMark().toArray())); // TUPLE
                case 0x85 -> push(new PTuple(new Object[] {pop()})); // TUPLE1
                case 0x86 -> { // TUPLE2
                    Object b = pop();
                    Object a = pop();
                    push(new PTuple(new Object[] {a, b}));
                }
                case 0x87 -> { // TUPLE3
                    Object c = pop();
                    Object b = pop();
                    Object a = pop();
                    push(new PTuple(new Object[] {a, b, c}));
                }
                case ']' -> push(new ArrayList<>()); // EMPTY_LIST
                case 'l' -> push(new ArrayList<>(popMark())); // LIST
                case 'a' -> { // APPEND
                    Object v = pop();
                    list(peek()).add(v);
                }
                case 'e' -> { // APPENDS
                    List<Object> items = popMark();
                    list(peek()).addAll(items);
                }
                case '}' -> push(new PDict()); // EMPTY_DICT
                case 'd' -> { // DICT
                    List<Object> items = popMark();
                    PDict d = new PDict();
                    setItems(d, items);
                    push(d);
                }
                case 's' -> { // SETITEM
                    Object v = pop();
                    Object k = pop();
                    dict(peek()).put(k, v);
                }
                case 'u' -> { // SETITEMS
                    List<Object> items = popMark();
                    setItems(dict(peek()), items);
                }
                case 0x8f -> push(new ArrayList<>()); // EMPTY_SET: kept as a list (never hashed)
                case 0x90 -> { // ADDITEMS
                    List<Object> items = popMark();
                    list(peek()).addAll(items);
                }
                case 0x91 -> push(new ArrayList<>(popMark())); // FROZENSET
                case 'p' -> memo.put(textMemoIndex(line()), peek()); // PUT
                case 'q' -> memo.put((long) u8(), peek()); // BINPUT
                case 'r' -> memo.put(u32(), peek()); // LONG_BINPUT
                case 0x94 -> memo.put((long) memo.size(), peek()); // MEMOIZE
                case 'g' -> push(memoGet(textMemoIndex(line()))); // GET
                case 'h' -> push(memoGet(u8())); // BINGET
                case 'j' -> push(memoGet(u32())); // LONG_BINGET
                case 'c' -> { // GLOBAL
                    String module = line();
                    String name = line();
                    push(global(module, name));
                }
                case 0x93 -> { // STACK_GLOBAL
                    Object name = pop();
                    Object module = pop();
                    if (!(module instanceof String m) || !(name instanceof String n)) {
                        throw bad("STACK_GLOBAL needs two strings");
                    }
                    push(global(m, n));
                }
                case 'R' -> { // REDUCE
                    Object args = pop();
                    Object f = pop();
                    push(call(f, args));
                }
                case 0x81 -> { // NEWOBJ
                    pop(); // arguments
                    push(construct(pop()));
                }
                case 0x92 -> { // NEWOBJ_EX
                    pop(); // keyword arguments
                    pop(); // arguments
                    push(construct(pop()));
                }
                case 'b' -> { // BUILD: an inert object keeps its state as data, and so does a dict (an OrderedDict's
                    // _metadata); others drop it
                    Object state = pop();
                    if (peek() instanceof PObject o) {
                        o.state = state;
                    } else if (peek() instanceof PDict d) {
                        d.state = state;
                    }
                }
                case 'Q' -> push(persistent(pop())); // BINPERSID
                case 'P' -> push(persistent(line())); // PERSID
                default -> throw bad(String.format("unsupported pickle opcode 0x%02x", op));
            }
        }
    }

    // ---- stack ----

    private void push(Object o) {
        stack.add(o);
    }

    private Object pop() {
        int floor = marks.isEmpty() ? 0 : marks.get(marks.size() - 1);
        if (stack.size() <= floor) {
            throw bad("pickle stack underflow");
        }
        return stack.remove(stack.size() - 1);
    }

    private Object peek() {
        int floor = marks.isEmpty() ? 0 : marks.get(marks.size() - 1);
        if (stack.size() <= floor) {
            throw bad("pickle stack underflow");
        }
        return stack.get(stack.size() - 1);
    }

    private List<Object> popMark() {
        if (marks.isEmpty()) {
            throw bad("no MARK on the pickle stack");
        }
        int m = marks.remove(marks.size() - 1);
        List<Object> sub = new ArrayList<>(stack.subList(m, stack.size()));
        stack.subList(m, stack.size()).clear();
        return sub;
    }

    private Object memoGet(long i) {
        Object v = memo.get(i);
        if (v == null && !memo.containsKey(i)) {
            throw bad("memo index " + i + " was never stored");
        }
        return v;
    }

    @SuppressWarnings("unchecked")
    private List<Object> list(Object o) {
        if (o instanceof ArrayList<?> l) {
            return (List<Object>) l;
        }
        throw bad("cannot append to " + describe(o));
    }

    private PDict dict(Object o) {
        if (o instanceof PDict d) {
            return d;
        }
        throw bad("cannot set items on " + describe(o));
    }

    private void setItems(PDict d, List<Object> items) {
        if (items.size() % 2 != 0) {
            throw bad("odd number of items for a dict");
        }
        for (int i = 0; i < items.size(); i += 2) {
            d.put(items.get(i), items.get(i + 1));
        }
    }

    // ---- raw reads ----

    private void need(long n) {
        if (n < 0 || n > data.length - pos) {
            throw bad("pickle data ends early (truncated or corrupt)");
        }
    }

    private int u8() {
        need(1);
        return data[pos++] & 0xFF;
    }

    private int u16() {
        need(2);
        int v = (data[pos] & 0xFF) | (data[pos + 1] & 0xFF) << 8;
        pos += 2;
        return v;
    }

    private int i32() {
        need(4);
        int v = (data[pos] & 0xFF) | (data[pos + 1] & 0xFF) << 8 | (data[pos + 2] & 0xFF) << 16 | (data[pos + 3] & 0xFF) << 24;
        pos += 4;
        return v;
    }

    private long u32() {
        return i32() & 0xFFFFFFFFL;
    }

    private long i64() {
        need(8);
        long v = 0;
        for (int i = 7; i >= 0; i--) {
            v = v << 8 | (data[pos + i] & 0xFF);
        }
        pos += 8;
        return v;
    }

    private int len32() {
        long n = u32();
        need(n);
        return (int) n;
    }

    private int len64() {
        long n = i64();
        need(n);
        return (int) n;
    }

    private byte[] bytes(int n) {
        need(n);
        byte[] b = Arrays.copyOfRange(data, pos, pos + n);
        pos += n;
        return b;
    }

    private String utf8(int n) {
        need(n);
        try {
            String s = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(data, pos, n)).toString();
            pos += n;
            return s;
        } catch (CharacterCodingException e) {
            throw bad("string is not valid UTF-8");
        }
    }

    private String latin1(int n) {
        need(n);
        String s = new String(data, pos, n, StandardCharsets.ISO_8859_1);
        pos += n;
        return s;
    }

    /** A newline-terminated ASCII line (GLOBAL, INT, ...), at most 256 characters. */
    private String line() {
        int max = Math.min(data.length, pos + 256);
        for (int i = pos; i < max; i++) {
            if (data[i] == '\n') {
                String s = new String(data, pos, i - pos, StandardCharsets.ISO_8859_1);
                pos = i + 1;
                return s;
            }
        }
        throw bad("unterminated text argument");
    }

    private Object longBytes(int n) {
        if (n > MAX_LONG_BYTES) {
            throw bad("integer of " + n + " bytes is too large");
        }
        byte[] le = bytes(n);
        if (n == 0) {
            return 0L;
        }
        byte[] be = new byte[n];
        for (int i = 0; i < n; i++) {
            be[i] = le[n - 1 - i];
        }
        BigInteger v = new BigInteger(be);
        return v.bitLength() < 64 ? (Object) v.longValue() : v;
    }

    private Object textInt(String s) {
        if (s.equals("00")) {
            return Boolean.FALSE;
        }
        if (s.equals("01")) {
            return Boolean.TRUE;
        }
        return textLong(s);
    }

    private Object textLong(String s) {
        String t = s.endsWith("L") ? s.substring(0, s.length() - 1) : s;
        try {
            BigInteger v = new BigInteger(t);
            return v.bitLength() < 64 ? (Object) v.longValue() : v;
        } catch (NumberFormatException e) {
            throw bad("bad integer '" + s + "'");
        }
    }

    private Double textFloat(String s) {
        try {
            return Double.parseDouble(s);
        } catch (NumberFormatException e) {
            throw bad("bad float '" + s + "'");
        }
    }

    private long textMemoIndex(String s) {
        try {
            return Long.parseLong(s);
        } catch (NumberFormatException e) {
            throw bad("bad memo index '" + s + "'");
        }
    }

    // ---- globals and calls ----

    /**
     * Global {@code module.name}: one Lady implements, or an inert reference, never run: a class (capitalized after any
     * leading underscores, as {@code torchvision.models.resnet.ResNet}, {@code torchvision.models.densenet._DenseBlock})
     * or anything else (a function: a module's {@code torch.nn.functional.relu}) is inert data; a file that names a
     * function and gives no state dict is refused by its name ({@link #refusal}). A global of
     * {@link #PAYLOAD_MODULES} ({@code os.system}, {@code builtins.eval}) is refused here.
     */
    private Global global(String module, String name) {
        Global g = ALLOWED.get(module + " " + name);
        if (g != null) {
            return g;
        }
        String shown = (module + "." + name).replaceAll("[^\\x20-\\x7e]", "?");
        g = new Global(shown, Callable.INERT, null);
        if (PAYLOAD_MODULES.contains(module.split("\\.", 2)[0])) { // what payloads reach for: refused at once
            throw refused(file, g);
        }
        String bare = name.replaceFirst("^_+", ""); // private classes: torchvision's _DenseBlock
        if (foreignFunction == null && (bare.isEmpty() || !Character.isUpperCase(bare.charAt(0))
                && !(module.equals("torch") && TORCH_DTYPES.contains(name)))) {
            foreignFunction = g;
        }
        return g;
    }

    /**
     * Modules whose globals are refused where the file names them, whatever it does with them: what pickle payloads
     * reach for (processes, the interpreter, files, the network, other deserializers). No model keeps them.
     */
    private static final java.util.Set<String> PAYLOAD_MODULES = java.util.Set.of("os", "posix", "nt", "posixpath",
            "ntpath", "subprocess", "_posixsubprocess", "builtins", "__builtin__", "sys", "shutil", "socket", "importlib",
            "runpy", "pickle", "_pickle", "marshal", "pty", "ctypes", "webbrowser", "code", "codeop", "io", "tempfile",
            "pathlib", "glob", "urllib", "http", "ftplib", "telnetlib", "asyncio", "multiprocessing", "threading",
            "signal", "timeit", "pdb", "bdb", "trace", "inspect", "types", "operator", "shelve", "dill");

    /** torch's dtypes by the names modules pickle them under ({@code torch.float32}). */
    private static final java.util.Set<String> TORCH_DTYPES = java.util.Set.of("float32", "float", "float64", "double",
            "float16", "half", "bfloat16", "int64", "long", "int32", "int", "int16", "short", "int8", "uint8", "bool",
            "complex64", "complex128");

    /** The refusal of global {@code g} (one Lady does not implement) where a value or a call was needed. */
    static LadyException refused(String file, Global g) {
        return LadyException.invalidInput(file + ": checkpoint refers to global '" + Text.cut(g.qualifiedName())
                + "', which is not allowed (Lady reads only tensors and plain containers and never runs code from a file)");
    }

    /** NEWOBJ of {@code cls}: an inert {@link PObject} of a global Lady does not implement; any other is refused. */
    private PObject construct(Object cls) {
        if (cls instanceof Global g && g.inert()) {
            return new PObject(g.qualifiedName(), null);
        }
        throw bad("object construction (NEWOBJ) of " + describe(cls) + " is not allowed");
    }

    private Object call(Object f, Object argsObj) {
        if (f instanceof Global g && g.inert()) { // kept as data, never called (a numpy scalar beside the weights)
            return new PObject(g.qualifiedName(), argsObj);
        }
        if (!(f instanceof Global g) || g.callable() == null) {
            throw bad("cannot call " + describe(f));
        }
        if (!(argsObj instanceof PTuple args)) {
            throw bad("arguments of " + g.qualifiedName() + " are not a tuple");
        }
        switch (g.callable()) {
            case ORDERED_DICT -> {
                PDict d = new PDict();
                if (args.size() == 1 && args.get(0) instanceof List<?> pairs) {
                    for (Object p : pairs) {
                        if (!(p instanceof PTuple kv) || kv.size() != 2) {
                            throw bad("OrderedDict items must be pairs");
                        }
                        d.put(kv.get(0), kv.get(1));
                    }
                } else if (args.size() != 0) {
                    throw bad("unexpected arguments to collections.OrderedDict");
                }
                return d;
            }
            case REBUILD_TENSOR_V2 -> {
                return rebuildTensor(args);
            }
            case REBUILD_PARAMETER, REBUILD_PARAMETER_WITH_STATE -> {
                if (args.size() < 1 || !(args.get(0) instanceof TensorRef t)) {
                    throw bad(g.qualifiedName() + " expects a tensor");
                }
                return t;
            }
            case DEVICE -> {
                if (args.size() < 1 || !(args.get(0) instanceof String s)) {
                    throw bad("torch.device expects a string");
                }
                return args.size() > 1 && args.get(1) instanceof Long i ? s + ":" + i : s;
            }
            case SET -> {
                return args.size() == 0 ? new ArrayList<>() : new ArrayList<>(Arrays.asList(items(args.get(0))));
            }
            case SIZE -> {
                return new PTuple(args.size() == 0 ? new Object[0] : items(args.get(0)));
            }
            case PARTIAL -> {
                return new PObject(g.qualifiedName(), args);
            }
            case RECONSTRUCTOR -> {
                if (args.size() < 1) {
                    throw bad("copyreg._reconstructor expects a class");
                }
                return construct(args.get(0));
            }
            case CODECS_ENCODE -> {
                if (args.size() < 1 || !(args.get(0) instanceof String s)) {
                    throw bad("_codecs.encode expects a string");
                }
                return new Bytes(s.getBytes(StandardCharsets.ISO_8859_1));
            }
            default -> throw bad("cannot call " + g.qualifiedName());
        }
    }

    /** The items of a list or tuple argument. */
    private Object[] items(Object o) {
        if (o instanceof PTuple t) {
            return t.items();
        }
        if (o instanceof List<?> l) {
            return l.toArray();
        }
        throw bad("expected a list or a tuple, got " + describe(o));
    }

    /** Modules nested deeper than this in a whole pickled model are refused. */
    static final int MAX_MODULE_DEPTH = 256;
    /**
     * Modules visited in a whole pickled model at most: a module shared by two parents is walked under each name (as
     * {@code state_dict()} does), so a few kilobytes of modules each shared twice, 30 deep, would name 2^30 tensors.
     * Real models have a few thousand at most.
     */
    static final int MAX_MODULES = 1 << 18;

    /**
     * The state dict of a whole pickled model ({@code torch.save(model)}): an {@code nn.Module} object whose state holds
     * {@code _parameters}, {@code _buffers} and {@code _modules}, walked as {@code model.state_dict()} walks it (each
     * module's parameters, then its persistent buffers, then its children, names joined with dots; None entries left
     * out). Null when {@code root} is no module.
     *
     * @throws LadyException INVALID_INPUT when a module contains itself, modules nest more than {@link #MAX_MODULE_DEPTH}
     *                       deep, or there are more than {@link #MAX_MODULES} of them (shared ones counted per name)
     */
    static PDict moduleStateDict(Object root, String file) {
        return moduleStateDict(root, file, null);
    }

    /**
     * {@link #moduleStateDict(Object, String)} of a TorchScript archive's root object when {@code script} is not null:
     * its modules are the objects of the module classes its code declares, their state their attributes; which
     * attributes are parameters and buffers comes from {@code script} ({@link ScriptClasses}), children are the
     * attributes holding such modules, in the archive's order. This is {@code torch.jit.load(file).state_dict()}.
     */
    static PDict moduleStateDict(Object root, String file, ScriptClasses script) {
        if (!(root instanceof PObject m) || moduleParts(m, script) == null) {
            return null;
        }
        PDict out = new PDict();
        addModule(m, "", out, new java.util.IdentityHashMap<>(), new int[1], file, script);
        return out;
    }

    /** A module's {@code _parameters}, {@code _buffers} and {@code _modules}, and its whole state. */
    private record ModuleParts(PDict parameters, PDict buffers, PDict modules, PDict state) {}

    /** A module's {@link ModuleParts} (of a TorchScript module when {@code script} is not null), or null when it is
     * no module. */
    private static ModuleParts moduleParts(PObject m, ScriptClasses script) {
        if (!(m.state instanceof PDict d)) {
            return null;
        }
        if (script != null) {
            ScriptClasses.Roles roles = script.get(m.className);
            if (roles == null) {
                return null;
            }
            PDict modules = new PDict();
            for (Map.Entry<Object, Object> e : d.map.entrySet()) {
                if (e.getValue() instanceof PObject child && child.state instanceof PDict
                        && script.get(child.className) != null) {
                    modules.put(e.getKey(), child);
                }
            }
            return new ModuleParts(attributes(d, roles.parameters()), attributes(d, roles.buffers()), modules, d);
        }
        if (!(d.map.get("_parameters") instanceof PDict params) || !(d.map.get("_modules") instanceof PDict modules)) {
            return null;
        }
        return new ModuleParts(params, d.map.get("_buffers") instanceof PDict b ? b : new PDict(), modules, d);
    }

    /** The attributes named {@code names} of state {@code d} that it holds, in the order of {@code names}. */
    private static PDict attributes(PDict d, List<String> names) {
        PDict out = new PDict();
        for (String n : names) {
            if (d.map.containsKey(n)) {
                out.put(n, d.map.get(n));
            }
        }
        return out;
    }

    private static void addModule(PObject m, String prefix, PDict out, java.util.IdentityHashMap<PObject, Boolean> path,
            int[] visited, String file, ScriptClasses script) {
        if (++visited[0] > MAX_MODULES) {
            throw LadyException.invalidInput(file + ": the pickled model has more than " + MAX_MODULES + " modules (counted "
                    + "under every name a shared module has)");
        }
        if (path.size() >= MAX_MODULE_DEPTH) {
            throw LadyException.invalidInput(file + ": the pickled model nests modules more than " + MAX_MODULE_DEPTH
                    + " deep");
        }
        if (path.put(m, Boolean.TRUE) != null) {
            throw LadyException.invalidInput(file + ": the pickled model's module '" + Text.cut(prefix) + "' contains "
                    + "itself");
        }
        ModuleParts parts = moduleParts(m, script);
        List<Object> nonPersistent = parts.state().map.get("_non_persistent_buffers_set") instanceof List<?> l
                ? new ArrayList<>(l) : List.of();
        for (Map.Entry<Object, Object> e : parts.parameters().map.entrySet()) {
            if (e.getValue() != null) {
                out.put(prefix + e.getKey(), e.getValue());
            }
        }
        for (Map.Entry<Object, Object> e : parts.buffers().map.entrySet()) {
            if (e.getValue() != null && !nonPersistent.contains(e.getKey())) {
                out.put(prefix + e.getKey(), e.getValue());
            }
        }
        for (Map.Entry<Object, Object> e : parts.modules().map.entrySet()) {
            if (e.getValue() instanceof PObject child && moduleParts(child, script) != null) {
                addModule(child, prefix + e.getKey() + ".", out, path, visited, file, script);
            }
        }
        path.remove(m);
    }

    private TensorRef rebuildTensor(PTuple a) {
        // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
        if (a.size() < 4 || !(a.get(0) instanceof StorageRef s)) {
            throw bad("_rebuild_tensor_v2 expects (storage, offset, size, stride, ...)");
        }
        long offset = nonNegative(a.get(1), "storage offset");
        long[] size = longs(a.get(2), "size");
        long[] stride = longs(a.get(3), "stride");
        if (size.length != stride.length) {
            throw bad("tensor has " + size.length + " sizes but " + stride.length + " strides");
        }
        return new TensorRef(s, offset, size, stride);
    }

    private long nonNegative(Object o, String what) {
        if (!(o instanceof Long v) || v < 0) {
            throw bad(what + " must be a non-negative integer, got " + describe(o));
        }
        return v;
    }

    private long[] longs(Object o, String what) {
        if (!(o instanceof PTuple t)) {
            throw bad("tensor " + what + " must be a tuple, got " + describe(o));
        }
        long[] out = new long[t.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = nonNegative(t.get(i), "tensor " + what);
        }
        return out;
    }

    private Object persistent(Object pid) {
        return persistentLoader.load(pid);
    }

    static String describe(Object o) {
        if (o == null) {
            return "None";
        }
        if (o instanceof Global g) {
            return g.qualifiedName();
        }
        if (o instanceof PObject p) {
            return "an object of class " + p.className;
        }
        if (o instanceof PTuple) {
            return "a tuple";
        }
        if (o instanceof List<?>) {
            return "a list";
        }
        if (o instanceof PDict) {
            return "a dict";
        }
        if (o instanceof TensorRef) {
            return "a tensor";
        }
        if (o instanceof StorageRef) {
            return "a storage";
        }
        if (o instanceof String s) {
            return "'" + (s.length() > 40 ? s.substring(0, 40) + "..." : s) + "'";
        }
        return o.getClass().getSimpleName() + " " + o;
    }
}
