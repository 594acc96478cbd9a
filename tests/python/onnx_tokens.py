#!/usr/bin/python3
"""Text models written as Hugging Face's BertModel and GPT2Model write them, exported to ONNX by PyTorch 1.13 (run by
the Java tests with /usr/bin/python3).

    onnx_tokens.py <out_dir> <seed> [width heads mlp layers vocab]

(the sizes default to a small model: 32, 4, 64, 2, 50; bench/onnx/run.sh passes BERT-base's: 768 12 3072 12 30522)

Token ids and an attention mask in (INT64 [batch, seq], both dynamic); word, position and token-type embeddings (the
positions and token types read from buffers sliced to the sequence, as transformers does), a layer norm; post-norm
layers (separate query, key, value; view + permute into heads; scores / sqrt(d) plus the extended mask
(1 - mask) * finfo.min; softmax; dropout; the product with v; permute back; the output dense; GELU MLP); a tanh pooler
on the first token and a classifier. Layer norms get random weights and biases (ones and zeros could not tell a right
permutation from a wrong one).

A GPT-2-style language model beside it (token ids in): Conv1D layers (torch.addmm on the flattened tokens, weights
[in, out]), one packed c_attn split in three, scores divided by torch.full(sqrt(d)), the causal mask sliced from a
bias buffer and applied with torch.where, GELU in its tanh form, the head tied to the token embedding.

<out_dir> receives bert-kept.onnx (state-dict names, training=PRESERVE, do_constant_folding=False),
bert-folded.onnx (training=EVAL, do_constant_folding=True) and bert.pt (the state dict); gpt2-kept.onnx and
gpt2-folded.onnx (the small sizes only). Exit code 3 without torch or onnx.
"""
import math
import os
import sys

try:
    import onnx  # noqa: F401  (the exporter needs it)
    import torch
    from torch import nn
except ImportError as e:
    print(f"cannot import torch/onnx: {e}")
    sys.exit(3)

VOCAB, POSITIONS, WIDTH, HEADS, MLP, LAYERS, CLASSES = 50, 32, 32, 4, 64, 2, 3
if len(sys.argv) > 3:
    WIDTH, HEADS, MLP, LAYERS, VOCAB = map(int, sys.argv[3:8])
    POSITIONS = 512


class SelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.query, self.key, self.value = nn.Linear(WIDTH, WIDTH), nn.Linear(WIDTH, WIDTH), nn.Linear(WIDTH, WIDTH)

    @staticmethod
    def heads(x):
        b, t, _ = x.size()
        return x.view(b, t, HEADS, -1).permute(0, 2, 1, 3)

    def forward(self, x, mask):
        q, k, v = self.heads(self.query(x)), self.heads(self.key(x)), self.heads(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(q.size(-1)) + mask
        p = nn.functional.dropout(scores.softmax(-1), 0.1, self.training)
        c = torch.matmul(p, v).permute(0, 2, 1, 3).contiguous()
        return c.view(c.size()[:-2] + (-1,))


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.attention, self.dense, self.norm1 = SelfAttention(), nn.Linear(WIDTH, WIDTH), nn.LayerNorm(WIDTH)
        self.intermediate, self.output, self.norm2 = nn.Linear(WIDTH, MLP), nn.Linear(MLP, WIDTH), nn.LayerNorm(WIDTH)

    def forward(self, x, mask):
        x = self.norm1(x + self.dense(self.attention(x, mask)))
        return self.norm2(x + self.output(nn.functional.gelu(self.intermediate(x))))


class Bert(nn.Module):
    def __init__(self):
        super().__init__()
        self.word, self.position, self.token_type = (nn.Embedding(VOCAB, WIDTH), nn.Embedding(POSITIONS, WIDTH),
                                                     nn.Embedding(2, WIDTH))
        self.norm = nn.LayerNorm(WIDTH)
        self.layers = nn.ModuleList(Layer() for _ in range(LAYERS))
        self.pooler, self.classifier = nn.Linear(WIDTH, WIDTH), nn.Linear(WIDTH, CLASSES)
        self.register_buffer("position_ids", torch.arange(POSITIONS).expand((1, -1)))
        self.register_buffer("token_type_ids", torch.zeros(1, POSITIONS, dtype=torch.long))

    def forward(self, input_ids, attention_mask):
        t = input_ids.size(1)
        types = self.token_type_ids[:, :t].expand(input_ids.size(0), t)
        x = self.norm(self.word(input_ids) + self.position(self.position_ids[:, :t]) + self.token_type(types))
        mask = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        for layer in self.layers:
            x = layer(x, mask)
        return self.classifier(torch.tanh(self.pooler(x[:, 0])))


class Conv1D(nn.Module):
    """GPT-2's linear layer: weight [in, out], applied with addmm to the tokens flattened."""

    def __init__(self, nf, nx):
        super().__init__()
        self.nf = nf
        self.weight = nn.Parameter(torch.randn(nx, nf) * 0.1)
        self.bias = nn.Parameter(torch.randn(nf) * 0.1)

    def forward(self, x):
        size = x.size()[:-1] + (self.nf,)
        return torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight).view(size)


class GptAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.c_attn, self.c_proj = Conv1D(3 * WIDTH, WIDTH), Conv1D(WIDTH, WIDTH)
        causal = torch.tril(torch.ones((POSITIONS, POSITIONS), dtype=torch.bool))
        self.register_buffer("bias", causal.view(1, 1, POSITIONS, POSITIONS), persistent=False)

    @staticmethod
    def heads(x):
        return x.view(x.size()[:-1] + (HEADS, WIDTH // HEADS)).permute(0, 2, 1, 3)

    def forward(self, x):
        q, k, v = (self.heads(t) for t in self.c_attn(x).split(WIDTH, dim=2))
        w = torch.matmul(q, k.transpose(-1, -2)) / torch.full([], v.size(-1) ** 0.5, dtype=x.dtype)
        ql, kl = q.size(-2), k.size(-2)
        w = torch.where(self.bias[:, :, kl - ql:kl, :kl], w, torch.full([], torch.finfo(w.dtype).min, dtype=w.dtype))
        c = torch.matmul(nn.functional.softmax(w, dim=-1), v).permute(0, 2, 1, 3).contiguous()
        return self.c_proj(c.view(c.size()[:-2] + (WIDTH,)))


class GptBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1, self.attn, self.ln_2 = nn.LayerNorm(WIDTH), GptAttention(), nn.LayerNorm(WIDTH)
        self.c_fc, self.c_proj = Conv1D(MLP, WIDTH), Conv1D(WIDTH, MLP)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        h = self.c_fc(self.ln_2(x))
        h = 0.5 * h * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (h + 0.044715 * torch.pow(h, 3.0))))
        return x + self.c_proj(h)


class Gpt2(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(VOCAB, WIDTH), nn.Embedding(POSITIONS, WIDTH)
        self.h = nn.ModuleList(GptBlock() for _ in range(LAYERS))
        self.ln_f = nn.LayerNorm(WIDTH)

    def forward(self, input_ids):
        positions = torch.arange(0, input_ids.size(-1), dtype=torch.long).unsqueeze(0)
        x = self.wte(input_ids) + self.wpe(positions)
        for block in self.h:
            x = block(x)
        return torch.matmul(self.ln_f(x), self.wte.weight.t())  # the head tied to the token embedding


def randomize_norms(model):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.LayerNorm):
                m.weight.copy_(1 + 0.1 * torch.randn(WIDTH))
                m.bias.copy_(0.1 * torch.randn(WIDTH))


def export(model, args, path, names, axes, fold):
    torch.onnx.export(model, args, path, opset_version=17, input_names=names, output_names=["logits"],
                      dynamic_axes=axes, training=torch.onnx.TrainingMode.EVAL if fold else torch.onnx.TrainingMode.PRESERVE,
                      do_constant_folding=fold)


def main():
    out, seed = sys.argv[1], int(sys.argv[2])
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    model = Bert().eval()
    randomize_norms(model)
    ids = torch.randint(0, VOCAB, (2, 16))
    mask = torch.ones(2, 16, dtype=torch.long)
    mask[1, 12:] = 0
    torch.save(model.state_dict(), os.path.join(out, "bert.pt"))
    axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"}, "logits": {0: "batch"}}
    for mode, fold in (("kept", False), ("folded", True)):
        export(model, (ids, mask), os.path.join(out, f"bert-{mode}.onnx"), ["input_ids", "attention_mask"], axes, fold)
    if len(sys.argv) > 3:
        return
    gpt = Gpt2().eval()
    randomize_norms(gpt)
    axes = {"input_ids": {0: "batch", 1: "seq"}, "logits": {0: "batch", 1: "seq"}}
    for mode, fold in (("kept", False), ("folded", True)):
        export(gpt, (ids,), os.path.join(out, f"gpt2-{mode}.onnx"), ["input_ids"], axes, fold)


if __name__ == "__main__":
    main()
