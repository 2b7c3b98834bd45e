"""LoRA: the invariants, and equality with peft's LoRA on the same weights."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from llmcourse.config import GPTConfig
from llmcourse.lora import (
    DEFAULT_TARGETS,
    LinearWithLoRA,
    LoRALayer,
    apply_lora,
    lora_layers,
    lora_state_dict,
    merge_lora,
    unmerge_lora,
)
from llmcourse.model import GPTModel, count_parameters
from llmcourse.train import batch_loss

CFG = GPTConfig.preset("tiny")  # width 64, 2 blocks, vocab 512


def tiny(seed: int = 0) -> GPTModel:
    torch.manual_seed(seed)
    return GPTModel(CFG).eval()


def ids(seed: int = 1, shape=(2, 12)) -> torch.Tensor:
    return torch.randint(0, CFG.vocab_size, shape, generator=torch.Generator().manual_seed(seed))


def randomise_b(model: nn.Module, seed: int = 2) -> None:
    """Give every B random values, as training would (B starts at zero)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in lora_layers(model).values():
            layer.lora.B.copy_(torch.randn(layer.lora.B.shape, generator=g) * 0.05)


def test_lora_layer_shapes_init_and_scale():
    torch.manual_seed(0)
    layer = LoRALayer(64, 192, rank=4, alpha=8)
    assert layer.A.shape == (64, 4) and layer.B.shape == (4, 192)
    assert torch.all(layer.B == 0)
    assert layer.A.abs().max() <= 1 / 64**0.5 and layer.A.std() > 0.05
    with torch.no_grad():
        layer.B.normal_()
    x = torch.randn(3, 64)
    torch.testing.assert_close(layer(x), 2.0 * x @ layer.A @ layer.B)  # alpha / rank = 2
    torch.testing.assert_close(layer(x), x @ layer.delta_weight().T)


def test_wrapped_model_is_unchanged_at_initialisation_and_only_lora_trains():
    base = tiny()
    model = copy.deepcopy(base)
    wrapped = apply_lora(model, rank=4, alpha=8)
    assert wrapped == [f"blocks.{i}.{t}" for i in range(2) for t in DEFAULT_TARGETS]
    x = ids()
    assert torch.equal(model(x), base(x))  # B = 0: exactly the same computation's result
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all(n.endswith((".lora.A", ".lora.B")) for n in trainable)
    # r * (in + out) per layer: qkv 64 -> 192, out_proj 64 -> 64, fc 64 -> 256, proj 256 -> 64
    per_block = 4 * ((64 + 192) + (64 + 64) + (64 + 256) + (256 + 64))
    assert count_parameters(model, trainable_only=True) == 2 * per_block == 8192
    assert count_parameters(model) == count_parameters(base) + 8192


def test_a_training_step_moves_only_the_adapters():
    model = tiny()
    apply_lora(model, rank=2, alpha=4)
    model.train()
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    adapters = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    x = ids(shape=(4, 16))
    loss = batch_loss(model, x[:, :-1], x[:, 1:])
    loss.backward()
    opt.step()
    for n, p in model.named_parameters():
        if n in frozen:
            assert torch.equal(p, frozen[n]), n
            assert p.grad is None, n
    moved = [
        n for n, p in model.named_parameters() if n in adapters and not torch.equal(p, adapters[n])
    ]
    assert any(n.endswith(".lora.B") for n in moved)
    # after one step B is no longer zero, so A receives gradients from now on
    assert all(lora.lora.B.abs().sum() > 0 for lora in lora_layers(model).values())


def test_merged_output_equals_unmerged_and_unmerge_restores_the_weights():
    model = tiny()
    apply_lora(model, rank=4, alpha=16)
    randomise_b(model)
    x = ids()
    before = model(x)
    base_weights = {n: m.linear.weight.detach().clone() for n, m in lora_layers(model).items()}
    merge_lora(model)
    assert all(m.merged for m in lora_layers(model).values())
    torch.testing.assert_close(model(x), before, atol=1e-5, rtol=1e-5)
    for name, layer in lora_layers(model).items():
        assert not torch.allclose(layer.linear.weight, base_weights[name])
    unmerge_lora(model)
    torch.testing.assert_close(model(x), before, atol=1e-5, rtol=1e-5)
    for name, layer in lora_layers(model).items():
        torch.testing.assert_close(layer.linear.weight, base_weights[name])


def test_only_the_adapters_are_saved_and_train_also_keeps_a_head_trainable():
    model = tiny()
    model.out_head = nn.Linear(CFG.n_embd, 2)  # a classification head, untied
    apply_lora(model, rank=2, alpha=2, targets=["attn.qkv"], train_also=["out_head"])
    state = lora_state_dict(model)
    assert sorted(state) == [f"blocks.{i}.attn.qkv.lora.{m}" for i in range(2) for m in "AB"]
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == set(state) | {"out_head.weight", "out_head.bias"}


def test_lora_equals_peft_on_the_same_weights():
    peft = pytest.importorskip("peft")
    ours = tiny()
    apply_lora(ours, rank=4, alpha=8)
    randomise_b(ours)
    theirs = peft.get_peft_model(
        tiny(),
        peft.LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=list(DEFAULT_TARGETS)),
    )
    peft_layers = {
        n.removeprefix("base_model.model."): m
        for n, m in theirs.named_modules()
        if hasattr(m, "lora_A") and "default" in m.lora_A
    }
    assert sorted(peft_layers) == sorted(lora_layers(ours))
    with torch.no_grad():
        for name, layer in lora_layers(ours).items():
            peft_layers[name].lora_A["default"].weight.copy_(layer.lora.A.T)
            peft_layers[name].lora_B["default"].weight.copy_(layer.lora.B.T)
    trainable, _ = theirs.get_nb_trainable_parameters()
    assert trainable == count_parameters(ours, trainable_only=True)
    x = ids(shape=(3, 20))
    expected = theirs(x)
    assert not torch.allclose(expected, tiny()(x), atol=1e-3)  # the adapters change the output
    torch.testing.assert_close(ours(x), expected, atol=1e-5, rtol=1e-5)
    merged = theirs.merge_and_unload()
    merge_lora(ours)
    for name, layer in lora_layers(ours).items():
        torch.testing.assert_close(
            layer.linear.weight, merged.get_submodule(name).weight, atol=1e-6, rtol=1e-6
        )


def test_counts_on_gpt2_small_without_allocating_it():
    with torch.device("meta"):
        model = GPTModel(GPTConfig.preset("gpt2-small"))
    apply_lora(model, rank=8, alpha=16)
    # 12 blocks x 8 x [(768 + 2304) + (768 + 768) + (768 + 3072) + (3072 + 768)]
    assert count_parameters(model, trainable_only=True) == 1_179_648
    assert isinstance(model.blocks[0].attn.qkv, LinearWithLoRA)


@pytest.mark.parametrize("rank", [0, -2])
def test_bad_rank(rank):
    with pytest.raises(ValueError, match=f"LoRA rank must be an int >= 1, got {rank!r}"):
        apply_lora(tiny(), rank=rank, alpha=8)


@pytest.mark.parametrize(
    ("rank", "shown"), [(1.5, "float 1.5"), (True, "bool True"), ("4", "str '4'")]
)
def test_rank_of_the_wrong_type(rank, shown):
    with pytest.raises(TypeError, match=f"LoRA rank must be an int, got {shown}"):
        apply_lora(tiny(), rank=rank, alpha=8)


def test_a_rank_too_large_for_one_target_changes_nothing():
    model = tiny()  # n_embd 64: attn.qkv is 64 -> 192, ff.fc 64 -> 256
    with pytest.raises(ValueError, match=r"LoRA rank 65 is larger than 'blocks.0.attn.qkv' allows"):
        apply_lora(model, rank=65, alpha=8)
    assert lora_layers(model) == {} and all(p.requires_grad for p in model.parameters())
    assert apply_lora(model, rank=4, alpha=8)  # a retry with a valid rank works


def test_a_second_apply_lora_keeps_the_first_adapters_training():
    model = tiny()
    apply_lora(model, rank=2, alpha=4, targets=["attn.qkv"])
    apply_lora(model, rank=2, alpha=4, targets=["ff.fc"])
    assert not any(m.training for m in model.modules())  # the wrappers take the model's mode
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {
        f"blocks.{i}.{t}.lora.{m}" for i in range(2) for t in ("attn.qkv", "ff.fc") for m in "AB"
    }
    with pytest.raises(ValueError, match="already has LoRA .from an earlier apply_lora"):
        apply_lora(model, rank=2, alpha=4, targets=["attn.qkv"])


def test_training_a_merged_model_is_refused():
    model = tiny()
    apply_lora(model, rank=2, alpha=4)
    merge_lora(model)
    ids = torch.randint(0, model.cfg.vocab_size, (1, 8))
    with pytest.raises(RuntimeError, match=r"merged into its weights.*unmerge_lora\(model\)"):
        model.train()(ids)
    with torch.no_grad():
        model(ids)  # running it is fine
    model.eval()(ids)
    unmerge_lora(model)
    model.train()(ids).sum().backward()
    assert model.blocks[0].attn.qkv.lora.A.grad is not None


def test_bad_input():
    model = tiny()
    for alpha in (0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match=r"LoRA alpha must be a finite number > 0.0, got"):
            apply_lora(model, rank=4, alpha=alpha)
    with pytest.raises(ValueError, match="LoRA rank 65 is larger than the layer allows"):
        LoRALayer(64, 192, rank=65, alpha=8)
    with pytest.raises(TypeError, match="'final_norm' is a LayerNorm"):
        apply_lora(model, rank=4, alpha=8, targets=["final_norm"])
    with pytest.raises(TypeError, match="LoRA wraps an nn.Linear, got Embedding"):
        LinearWithLoRA(model.tok_emb, rank=4, alpha=8)
    with pytest.raises(ValueError, match=r"no layer of the model is named \['attn.query'\]"):
        apply_lora(model, rank=4, alpha=8, targets=["attn.qkv", "attn.query"])
    with pytest.raises(
        ValueError, match=r"train_also names modules the model does not have: \['head'\]"
    ):
        apply_lora(model, rank=4, alpha=8, train_also=["head"])
    with pytest.raises(ValueError, match="the model has no LoRA layers"):
        merge_lora(model)
    with pytest.raises(ValueError, match="LoRA dropout must be in"):
        LinearWithLoRA(model.out_head, rank=2, alpha=2, dropout=1.0)
    apply_lora(model, rank=4, alpha=8)
    with pytest.raises(ValueError, match="blocks.0.attn.qkv already has LoRA"):
        apply_lora(model, rank=4, alpha=8, targets=["attn.qkv"])
    with pytest.raises(ValueError, match="is not merged: nothing to unmerge"):
        unmerge_lora(model)
    merge_lora(model)
    with pytest.raises(ValueError, match="already merged"):
        merge_lora(model)
