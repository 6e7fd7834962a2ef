"""Memory-bounded evaluation: the chunked NLL equals the full computation, within bounded memory.

The reference is float64 log-softmax over the full logits (plain torch, no forge_lib).
"""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import forge_lib as fl


def reference(hidden, weight, target, ignore_index=None):
    logits = hidden.double().reshape(-1, hidden.shape[-1]) @ weight.double().T  # (N, V)
    target = target.reshape(-1)
    if ignore_index is not None:
        keep = target != ignore_index
        logits, target = logits[keep], target[keep]
    logp = torch.log_softmax(logits, dim=-1)
    return -logp.gather(1, target[:, None]).sum().item(), target.numel()


def case(seed, shape=(3, 17), vocab=50, d_model=8):
    gen = torch.Generator().manual_seed(seed)
    hidden = torch.randn(*shape, d_model, generator=gen)
    weight = torch.randn(vocab, d_model, generator=gen)
    target = torch.randint(0, vocab, shape, generator=gen)
    return hidden, weight, target


@pytest.mark.parametrize("chunk", [1, 5, 16, 51, 1000])
@pytest.mark.parametrize("shape", [(3, 17), (51,)])
def test_chunked_matches_float64_reference(chunk, shape):
    hidden, weight, target = case(0, shape)
    nll, n = fl.chunked_nll_sum_and_count(hidden, weight, target, chunk_tokens=chunk)
    ref, ref_n = reference(hidden, weight, target)
    assert n == ref_n
    assert nll.dtype == torch.float64
    assert nll.item() == pytest.approx(ref, rel=1e-6)


@pytest.mark.parametrize("chunk", [1, 4, 64])
def test_chunked_with_ignore_index(chunk):
    hidden, weight, target = case(1)
    target[0, 10:] = -100
    target[2, :] = -100
    nll, n = fl.chunked_nll_sum_and_count(hidden, weight, target, chunk_tokens=chunk,
                                          ignore_index=-100)
    ref, ref_n = reference(hidden, weight, target, ignore_index=-100)
    assert n == ref_n == 17 + 10
    assert nll.item() == pytest.approx(ref, rel=1e-6)


def test_all_ignored_gives_zero_and_zero():
    hidden, weight, target = case(2)
    nll, n = fl.chunked_nll_sum_and_count(hidden, weight, torch.full_like(target, 7),
                                          chunk_tokens=4, ignore_index=7)
    assert (nll.item(), n) == (0.0, 0)


@settings(max_examples=25, deadline=None)
@given(chunk=st.integers(1, 80), seed=st.integers(0, 10_000))
def test_result_does_not_depend_on_chunk_size(chunk, seed):
    hidden, weight, target = case(seed, (4, 13), vocab=30, d_model=6)
    nll, _ = fl.chunked_nll_sum_and_count(hidden, weight, target, chunk_tokens=chunk)
    full, _ = fl.nll_sum_and_count(hidden @ weight.T, target)
    assert nll.item() == pytest.approx(full.item(), rel=1e-6)


def test_no_graph_is_kept():
    hidden, weight, target = case(3)
    weight.requires_grad_(True)
    nll, _ = fl.chunked_nll_sum_and_count(hidden, weight, target, chunk_tokens=8)
    assert not nll.requires_grad


def test_chunked_never_holds_the_full_logits():
    gen = torch.Generator().manual_seed(4)
    seq_len, vocab = 2048, 20_000
    hidden = torch.randn(1, seq_len, 16, generator=gen)
    weight = torch.randn(vocab, 16, generator=gen) / 4
    target = torch.randint(0, vocab, (1, seq_len), generator=gen)
    full_mb = fl.logits_nbytes(1, seq_len, vocab) / 1e6  # 164 MB
    # The reset kernel peak (where there is one) sees every chunk, however short-lived.
    exact = "kernel" if fl.kernel_peak_supported() else "auto"
    with fl.MemoryTracker("chunked", device="cpu", rss_method=exact) as mem:
        fl.chunked_nll_sum_and_count(hidden, weight, target, chunk_tokens=64)  # 5 MB a chunk
    assert mem.process_peak_mb < 0.5 * full_mb


def test_evaluate_lm_chunked_matches_evaluate_lm():
    model, _ = fl.load_tiny_model()
    sentences = fl.course_split("val")[:200]
    full = fl.evaluate_lm(model, sentences, batch_size=50)
    for chunk in (7, 1000):
        chunked = fl.evaluate_lm_chunked(model, sentences, batch_size=50, chunk_tokens=chunk)
        assert chunked["tokens"] == full["tokens"]
        assert chunked["nll_sum"] == pytest.approx(full["nll_sum"], rel=1e-6)
        assert chunked["perplexity"] == pytest.approx(full["perplexity"], rel=1e-6)


def test_logits_nbytes():
    assert fl.logits_nbytes(8, 1024, 50_257) == 8 * 1024 * 50_257 * 4
    assert fl.logits_nbytes(2, 3, 5, torch.bfloat16) == 60
    assert fl.logits_nbytes(1, 1, 1, torch.float64) == 8
    with pytest.raises(ValueError):
        fl.logits_nbytes(0, 1024, 50_257)
    with pytest.raises(TypeError):
        fl.logits_nbytes(8, 1024.0, 50_257)
    with pytest.raises(TypeError, match="dtype"):
        fl.logits_nbytes(8, 1024, 50_257, "float32")


# --- bad input -----------------------------------------------------------------------------------

def bad(**changes):
    hidden, weight, target = case(5)
    args = {"hidden": hidden, "lm_head_weight": weight, "target": target, "chunk_tokens": 8}
    args.update(changes)
    return args


@pytest.mark.parametrize("changes, error, match", [
    ({"chunk_tokens": 0}, ValueError, "chunk_tokens"),
    ({"chunk_tokens": -3}, ValueError, "chunk_tokens"),
    ({"chunk_tokens": 2.5}, TypeError, "chunk_tokens"),
    ({"chunk_tokens": True}, TypeError, "chunk_tokens"),
    ({"lm_head_weight": torch.randn(50, 9)}, ValueError, "hidden size"),
    ({"lm_head_weight": torch.randn(8, 50)}, ValueError, "transposed"),
    ({"lm_head_weight": torch.randn(50)}, ValueError, r"\(V, D\)"),
    ({"hidden": torch.randn(3, 17)}, ValueError, "hidden size|to match"),
    ({"hidden": torch.randn(2, 3, 17, 8)}, ValueError, "hidden"),
    ({"hidden": torch.ones(3, 17, 8, dtype=torch.long)}, TypeError, "floating-point"),
    ({"lm_head_weight": torch.randn(50, 8, dtype=torch.float64)}, TypeError, "same dtype"),
    ({"target": torch.zeros(3, 16, dtype=torch.long)}, ValueError, "shift both"),
    ({"target": torch.zeros(3, 17)}, TypeError, "integer"),
    ({"target": torch.full((3, 17), 50)}, ValueError, "out of range"),
    ({"target": torch.full((3, 17), -100)}, ValueError, "ignore_index=-100"),
    ({"hidden": [[0.0]]}, TypeError, "torch.Tensor"),
    ({"ignore_index": True}, TypeError, "ignore_index"),
])
def test_bad_input(changes, error, match):
    with pytest.raises(error, match=match):
        fl.chunked_nll_sum_and_count(**bad(**changes))


def test_evaluate_lm_chunked_bad_input():
    model, _ = fl.load_tiny_model()
    with pytest.raises(TypeError, match="hidden_states"):
        fl.evaluate_lm_chunked(torch.nn.Linear(2, 2), [[1, 4, 2]])
    with pytest.raises(ValueError, match="chunk_tokens"):
        fl.evaluate_lm_chunked(model, [[1, 4, 2]], chunk_tokens=0)
    with pytest.raises(ValueError, match="no tokens"):
        fl.evaluate_lm_chunked(model, [[1]])
