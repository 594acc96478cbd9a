package lady.resync;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The result of a resync: one {@link GroupResult} per group, in order, and the overall figures.
 *
 * @param method  the matching method
 * @param groups  per-group results
 * @param verdict whether the suspect is derived from the reference, with its p-value ({@link Verdict})
 * @param seconds wall time of the resync
 * @param cpuSeconds CPU time of the process during the resync (every thread, user and system: what the resync cost
 *                   whatever else the machine runs), NaN when the platform does not tell
 * @param margins how the confidence margins were computed, and why ({@link MarginsChoice})
 */
public record ResyncReport(Method method, List<GroupResult> groups, Verdict verdict, double seconds,
        double cpuSeconds, MarginsChoice margins) {
    public ResyncReport {
        groups = List.copyOf(groups);
    }

    /** The same report with verdict {@code v}. */
    public ResyncReport withVerdict(Verdict v) {
        return new ResyncReport(method, groups, v, seconds, cpuSeconds, margins);
    }

    /** CPU time of this process so far (every thread), in seconds; NaN when the platform does not tell. */
    static double processCpuSeconds() {
        if (java.lang.management.ManagementFactory.getOperatingSystemMXBean()
                instanceof com.sun.management.OperatingSystemMXBean os) {
            long ns = os.getProcessCpuTime();
            return ns < 0 ? Double.NaN : ns / 1e9;
        }
        return Double.NaN;
    }

    /** Psi over the whole network, weighted by neurons; null when no group has a Psi. */
    public Double psi() {
        long right = 0;
        long total = 0;
        double acc = 0;
        for (GroupResult g : groups) {
            if (g.psi() != null) {
                acc += g.psi() * g.size();
                total += g.size();
                right++;
            }
        }
        return right == 0 ? null : acc / total;
    }

    /** Total argmax duplicates over every group. */
    public int duplicates() {
        return groups.stream().mapToInt(GroupResult::duplicates).sum();
    }

    /** Neurons flagged by the integrity check, over every group. */
    public int integrityFlags() {
        return groups.stream().mapToInt(g -> g.integrityFlags().size()).sum();
    }

    /** The largest relative norm ratio the integrity check saw in any group; NaN when no group compared a row. */
    public double integrityMaxRatio() {
        return groups.stream().mapToDouble(GroupResult::integrityMaxRatio).filter(v -> !Double.isNaN(v)).max()
                .orElse(Double.NaN);
    }

    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("method", method);
        m.put("seconds", seconds);
        if (!Double.isNaN(cpuSeconds)) {
            m.put("cpu_seconds", cpuSeconds);
        }
        m.putAll(margins.toJson());
        m.put("psi", psi());
        m.put("duplicates", duplicates());
        m.put("verdict", verdict.toJson());
        List<Object> gs = new ArrayList<>();
        groups.forEach(g -> gs.add(g.toJson()));
        m.put("groups", gs);
        return m;
    }
}
