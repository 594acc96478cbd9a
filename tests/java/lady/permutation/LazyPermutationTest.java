package lady.permutation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import lady.checkpoint.Checkpoints;
import lady.checkpoint.StateDict;
import lady.kernels.Backend;
import lady.model.ModelOptions;
import lady.model.Models;
import lady.tensor.DType;
import lady.tensor.HostTensor;
import lady.tensor.IndexedTensor;

/**
 * Lazy permutation (index maps over a tensor's bytes, gathered when read or written) gives exactly what
 * the in-place kernel gives, on architectures whose groups cover every case: conv rows and columns, flatten
 * blocks (VGG16's classifier.0), residual streams, 1-D vectors, and a Llama family graph with nested groups;
 * maps compose (two lazy permutations, then the inverse restores the bytes); the writers stream lazily
 * permuted tensors into the same bytes as permuted ones; and a mapped input file is never copied or written.
 */
class LazyPermutationTest {
    @TempDir
    Path dir;

    static StateDict random(Map<String, long[]> shapes, DType dtype, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        StateDict sd = new StateDict();
        shapes.forEach((name, shape) -> {
            HostTensor t = HostTensor.allocate(dtype, shape);
            ByteBuffer b = t.bytes(0, (int) t.byteSize());
            for (int i = 0; i < t.byteSize(); i++) {
                b.put(i, (byte) r.nextInt());
            }
            sd.put(name, t);
        });
        return sd;
    }

    static PermutationSpec spec(String arch) {
        if (arch.equals("llama")) {
            return Models.infer(lady.model.LlamaShapes.shapes(), null, lady.model.LlamaShapes.CONFIG).description()
                    .permutationSpec();
        }
        ModelOptions o = ModelOptions.defaults().withWidth(1.0 / 16);
        return Models.describe(arch, arch.startsWith("vgg") ? o.withHidden(24) : o).permutationSpec();
    }

    static Map<String, long[]> shapes(String arch) {
        if (arch.equals("llama")) {
            return lady.model.LlamaShapes.shapes();
        }
        ModelOptions o = ModelOptions.defaults().withWidth(1.0 / 16);
        return Models.describe(arch, arch.startsWith("vgg") ? o.withHidden(24) : o).tensorShapes();
    }

    @ParameterizedTest
    @ValueSource(strings = {"vgg16_bn", "resnet18", "llama"})
    void lazyEqualsInPlaceAndComposes(String arch) throws IOException {
        PermutationSpec spec = spec(arch);
        DType dtype = arch.equals("llama") ? DType.BFLOAT16 : DType.FLOAT32;
        StateDict original = random(shapes(arch), dtype, 3);
        List<String> all = spec.groups().stream().map(Group::name).toList();
        Map<String, Permutation> p1 = Permuter.random(spec, all, 1);
        Map<String, Permutation> p2 = Permuter.random(spec, all, 2);

        StateDict eager = original.copy();
        Permuter.applyInPlace(eager, spec, p1, Backend.CPU);
        Permuter.applyInPlace(eager, spec, p2, Backend.CPU);

        // the same two permutations lazily, over a mapped file
        Path file = dir.resolve("in.safetensors");
        Checkpoints.write(file, original, Checkpoints.Format.SAFETENSORS);
        byte[] before = Files.readAllBytes(file);
        StateDict lazy = Checkpoints.read(file);
        Permuter.applyLazily(lazy, spec, p1, Backend.CPU);
        Permuter.applyLazily(lazy, spec, p2, Backend.CPU);
        long moved = lazy.names().stream().filter(lazy::isLazy).count();
        assertTrue(moved > 0.8 * lazy.size(), moved + " of " + lazy.size() + " tensors hold index maps");
        for (String n : lazy.names()) {
            IndexedTensor t = lazy.indexed(n);
            assertTrue(t.base().mapped(), n + ": the base stays the mapped file, nothing copied");
        }

        // written: the same bytes as the eager result's, in both formats
        for (Checkpoints.Format f : List.of(Checkpoints.Format.SAFETENSORS, Checkpoints.Format.TORCH_ZIP)) {
            Path a = dir.resolve("eager." + f);
            Path b = dir.resolve("lazy." + f);
            Checkpoints.write(a, eager, f);
            Checkpoints.write(b, lazy, f);
            assertEquals(-1, Files.mismatch(a, b), f + ": streamed lazily permuted tensors = permuted tensors");
        }
        // read: get() gathers each tensor once, equal to the eager one
        for (String n : eager.names()) {
            assertTrue(eager.get(n).sameContent(lazy.get(n)), n);
            assertFalse(lazy.isLazy(n));
        }
        // inverses, lazily, restore the original bytes
        StateDict back = Checkpoints.read(file);
        Permuter.applyLazily(back, spec, p1, Backend.CPU);
        Permuter.applyLazily(back, spec, p2, Backend.CPU);
        Permuter.applyLazily(back, spec, Permuter.inverse(spec, p2), Backend.CPU);
        Permuter.applyLazily(back, spec, Permuter.inverse(spec, p1), Backend.CPU);
        assertTrue(back.names().stream().noneMatch(back::isLazy), "composed back to the identity: no maps left");
        assertTrue(original.sameTensors(back));
        assertEquals(-1, java.util.Arrays.mismatch(before, Files.readAllBytes(file)), "the input file never changes");
    }
}
