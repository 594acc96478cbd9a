package lady.attack;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.util.Seeds;

/**
 * Parses attack specs and applies chains of attacks.
 *
 * <p>Syntax: {@code KIND:LEVEL[,KIND:LEVEL...]} with KIND one of {@code noise:OMEGA},
 * {@code finetune:EPOCHS}, {@code quant:BITS}, {@code prune:PERCENT}, and the structural attacks
 * {@code scale:R}, {@code dummy:P}, {@code split:P}, {@code nso} (no level); e.g. {@code "finetune:2,quant:8"}
 * fine-tunes for 2 epochs, then quantizes to 8 bits; {@code "finetune:1,nso"} fine-tunes, then obfuscates.
 * {@code "none"} (or an empty string) is the
 * empty chain.
 */
public final class Attacks {
    private Attacks() {}

    /** The syntax, for help texts and messages. */
    public static final String SYNTAX = "noise:OMEGA, finetune:EPOCHS, quant:BITS, prune:PERCENT, scale:R, dummy:P, "
            + "split:P or nso";

    /** A chain of attacks, in order; "none" or "" gives an empty list. */
    public static List<Attack> parse(String specs) {
        List<Attack> out = new ArrayList<>();
        if (specs == null || specs.isBlank() || specs.trim().equalsIgnoreCase("none")) {
            return out;
        }
        for (String part : specs.split(",", -1)) {
            out.add(parseOne(part));
        }
        return List.copyOf(out);
    }

    /** One attack, e.g. "noise:7". */
    public static Attack parseOne(String spec) {
        String s = spec == null ? "" : spec.trim();
        if (s.isEmpty()) {
            throw usage("empty attack in the list; expected " + SYNTAX);
        }
        int colon = s.indexOf(':');
        String kind = (colon < 0 ? s : s.substring(0, colon)).trim().toLowerCase(Locale.ROOT);
        String level = colon < 0 ? null : s.substring(colon + 1).trim();
        if (kind.equals("nso")) {
            if (level != null) {
                throw usage("attack 'nso' takes no level (it is dummy:" + Attacks.formatLevel(NsoAttack.DUMMY_PERCENT)
                        + ", split:" + Attacks.formatLevel(NsoAttack.SPLIT_PERCENT) + ", scale:"
                        + Attacks.formatLevel(NsoAttack.SCALE_RANGE) + " and a permutation); give those for other levels");
            }
            return new NsoAttack();
        }
        String placeholder;
        switch (kind) {
            case "noise" -> placeholder = "OMEGA";
            case "finetune" -> placeholder = "EPOCHS";
            case "quant" -> placeholder = "BITS";
            case "prune", "dummy", "split" -> placeholder = "PERCENT";
            case "scale" -> placeholder = "R";
            default -> throw usage("unknown attack '" + kind + "'; expected noise, finetune, quant, prune, scale, dummy, "
                    + "split or nso");
        }
        if (level == null || level.isEmpty()) {
            throw usage("attack '" + kind + "' needs a level: " + kind + ":" + placeholder);
        }
        return switch (kind) {
            case "noise" -> new NoiseAttack(number(kind, level));
            case "finetune" -> FinetuneAttack.of(integer(kind, level));
            case "quant" -> new QuantAttack(integer(kind, level));
            case "scale", "dummy", "split" -> new StructuralAttack(kind, number(kind, level));
            default -> new PruneAttack(number(kind, level));
        };
    }

    /** The specs of a chain joined by commas ("none" for an empty chain). */
    public static String spec(List<Attack> chain) {
        if (chain.isEmpty()) {
            return "none";
        }
        StringBuilder sb = new StringBuilder();
        for (Attack a : chain) {
            if (sb.length() > 0) {
                sb.append(',');
            }
            sb.append(a.spec());
        }
        return sb.toString();
    }

    /**
     * Applies {@code chain} in order to {@code state} (in place). Attack {@code i} gets its own
     * seed derived from the context's seed and {@code i}, so two noise attacks in one chain draw
     * different noise, and the same seed always gives the same bytes. When the context has a
     * {@link BatchNormRecalibrator} and an attack of the chain {@linkplain Attack#needsRecalibration()
     * needs it}, the network's batch-norm statistics are re-estimated after the chain, and what that
     * did is the last result (absent for a network without batch norm).
     */
    public static List<AttackResult> apply(List<Attack> chain, StateDict state, AttackContext context) {
        List<AttackResult> results = new ArrayList<>();
        for (int i = 0; i < chain.size(); i++) {
            results.add(apply(chain, i, state, context));
        }
        AttackResult r = recalibrate(chain, state, context);
        if (r != null) {
            results.add(r);
        }
        return results;
    }

    /**
     * The batch-norm recalibration that {@link #apply(List, StateDict, AttackContext)} runs after the chain,
     * for callers that apply the chain attack by attack: what it did, or null when it did not run (no
     * recalibrator, no attack of the chain needing it, or a network without batch norm).
     */
    public static AttackResult recalibrate(List<Attack> chain, StateDict state, AttackContext context) {
        if (context.recalibrator() == null || chain.stream().noneMatch(Attack::needsRecalibration)) {
            return null;
        }
        return context.recalibrator().recalibrate(state, Seeds.derive(context.seed(), "attack.recalibrate-bn"),
                context.progress());
    }

    /** Applies attack {@code i} of {@code chain} with the seed {@link #apply(List, StateDict, AttackContext)} gives it. */
    public static AttackResult apply(List<Attack> chain, int i, StateDict state, AttackContext context) {
        long seed = Seeds.derive(context.seed(), "attack.chain", i);
        return chain.get(i).apply(state, context.withSeed(seed));
    }

    /** "7" for 7.0, "0.5" for 0.5: the shortest form that parses back to the same double. */
    static String formatLevel(double v) {
        if (v == Math.rint(v) && Math.abs(v) < 1e15) {
            return Long.toString((long) v);
        }
        return Double.toString(v);
    }

    private static double number(String kind, String level) {
        try {
            double v = Double.parseDouble(level);
            if (Double.isNaN(v) || Double.isInfinite(v)) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            throw usage("level of attack '" + kind + "' must be a number, got '" + level + "'");
        }
    }

    private static int integer(String kind, String level) {
        try {
            return Integer.parseInt(level);
        } catch (NumberFormatException e) {
            throw usage("level of attack '" + kind + "' must be an integer, got '" + level + "'");
        }
    }

    private static LadyException usage(String message) {
        return new LadyException(LadyException.Kind.USAGE, message);
    }
}
