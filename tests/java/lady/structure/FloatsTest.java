package lady.structure;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import lady.checkpoint.StateDict;
import lady.model.Model;
import lady.permutation.Group;
import lady.permutation.Member;
import lady.tensor.DType;
import lady.torch.Torch;

/** The structural check's norms read a member in place, in every float dtype, as from its float32 copy, bit for bit. */
class FloatsTest {
    @Test
    void squaredNormsInPlaceEqualThoseOfTheConvertedCopy() {
        Torch.init();
        Model model = StructuralTesting.model("resnet18", 0.25, 5);
        StateDict state = model.stateDict();
        int members = 0;
        for (DType dt : new DType[] {DType.FLOAT32, DType.FLOAT16, DType.BFLOAT16}) {
            StateDict s = state.copy();
            for (Group g : model.permutationSpec().groups()) {
                for (Member m : g.members()) {
                    if (s.get(m.tensor()).dtype() == DType.FLOAT32 && dt != DType.FLOAT32) {
                        s.put(m.tensor(), s.get(m.tensor()).converted(dt));
                    }
                }
            }
            for (Group g : model.permutationSpec().groups()) {
                int n = Math.toIntExact(g.size());
                for (Member m : g.members()) {
                    if (!s.get(m.tensor()).dtype().floating()) {
                        continue;
                    }
                    double[] inPlace = Floats.squaredNorms(s, m, n);
                    double[] copied = new Slices(Floats.read(s, m.tensor()), s.shape(m.tensor()), m, n).squaredNorms();
                    assertEquals(n, inPlace.length);
                    for (int j = 0; j < n; j++) {
                        assertEquals(Double.doubleToLongBits(copied[j]), Double.doubleToLongBits(inPlace[j]),
                                dt + " " + m.tensor() + " neuron " + j);
                    }
                    members++;
                }
            }
        }
        assertTrue(members > 100, members + " members compared");
    }
}
