package lady.paper;

/**
 * The only home of the paper's numbers (De Sousa Trias et al., AAAI 2024, and the authors'
 * scripts, as read in shared/docs/method.md). Each constant says where it comes from. Code
 * elsewhere refers to these, never to literals.
 */
public final class Paper {
    private Paper() {}

    // ---- data (method.md 9; authors' Training.py) ----
    /** CIFAR-10 per-channel mean used to normalize inputs. */
    public static final float[] CIFAR_MEAN = {0.4914f, 0.4822f, 0.4465f};
    /** CIFAR-10 per-channel std used to normalize inputs. */
    public static final float[] CIFAR_STD = {0.2023f, 0.1994f, 0.2010f};
    /** Training augmentation: random crop of 32 with padding 4. */
    public static final int CROP_SIZE = 32;
    public static final int CROP_PADDING = 4;
    /** Image side of CIFAR-10 records. */
    public static final int IMAGE_SIZE = 32;
}
