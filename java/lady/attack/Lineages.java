package lady.attack;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

import lady.LadyException;
import lady.permutation.Lineage;

/**
 * What the structural attacks of one chain did to each group so far (a mutable record shared by the chain's
 * {@link AttackContext}): per group, the {@link Lineage} of its neurons. The owner's secret is written from it.
 */
public final class Lineages {
    private final Map<String, Lineage> byGroup = new LinkedHashMap<>();

    /** Group {@code name}'s lineage, the identity of {@code currentSize} when no attack touched it yet. */
    public Lineage get(String name, int currentSize) {
        Lineage l = byGroup.get(name);
        if (l == null) {
            return Lineage.identity(currentSize);
        }
        if (l.size() != currentSize) {
            throw new LadyException(LadyException.Kind.INTERNAL, "group '" + name + "' has " + currentSize
                    + " neurons but its lineage " + l.size());
        }
        return l;
    }

    void put(String name, Lineage l) {
        byGroup.put(name, l);
    }

    /** Every touched group's lineage, in the order they were first touched. */
    public Map<String, Lineage> all() {
        return Collections.unmodifiableMap(byGroup);
    }

    /** {neurons before the attacks, neurons after them}, summed over the touched groups. */
    public long[] widths() {
        long before = 0;
        long after = 0;
        for (Lineage l : byGroup.values()) {
            before += l.originalSize();
            after += l.size();
        }
        return new long[] {before, after};
    }

    public boolean isEmpty() {
        return byGroup.isEmpty();
    }
}
