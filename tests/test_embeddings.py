"""llmcourse.embeddings: lookups, positions, and the tools that look at vectors."""

import math

import pytest
import torch

from llmcourse.embeddings import (
    TokenAndPositionEmbedding,
    check_token_ids,
    cosine_similarity,
    nearest_neighbours,
    pca,
    sinusoidal_positions,
)


def test_lookup_equals_one_hot_product():
    torch.manual_seed(0)
    table = torch.nn.Embedding(11, 5)
    ids = torch.tensor([3, 0, 10, 3])
    one_hot = torch.nn.functional.one_hot(ids, 11).float()
    torch.testing.assert_close(table(ids), one_hot @ table.weight)


def test_token_plus_position_shapes_and_values():
    torch.manual_seed(0)
    emb = TokenAndPositionEmbedding(vocab_size=20, context_length=6, emb_dim=4)
    ids = torch.tensor([[1, 2, 3], [4, 4, 19]])
    out = emb(ids)
    assert out.shape == (2, 3, 4)
    torch.testing.assert_close(out[1, 2], emb.tok_emb.weight[19] + emb.pos_emb.weight[2])
    # the same token at two positions differs exactly by the difference of the position vectors
    torch.testing.assert_close(out[1, 1] - out[1, 0], emb.pos_emb.weight[1] - emb.pos_emb.weight[0])
    shifted = emb(ids[:, :2], start=4)  # positions 4 and 5, as when generating with a cache
    torch.testing.assert_close(shifted[0, 1], emb.tok_emb.weight[2] + emb.pos_emb.weight[5])
    assert sum(p.numel() for p in emb.parameters()) == 20 * 4 + 6 * 4
    assert "vocab_size=20, context_length=6, emb_dim=4" in repr(emb)


def test_gradient_reaches_only_the_rows_looked_up():
    emb = TokenAndPositionEmbedding(10, 4, 3)
    emb(torch.tensor([[2, 7, 2]])).sum().backward()
    touched = emb.tok_emb.weight.grad.abs().sum(dim=1).nonzero().flatten().tolist()
    assert touched == [2, 7]
    assert emb.tok_emb.weight.grad[2, 0] == 2.0  # token 2 appears twice
    assert emb.pos_emb.weight.grad[:3].eq(1).all() and emb.pos_emb.weight.grad[3].eq(0).all()


def test_bad_ids():
    emb = TokenAndPositionEmbedding(vocab_size=10, context_length=4, emb_dim=3)
    with pytest.raises(
        ValueError, match=r"token id 12 at position \(1, 0\) is out of range.*0 to 9"
    ):
        emb(torch.tensor([[1, 2], [12, 3]]))
    with pytest.raises(ValueError, match=r"token id -1 at position \(0, 1\)"):
        emb(torch.tensor([[1, -1]]))
    with pytest.raises(TypeError, match="integer tensor, got dtype torch.float32"):
        emb(torch.tensor([[1.0, 2.0]]))
    with pytest.raises(ValueError, match=r"shape \(batch, seq\), got shape \(3,\).*unsqueeze"):
        emb(torch.tensor([1, 2, 3]))
    with pytest.raises(
        ValueError,
        match="sequence of 5 tokens is longer than the context length 4; keep the last 4 tokens",
    ):
        emb(torch.tensor([[1, 2, 3, 4, 5]]))
    with pytest.raises(
        ValueError, match="sequence of 5 tokens .* only 1 more fit after the 3 before them"
    ):
        emb(torch.tensor([[1, 2]]), start=3)
    with pytest.raises(
        TypeError, match="token ids must be an integer tensor, got dtype torch.bool"
    ):
        emb(torch.tensor([[True, False]]))
    with pytest.raises(ValueError, match="start must be an int >= 0, got -1"):
        emb(torch.tensor([[1]]), start=-1)
    with pytest.raises(TypeError, match="start must be an int, got float 1.0"):
        emb(torch.tensor([[1]]), start=1.0)
    with pytest.raises(TypeError, match="token ids must be a tensor, got list"):
        emb([[1, 2]])
    with pytest.raises(TypeError, match="must be a tensor"):
        check_token_ids([1, 2], 10)
    with pytest.raises(TypeError, match="vocab_size must be an int, got float"):
        check_token_ids(torch.tensor([1]), 10.0)
    check_token_ids(torch.zeros(0, dtype=torch.long), 10)  # nothing to check
    check_token_ids(torch.full((2,), 99, device="meta"), 10)  # no values on meta: type only


def test_check_ids_can_be_turned_off_for_speed():
    emb = TokenAndPositionEmbedding(vocab_size=10, context_length=4, emb_dim=3, check_ids=False)
    assert not emb.check_ids
    with pytest.raises(IndexError):  # PyTorch's own error, as a model tuned for speed sees it
        emb(torch.tensor([[12]]))
    with pytest.raises(TypeError, match="integer tensor, got dtype torch.float32"):
        emb(torch.tensor([[1.0]]))  # the checks that need no values stay on
    emb.check_ids = True
    with pytest.raises(ValueError, match="token id 12"):
        emb(torch.tensor([[12]]))
    emb.check_ids = "no"
    with pytest.raises(TypeError, match="check_ids must be True or False, got str 'no'"):
        emb(torch.tensor([[1]]))
    with pytest.raises(TypeError, match="check_ids must be True or False, got int 0"):
        TokenAndPositionEmbedding(10, 4, 3, check_ids=0)


def test_small_integer_ids_are_looked_up_like_int64():
    emb = TokenAndPositionEmbedding(vocab_size=10, context_length=4, emb_dim=3)
    ids = torch.tensor([[1, 9, 0]])
    torch.testing.assert_close(emb(ids.to(torch.uint8)), emb(ids))
    torch.testing.assert_close(emb(ids.to(torch.int16)), emb(ids))


def test_bad_sizes():
    with pytest.raises(ValueError, match=r"vocab_size must be a positive int \(>= 1\), got 0"):
        TokenAndPositionEmbedding(0, 4, 3)
    with pytest.raises(TypeError, match="emb_dim must be an int"):
        TokenAndPositionEmbedding(10, 4, 3.0)


def test_sinusoidal_values():
    table = sinusoidal_positions(50, 8)
    assert table.shape == (50, 8) and table.dtype == torch.float32
    assert table[0].tolist() == [0.0, 1.0] * 4
    for p, c in [(1, 0), (7, 3), (49, 6), (20, 5)]:
        i = c // 2
        angle = p / 10_000 ** (2 * i / 8)
        want = math.sin(angle) if c % 2 == 0 else math.cos(angle)
        assert abs(table[p, c].item() - want) < 1e-6
    # every row has the same length: sin² + cos² = 1 for each of the 4 pairs
    torch.testing.assert_close(table.norm(dim=1), torch.full((50,), 2.0))
    odd = sinusoidal_positions(5, 7)
    assert odd.shape == (5, 7)  # the last column is a sine; its cosine partner is dropped
    assert abs(odd[4, 6].item() - math.sin(4 / 10_000 ** (6 / 7))) < 1e-6
    with pytest.raises(ValueError, match="dim must be a positive int"):
        sinusoidal_positions(4, 0)
    with pytest.raises(ValueError, match="base must be a finite number > 1.0, got 1.0"):
        sinusoidal_positions(4, 4, base=1.0)
    with pytest.raises(ValueError, match="base must be a finite number > 1.0, got nan"):
        sinusoidal_positions(4, 4, base=float("nan"))
    with pytest.raises(TypeError, match="base must be a number, got bool True"):
        sinusoidal_positions(4, 4, base=True)
    with pytest.raises(TypeError, match="n must be an int, got bool True"):
        sinusoidal_positions(True, 4)
    torch.testing.assert_close(
        sinusoidal_positions(3, 4, base=100), sinusoidal_positions(3, 4, 100.0)
    )


def test_sinusoidal_similarity_depends_only_on_the_offset():
    sims = cosine_similarity(sinusoidal_positions(40, 16))
    for offset in (1, 5, 13):
        diagonal = torch.diagonal(sims, offset)
        torch.testing.assert_close(diagonal, diagonal[:1].expand_as(diagonal), atol=1e-5, rtol=0)


def test_cosine_similarity():
    a = torch.tensor([[1.0, 0.0], [3.0, 4.0], [0.0, 0.0]])
    sims = cosine_similarity(a)
    torch.testing.assert_close(sims[0, 1], torch.tensor(0.6))
    assert sims[2].tolist() == [0.0, 0.0, 0.0]
    b = torch.tensor([[0.0, -2.0]])
    torch.testing.assert_close(cosine_similarity(a, b)[:, 0], torch.tensor([0.0, -0.8, 0.0]))
    with pytest.raises(ValueError, match="same width"):
        cosine_similarity(a, torch.zeros(1, 3))
    assert cosine_similarity(torch.zeros(2, 3)).tolist() == [[0.0, 0.0], [0.0, 0.0]]
    with pytest.raises(ValueError, match="a holds NaN or infinite values"):
        cosine_similarity(torch.tensor([[1.0, float("nan")]]))
    with pytest.raises(ValueError, match="b holds NaN or infinite values"):
        cosine_similarity(a, torch.tensor([[float("inf"), 0.0]]))
    with pytest.raises(TypeError, match="a must hold real numbers, got a torch.bool tensor"):
        cosine_similarity(torch.ones(2, 2, dtype=torch.bool))
    with pytest.raises(TypeError, match=r"a must be a 2-D tensor \(n, dim\), got list"):
        cosine_similarity([[1.0, 0.0]])


def test_nearest_neighbours_uses_cosine_not_dot_product():
    vectors = torch.tensor([[1.0, 0.0], [10.0, 1.0], [0.9, 0.1], [-1.0, 0.0], [0.0, 1.0]])
    idx, sims = nearest_neighbours(vectors, 0, k=3)
    assert idx == [1, 2, 4]  # [10, 1] (cos 0.995) beats [0.9, 0.1] (cos 0.994), [0, 1] next
    assert sims == sorted(sims, reverse=True) and abs(sims[2]) < 1e-9
    idx, _ = nearest_neighbours(vectors, 0, k=2, exclude_self=False)
    assert idx == [0, 1]
    idx, _ = nearest_neighbours(vectors, torch.tensor([0.0, -1.0]), k=1)
    assert idx == [0]  # [1, 0] and [-1, 0] both have cosine 0: the tie goes to the smaller index
    with pytest.raises(ValueError, match="query index 5 out of range: vectors has 5 rows"):
        nearest_neighbours(vectors, 5)
    with pytest.raises(ValueError, match=r"vector of size 2, got a tensor of shape \(3,\)"):
        nearest_neighbours(vectors, torch.zeros(3))
    assert nearest_neighbours(vectors, torch.tensor(0), k=1)[0] == [1]  # a 0-d int tensor: a row
    with pytest.raises(TypeError, match="query must be an int, got float 1.0"):
        nearest_neighbours(vectors, 1.0)
    with pytest.raises(TypeError, match="query must be an int, got bool True"):
        nearest_neighbours(vectors, True)
    with pytest.raises(ValueError, match="query index -1 out of range"):
        nearest_neighbours(vectors, -1)
    with pytest.raises(ValueError, match="k=5 neighbours asked for, but only 4 rows can be one"):
        nearest_neighbours(vectors, 0, k=5)
    assert len(nearest_neighbours(vectors, 0, k=5, exclude_self=False)[0]) == 5
    with pytest.raises(ValueError, match=r"k must be a positive int \(>= 1\), got 0"):
        nearest_neighbours(vectors, 0, k=0)
    with pytest.raises(TypeError, match="exclude_self must be True or False"):
        nearest_neighbours(vectors, 0, exclude_self=1)
    with pytest.raises(ValueError, match="query holds NaN"):
        nearest_neighbours(vectors, torch.tensor([float("nan"), 0.0]))


def test_pca_matches_the_covariance_eigenvectors_with_a_fixed_sign():
    torch.manual_seed(0)
    x = torch.randn(200, 5) @ torch.diag(torch.tensor([5.0, 3.0, 1.0, 0.5, 0.1]))
    coords = pca(x, 2)
    assert coords.shape == (200, 2)
    centred = x.double() - x.double().mean(0)
    _, vectors = torch.linalg.eigh(centred.T @ centred)
    top = vectors[:, [-1, -2]]  # eigh sorts ascending
    expected = (centred @ top).float()
    for j in range(2):  # equal up to sign...
        sign = torch.sign((coords[:, j] * expected[:, j]).sum())
        torch.testing.assert_close(coords[:, j], sign * expected[:, j], atol=1e-4, rtol=1e-4)
        # ...and the sign puts the farthest point on the positive side
        assert coords[coords[:, j].abs().argmax(), j] > 0
    flipped = pca(-x, 2)
    torch.testing.assert_close(flipped, coords)
    with pytest.raises(ValueError, match="k=6 axes need at least 6 rows and 6 columns"):
        pca(x, 6)
    with pytest.raises(ValueError, match=r"2-D tensor \(n, dim\)"):
        pca(torch.zeros(3))
    with pytest.raises(ValueError, match=r"k must be a positive int \(>= 1\), got 0"):
        pca(x, 0)
    with pytest.raises(TypeError, match="k must be an int, got float 2.0"):
        pca(x, 2.0)
