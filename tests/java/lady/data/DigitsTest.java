package lady.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import org.junit.jupiter.api.Test;

class DigitsTest {
    @Test
    void builtInDigitsHaveTheReadmeCounts() {
        Dataset train = DataSource.parse("digits").train();
        Dataset test = DataSource.parse("digits").test();
        assertEquals(8495, train.size());
        assertEquals(1505, test.size());
        assertEquals(10, train.classes());
        assertFalse(train.horizontalFlip(), "digits must not be flipped by default");
        // class counts (train/test) from resources/lady/data/digits/README.md
        assertArrayEquals(new int[] {850, 957, 842, 877, 833, 733, 861, 909, 802, 831}, train.classCounts());
        assertArrayEquals(new int[] {151, 170, 149, 155, 147, 130, 153, 161, 142, 147}, test.classCounts());
    }

    @Test
    void digitsArePaddedGrayscale() {
        Dataset test = Digits.test();
        for (int i = 0; i < 50; i++) {
            byte[] img = test.image(i);
            int plane = 32 * 32;
            int lit = 0;
            for (int p = 0; p < plane; p++) {
                assertEquals(img[p], img[p + plane], "green plane differs from red at " + p);
                assertEquals(img[p], img[p + 2 * plane], "blue plane differs from red at " + p);
                int y = p / 32;
                int x = p % 32;
                if (y < 2 || y >= 30 || x < 2 || x >= 30) {
                    assertEquals(0, img[p], "padding pixel (" + y + "," + x + ") of image " + i + " is not black");
                }
                if ((img[p] & 0xff) > 128) {
                    lit++;
                }
            }
            assertEquals(true, lit > 20, "image " + i + " looks empty");
        }
    }
}
