package lady.experiment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;

import org.junit.jupiter.api.Test;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.model.LlamaShapes;
import lady.model.Models;
import lady.model.Architecture;
import lady.tensor.HostTensor;

/** The layer an attack names: a weight, a linear layer's module path, or a projection inside attention. */
class AttackTargetsTest {
    @Test
    void aLlamaLayerIsNamedByItsWeightOrItsModulePathAttentionProjectionsIncluded() {
        Map<String, long[]> shapes = LlamaShapes.shapes(false, false);
        Architecture arch = Models.infer(shapes, null, LlamaShapes.CONFIG).description();
        StateDict state = new StateDict();
        shapes.forEach((name, shape) -> {
            long n = 1;
            for (long s : shape) {
                n *= s;
            }
            state.put(name, HostTensor.ofFloats(new float[(int) n], shape));
        });
        for (String module : new String[] {"model.layers.1.self_attn.q_proj", "model.layers.0.self_attn.o_proj",
                "model.layers.0.mlp.down_proj", "lm_head"}) {
            assertEquals(module + ".weight", AttackTargets.layerWeight(arch, state, module));
            assertEquals(module + ".weight", AttackTargets.layerWeight(arch, state, module + ".weight"));
        }
        LadyException e = assertThrows(LadyException.class,
                () -> AttackTargets.layerWeight(arch, state, "model.layers.0.self_attn"));
        assertTrue(e.getMessage().contains("model.layers.0.self_attn.k_proj.weight"),
                "lists the attention projections among the weights: " + e.getMessage());
        assertThrows(LadyException.class, () -> AttackTargets.layerWeight(arch, state, "model.norm"),
                "a norm is not a layer an attack works on");
    }
}
