package lady.data;

/**
 * The built-in dataset bundled in the jar: 10,000 real MNIST digits in CIFAR-10 binary format,
 * 8,495 for training and 1,505 for testing (resources/lady/data/digits/README.md). Horizontal
 * flipping is off for digits (a mirrored digit is not the same digit).
 */
public final class Digits {
    private Digits() {}

    public static final String TRAIN_RESOURCE = "/lady/data/digits/digits_train.bin.gz";
    public static final String TEST_RESOURCE = "/lady/data/digits/digits_test.bin.gz";

    public static Dataset train() {
        return CifarBinary.parse("digits/train", DataFiles.readResource(TRAIN_RESOURCE), TRAIN_RESOURCE, false);
    }

    public static Dataset test() {
        return CifarBinary.parse("digits/test", DataFiles.readResource(TEST_RESOURCE), TEST_RESOURCE, false);
    }
}
