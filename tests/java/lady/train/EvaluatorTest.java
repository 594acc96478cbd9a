package lady.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import lady.LadyException;
import lady.data.Dataset;
import lady.data.Digits;
import lady.model.Model;
import lady.model.ModelOptions;
import lady.model.Models;
import lady.torch.Torch;

class EvaluatorTest {
    static Dataset test;

    @BeforeAll
    static void data() {
        Torch.init();
        test = Digits.test();
    }

    @Test
    void errorIsCountedFromTheLogitsWhateverTheBatchSize() {
        Trainer.seedLibtorch(4);
        Model model = Models.create("lenet5", ModelOptions.defaults());
        model.train(true);
        EvalResult a = new Evaluator(64).keepLogits(true).limit(300).evaluate(model, test);
        EvalResult b = new Evaluator(1000).limit(300).evaluate(model, test);
        assertTrue(model.module().is_training(), "training mode restored");
        assertEquals(300, a.images());
        assertEquals(10, a.classes());
        assertNull(b.logits());
        assertEquals(300 * 10, a.logits().length);
        int wrong = 0;
        for (int i = 0; i < 300; i++) {
            int best = 0;
            for (int c = 1; c < 10; c++) {
                if (a.logits()[i * 10 + c] > a.logits()[i * 10 + best]) {
                    best = c;
                }
            }
            wrong += best != test.label(i) ? 1 : 0;
        }
        assertEquals(wrong, a.errors());
        assertEquals(100.0 * wrong / 300, a.errorPct(), 1e-9);
        // eval mode (BN running statistics) and no augmentation: batch size does not matter
        assertEquals(a.errors(), b.errors());
        assertEquals(a.loss(), b.loss(), 1e-4);
    }

    @Test
    void tooFewOutputsIsAnError() {
        Model model = Models.create("toynet", ModelOptions.defaults().withClasses(5));
        LadyException e = assertThrows(LadyException.class, () -> new Evaluator().limit(10).evaluate(model, test));
        assertEquals(LadyException.Kind.INVALID_INPUT, e.kind());
    }
}
