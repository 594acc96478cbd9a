package lady.watermark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import lady.progress.ProgressListener;

/** The whole story with its defaults (a few minutes on 2 cores): the claims of the issue, asserted. */
@Tag("slow")
class WatermarkStorySlowTest {
    @Test
    void attackAndRecover() {
        WatermarkStory.Report r = WatermarkStory.run(WatermarkStory.Options.defaults(), ProgressListener.NONE);
        System.err.printf("watermark story: BER %.2f %%, error %.2f %%, %.1f s%n", r.ber(), r.errorPct(), r.seconds());
        assertEquals(0.0, r.ber(), "BER after embedding");
        assertTrue(r.errorPct() < 10, "test error " + r.errorPct());
        for (WatermarkStory.Row row : r.rows()) {
            System.err.println(row);
            assertTrue(row.berAttacked() >= 25, row.scenario() + ": BER after the permutation " + row.berAttacked());
            assertTrue(row.restored(), row.scenario() + ": not restored");
            assertEquals(100.0, row.psi(), row.scenario());
            assertEquals(row.berAttackOnly(), row.berResynced(), row.scenario() + ": BER back to the attacked model's");
            if (row.attack().equals("none")) {
                assertEquals(r.errorPct(), row.errorAttacked(), 0.01, row.scenario() + ": error changed by permutation");
                assertEquals(r.ber(), row.berResynced(), row.scenario());
                assertEquals(r.errorPct(), row.errorResynced(), 0.01, row.scenario());
            }
        }
        WatermarkStory.StructuralRow st = r.structural();
        System.err.println(st);
        assertTrue(st.neuronsAfter() > st.neuronsBefore(), "nso widens the groups");
        assertTrue(st.berAttacked() >= 25, "nso reads as noise: " + st.berAttacked());
        assertTrue(st.logitDiffAttacked() < 1e-3 && st.logitDiffResynced() < 1e-3, "logits unchanged throughout");
        assertEquals(100.0, st.psi(), "Psi against the lineage");
        assertEquals(r.ber(), st.berResynced(), "BER back after Lady's undo");
        assertTrue(st.maxRelativeDiff() <= 1e-4, "restored tensors: " + st.maxRelativeDiff());
        assertTrue(r.seconds() < 600, "story took " + r.seconds() + " s");
    }
}
