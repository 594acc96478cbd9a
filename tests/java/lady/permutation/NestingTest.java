package lady.permutation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.junit.jupiter.api.Test;

import lady.LadyException;

/**
 * Nested groups on a hand-written spec of one grouped-query attention layer (2 KV heads of 2 dims, 2 query
 * heads each): outer group and position, and the secret in the
 * resync's frame, checked against what the composed permutation does to the tensors' indices.
 */
public class NestingTest {
    static final long KV = 2, REP = 2, HD = 2;

    /** kv_heads (k rows, q rows of the group, o columns), q_heads.g, v_dims.g; tensor sizes in a map. */
    public static PermutationSpec spec() {
        List<Group> groups = new java.util.ArrayList<>();
        groups.add(new Group("kv", KV, List.of(new Member("q", 0, 0, REP * HD, Role.PRODUCER_WEIGHT),
                new Member("k", 0, 0, HD, Role.PRODUCER_WEIGHT), new Member("v", 0, 0, HD, Role.PRODUCER_WEIGHT),
                new Member("o", 1, 0, REP * HD, Role.CONSUMER_WEIGHT))));
        for (long g = 0; g < KV; g++) {
            groups.add(new Group("q" + g, REP, List.of(new Member("q", 0, g * REP * HD, HD, Role.PRODUCER_WEIGHT),
                    new Member("o", 1, g * REP * HD, HD, Role.CONSUMER_WEIGHT))));
        }
        for (long g = 0; g < KV; g++) {
            List<Member> ms = new java.util.ArrayList<>(List.of(new Member("v", 0, g * HD, 1, Role.PRODUCER_WEIGHT)));
            for (long r = 0; r < REP; r++) {
                ms.add(new Member("o", 1, (g * REP + r) * HD, 1, Role.CONSUMER_WEIGHT));
            }
            groups.add(new Group("v" + g, HD, ms));
        }
        return new PermutationSpec("gqa", groups, FIXED);
    }

    /** The axes no group of this layer moves (the stream's, here). */
    static final Set<String> FIXED = Set.of("q[1]", "k[1]", "v[1]", "o[0]");

    public static Map<String, long[]> shapes() {
        return Map.of("q", new long[] {KV * REP * HD, 3}, "k", new long[] {KV * HD, 3}, "v", new long[] {KV * HD, 3},
                "o", new long[] {3, KV * REP * HD});
    }

    @Test
    void innerGroupsKnowTheirOuterGroupAndPosition() {
        Nesting n = Nesting.of(SpecValidator.validate(spec(), shapes()));
        assertEquals(Map.of("q0", "kv", "q1", "kv", "v0", "kv", "v1", "kv"), n.outers());
        assertEquals(1, n.position("q1"));
        assertEquals(0, n.position("v0"));
        assertNull(n.outer("kv"));
    }

    @Test
    void anInnerGroupListedBeforeItsOuterGroupIsRefused() {
        List<Group> g = new java.util.ArrayList<>(spec().groups());
        g.add(0, g.remove(1)); // q0 first
        LadyException e = assertThrows(LadyException.class,
                () -> SpecValidator.validate(new PermutationSpec("gqa", g, FIXED), shapes()));
        assertTrue(e.getMessage().contains("list the outer group first"), e.getMessage());
    }

    /**
     * The frame, from first principles: apply the secret with Permuter's composition to the q rows' and v
     * rows' indices, undo the outer group with inv(p), and read which inner permutation is left at each
     * position: it must be the one referenceFrame names.
     */
    @Test
    void theResyncFrameIsWhatIsLeftAfterTheOuterGroupIsUndone() {
        PermutationSpec spec = spec();
        Map<String, Permutation> perms = new LinkedHashMap<>();
        perms.put("kv", Permutation.of(new long[] {1, 0}));
        perms.put("q0", Permutation.of(new long[] {1, 0}));
        // q1 left in place: its sibling's secret still moves position 1 after the KV heads are undone
        perms.put("v0", Permutation.of(new long[] {1, 0}));
        perms.put("v1", Permutation.of(new long[] {0, 1}));
        Map<String, long[]> secret = Permuter.indices(perms);
        Map<String, long[]> frame = Nesting.of(spec).referenceFrame(secret, null);
        // the composed map of q's rows (new row -> old row) and v's rows, then the outer group undone
        long[] q = composed(spec, perms, "q", KV * REP * HD);
        long[] v = composed(spec, perms, "v", KV * HD);
        long[] undo = perms.get("kv").inverse().longIndices();
        for (int i = 0; i < KV; i++) {
            long[] qLeft = new long[(int) REP];
            for (int r = 0; r < REP; r++) { // query head r of the block now at position i: original head of block i
                long row = q[(int) ((undo[i] * REP + r) * HD)];
                assertEquals(i, row / (REP * HD), "block " + i + " holds its own KV group after the undo");
                qLeft[r] = (row % (REP * HD)) / HD;
            }
            long[] expect = frame.getOrDefault("q" + i, new long[] {0, 1});
            assertArrayEquals(expect, qLeft, "q" + i);
            long[] vLeft = new long[(int) HD];
            for (int t = 0; t < HD; t++) {
                vLeft[t] = v[(int) (undo[i] * HD + t)] % HD;
            }
            assertArrayEquals(frame.get("v" + i), vLeft, "v" + i);
        }
        assertArrayEquals(new long[] {1, 0}, frame.get("q1"), "q1 takes q0's secret: position 0 moved to 1");
        assertArrayEquals(new long[] {0, 1}, frame.get("q0"), "q0 takes q1's secret: none, the identity");
        // a resync that leaves the outer group alone keeps the attacker's frame
        assertArrayEquals(secret.get("q0"), Nesting.of(spec).referenceFrame(secret, Set.of("q0", "q1")).get("q0"));
    }

    /** The full index map of {@code tensor}'s axis 0 after {@code perms} (Permuter's composition, spec order). */
    private static long[] composed(PermutationSpec spec, Map<String, Permutation> perms, String tensor, long size) {
        lady.checkpoint.StateDict sd = new lady.checkpoint.StateDict();
        shapes().forEach((name, shape) -> {
            lady.tensor.HostTensor t = lady.tensor.HostTensor.allocate(lady.tensor.DType.FLOAT32, shape);
            float[] vals = new float[(int) t.numel()];
            for (int i = 0; i < vals.length; i++) {
                vals[i] = i / (int) shape[1]; // the row index, in every column
            }
            t.writeFloats(vals);
            sd.put(name, t);
        });
        Permuter.applyInPlace(sd, spec, perms, lady.kernels.Backend.CPU);
        float[] after = sd.get(tensor).readFloats();
        long[] map = new long[(int) size];
        for (int i = 0; i < size; i++) {
            map[i] = (long) after[i * 3];
        }
        return map;
    }
}
