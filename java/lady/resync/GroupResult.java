package lady.resync;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The resync of one permutation group.
 *
 * @param name           group name
 * @param size           neurons N
 * @param producers      producer weights whose rows were compared (in the group's last solve)
 * @param match          match[i] = index, in the suspect, of the neuron that plays reference neuron i
 *                       (method.md section 2); applying it to the suspect restores the reference order
 * @param duplicates     suspect neurons chosen more than once (argmax only; 0 for assignment)
 * @param minMargin      smallest confidence margin (best minus second-best similarity of a reference neuron's row)
 * @param medianMargin   median margin
 * @param lowMargin      neurons whose margin is below {@link ResyncOptions#marginThreshold()}
 * @param zeroRows       suspect neurons whose compared rows are entirely zero (pruned away): they have no
 *                       direction and cannot be matched by cosine; they are matched last, arbitrarily
 * @param integrityFlags reference neurons whose matched rows' L2 norm ratio (suspect / reference) is
 *                       outside [1 / r, r] with r = {@link ResyncOptions#integrityRatio()}: a rescaling attack
 * @param integrityMaxRatio the largest deviation seen by the integrity check: max over matched neurons of
 *                       max(q, 1 / q), q = the neuron's norm ratio over the group's median ratio (1 when every
 *                       row changed alike; NaN when no row could be compared)
 * @param psi            % of neurons whose recovered position is right: match[i] == inv(p)[i]; null without a secret
 * @param psiPaper       the paper's count for argmax: origin[j] = argmax_i S[i, j] compared with p[j]; null without a secret
 * @param prefiltered    the match came from the random-projection prefilter ({@link Prefilter}; the dense
 *                       method's match and margins) instead of the dense similarity
 * @param evidence       the contributions of the group's last solve, with their weights ({@link Combination})
 * @param passes         how often the group was solved (1, or more when its evidence changed after its first solve)
 * @param marginBounds   reference neurons whose margin is a lower bound, not the exact value (0: every margin exact):
 *                       the prefilter's bounds with {@link Margins#BOUND}, a kept order's certificate bounds; with
 *                       the weight signal never below {@link ResyncOptions#marginThreshold()}, so {@code lowMargin}
 *                       is exact
 * @param minMarginExact whether {@code minMargin} is the exact minimum (its row's margin is exact); else a lower bound
 * @param unrelated      the group showed no relation to the reference ({@link RelationScreen}): not matched, kept in
 *                       the suspect's order ({@code match} the identity); no margins (NaN), no duplicates, no
 *                       integrity check
 */
public record GroupResult(String name, long size, List<String> producers, long[] match, int duplicates,
        double minMargin, double medianMargin, int lowMargin, int zeroRows, List<Integer> integrityFlags,
        double integrityMaxRatio, Double psi, Double psiPaper, boolean prefiltered, List<EvidenceUse> evidence,
        int passes, int marginBounds, boolean minMarginExact, boolean unrelated) {
    public GroupResult {
        producers = List.copyOf(producers);
        evidence = List.copyOf(evidence);
    }

    /** The JSON form of the report (stable field names). */
    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", name);
        m.put("size", size);
        m.put("producers", producers);
        m.put("duplicates", duplicates);
        if (unrelated) { // not matched: no margin exists
            m.put("unrelated", true);
        }
        m.put("min_margin", unrelated ? null : minMargin);
        m.put("median_margin", unrelated ? null : medianMargin);
        m.put("low_margin", unrelated ? null : lowMargin);
        m.put("margin_bounds", marginBounds); // rows whose margin is a lower bound; min and median are bounds if > 0
        m.put("min_margin_exact", minMarginExact);
        m.put("zero_rows", zeroRows);
        m.put("integrity_flags", unrelated ? null : integrityFlags); // no match: nothing was checked
        m.put("integrity_max_ratio", Double.isNaN(integrityMaxRatio) ? null : integrityMaxRatio);
        if (psi != null) {
            m.put("psi", psi);
        }
        if (psiPaper != null) {
            m.put("psi_paper", psiPaper);
        }
        m.put("prefiltered", prefiltered);
        m.put("passes", passes);
        m.put("evidence", evidence.stream().map(EvidenceUse::toJson).toList());
        m.put("match", match);
        return m;
    }
}
