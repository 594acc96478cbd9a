package lady.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import lady.LadyException;

class DataSourceTest {
    @Test
    void parsesEveryKind() {
        assertEquals(DataSource.Kind.DIGITS, DataSource.parse("digits").kind());
        assertEquals(DataSource.Kind.CIFAR10, DataSource.parse("cifar10:/data/cifar").kind());
        assertEquals(DataSource.Kind.CIFAR10_FILES, DataSource.parse("cifar10-files:/a.bin,/b.bin").kind());
        assertEquals(DataSource.Kind.MNIST, DataSource.parse("mnist:/data/mnist").kind());
        assertTrue(DataSource.parse("cifar10:/x").horizontalFlip());
        assertFalse(DataSource.parse("mnist:/x").horizontalFlip());
        assertFalse(DataSource.parse("digits").horizontalFlip());
    }

    @Test
    void badSpecsAreClearUsageErrors() {
        assertUsage("imagenet:/x", "unknown data source 'imagenet'; expected digits, cifar10:DIR, cifar10-files:TRAIN,TEST or mnist:DIR");
        assertUsage("", "empty data source");
        assertUsage("cifar10", "needs a directory");
        assertUsage("mnist:", "needs a directory");
        assertUsage("cifar10-files:/only-one.bin", "needs two files");
        assertUsage("cifar10-files:/a,/b,/c", "needs two files");
        assertUsage("digits:/x", "takes no argument");
    }

    private static void assertUsage(String spec, String fragment) {
        LadyException e = assertThrows(LadyException.class, () -> DataSource.parse(spec));
        assertEquals(LadyException.Kind.USAGE, e.kind());
        assertTrue(e.getMessage().contains(fragment), e.getMessage());
    }
}
