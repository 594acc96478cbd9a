package lady.permutation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;

import lady.LadyException;
import lady.report.Json;

/** The Permutation value type: validation, inverse, composition order, seeded draws, JSON form. */
class PermutationTest {

    /** Applies p to an array of values the method.md way: new j is old p[j]. */
    static int[] applyTo(Permutation p, int[] x) {
        int[] y = new int[x.length];
        for (int j = 0; j < x.length; j++) {
            y[j] = x[p.get(j)];
        }
        return y;
    }

    @Test
    void inverseAfterPermutationRestores() {
        for (long seed = 0; seed < 20; seed++) {
            Permutation p = Permutation.random(37, seed);
            Permutation q = p.inverse();
            int[] x = Permutation.random(37, seed + 100).toArray();
            assertArrayEquals(x, applyTo(q, applyTo(p, x)));
            for (int j = 0; j < 37; j++) {
                assertEquals(j, q.get(p.get(j)), "q[p[j]] = j");
            }
            assertTrue(p.then(q).isIdentity());
            assertTrue(q.then(p).isIdentity());
            assertEquals(p, q.inverse());
        }
    }

    @Test
    void composeMeansApplyThisThenNext() {
        Permutation a = Permutation.random(50, 1), b = Permutation.random(50, 2);
        int[] x = Permutation.random(50, 3).toArray();
        assertArrayEquals(applyTo(b, applyTo(a, x)), applyTo(a.then(b), x));
        assertNotEquals(a.then(b), b.then(a), "composition is not commutative here");
        assertEquals(Permutation.identity(50).then(a), a);
    }

    @Test
    void invalidArraysAreRefusedWithClearMessages() {
        LadyException dup = assertThrows(LadyException.class, () -> Permutation.of(0, 2, 2));
        assertTrue(dup.getMessage().contains("index 2 appears twice"), dup.getMessage());
        LadyException out = assertThrows(LadyException.class, () -> Permutation.of(0, 3, 1));
        assertTrue(out.getMessage().contains("outside 0..2"), out.getMessage());
        assertThrows(LadyException.class, () -> Permutation.of(new long[] {-1, 0}));
        assertThrows(LadyException.class, () -> Permutation.of((int[]) null));
        assertThrows(LadyException.class, () -> Permutation.of(1, 0).then(Permutation.identity(3)));
        int[] src = {1, 0};
        Permutation p = Permutation.of(src);
        src[0] = 0; // the value is immutable: its input array was copied
        assertEquals(1, p.get(0));
    }

    @Test
    void randomIsAPureFunctionOfTheSeed() {
        assertEquals(Permutation.random(1000, 7), Permutation.random(1000, 7));
        assertNotEquals(Permutation.random(1000, 7), Permutation.random(1000, 8));
        // pinned: the same seed gives the same permutation on every machine (SplittableRandom is specified)
        assertEquals(List.of(0, 3, 4, 2, 1), Permutation.random(5, 7).toJson());
    }

    @Test
    void jsonRoundTrip() {
        Permutation p = Permutation.random(64, 11);
        Object json = Json.parse(Json.write(p.toJson()));
        assertEquals(p, Permutation.fromJson(json, "test"));
        LadyException bad = assertThrows(LadyException.class, () -> Permutation.fromJson(Json.parse("[0, 0]"), "group 'x'"));
        assertTrue(bad.getMessage().startsWith("group 'x': "), bad.getMessage());
        assertThrows(LadyException.class, () -> Permutation.fromJson(Json.parse("[0, 1.5]"), "g"));
    }
}
