"""Real clients: Hugging Face models as they are, against fl's metrics and evaluation loops.

Every model here is a GPT-2 of `transformers`, built from a config with random weights: nothing is
downloaded, no Hub is contacted (HF_HUB_OFFLINE=1, local_files_only=True, a local folder). What
is checked:

- the source's check: fl.perplexity of the shifted logits is exp(out.loss), also for a padded
  batch whose padding is labelled -100;
- fl's evaluation functions take the model as it is (its forward returns an output with .logits),
  evaluate it in eval mode and leave every submodule in the mode it had;
- fl's sliding window against the strided loop of the Hugging Face guide "Perplexity of
  fixed-length models" (transformers docs, perplexity.md), target by target;
- the optional GPT-2 cells of notebooks 02 and 03, run end to end on a saved tiny GPT-2.
"""

import ast
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import forge_lib as fl

transformers = pytest.importorskip("transformers", reason="transformers is pinned in requirements.txt")
from transformers import GPT2Config, GPT2LMHeadModel  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
VOCAB = 50
EPS32 = torch.finfo(torch.float32).eps
# bos/eos inside the tiny vocabulary and an explicit loss type: without them transformers warns.
TINY = dict(n_layer=2, n_head=2, n_embd=32, vocab_size=VOCAB, n_positions=64,
            bos_token_id=VOCAB - 1, eos_token_id=VOCAB - 1, loss_type="ForCausalLM")
DROPOUT = dict(resid_pdrop=0.5, embd_pdrop=0.5, attn_pdrop=0.5)


def tiny_gpt2(seed: int = 0, **overrides) -> GPT2LMHeadModel:
    """A randomly initialised GPT-2, the global RNG left as it was."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return GPT2LMHeadModel(GPT2Config(**{**TINY, **overrides})).eval()


def random_ids(shape: tuple[int, ...], seed: int, vocab: int = VOCAB) -> torch.Tensor:
    return torch.randint(0, vocab, shape, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """These tensors are tiny: one thread is as fast as two, and does not stall waiting for a
    second one when other programs share the CPU (measured here: 26 s for this file, not 7)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def gpt2() -> GPT2LMHeadModel:
    return tiny_gpt2()


@pytest.fixture(scope="module")
def sequences() -> list[list[int]]:
    """Ten id lists of unequal lengths (2 to 40), so batches are padded."""
    lengths = [40, 2, 17, 9, 33, 25, 3, 12, 40, 6]
    return [random_ids((n,), seed=10 + i).tolist() for i, n in enumerate(lengths)]


def reference_nll(model, sequences) -> tuple[float, int]:
    """Token-weighted reference: each sequence alone (no padding), float64 log-softmax."""
    total, count = 0.0, 0
    with torch.no_grad():
        for seq in sequences:
            ids = torch.tensor([seq])
            logp = torch.log_softmax(model(ids).logits[0, :-1].double(), dim=-1)  # (T-1, V)
            total -= float(logp.gather(1, ids[0, 1:, None]).sum())
            count += len(seq) - 1
    return total, count


# a) The source's check, and padded batches


def test_perplexity_of_shifted_logits_is_exp_of_the_hf_loss(gpt2):
    ids = random_ids((1, 40), seed=1)
    with torch.no_grad():
        out = gpt2(ids, labels=ids)  # the model shifts the labels itself
    ppl = fl.perplexity(out.logits[:, :-1], ids[:, 1:])
    assert torch.allclose(torch.tensor(ppl), out.loss.exp())  # the source's check
    # Tighter: HF's float32 mean NLL is fl's float64 one, rounded to float32 (measured: 0.6 ulp).
    assert abs(math.log(ppl) - out.loss.item()) <= 4 * EPS32 * out.loss.item()
    # ...and it can fail: without the shift the logits predict the token they already read.
    unshifted = fl.perplexity(out.logits, ids)
    assert not torch.allclose(torch.tensor(unshifted), out.loss.exp())


def test_padded_batch_with_minus_100_labels_is_token_weighted(gpt2, sequences):
    batch = fl.collate(sequences[:5])  # right-padded; labels -100 at padding, unshifted
    with torch.no_grad():
        out = gpt2(batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"])
    ppl = fl.perplexity(out.logits[:, :-1], batch["labels"][:, 1:], ignore_index=-100)
    nll, count = reference_nll(gpt2, sequences[:5])
    assert count == sum(len(s) - 1 for s in sequences[:5])
    assert abs(math.log(ppl) - nll / count) <= 4 * EPS32 * (nll / count)
    assert abs(math.log(ppl) - out.loss.item()) <= 4 * EPS32 * out.loss.item()
    # The mean of the per-sequence perplexities is not it (lengths 40 and 2 weigh the same).
    per_sequence = [fl.perplexity(out.logits[i:i + 1, :-1], batch["labels"][i:i + 1, 1:],
                                  ignore_index=-100) for i in range(5)]
    assert abs(sum(per_sequence) / 5 - ppl) > 1e-3 * ppl


# b) fl's evaluation functions take the model as it is


def test_evaluate_lm_on_a_hf_model_matches_its_logits(gpt2, sequences):
    result = fl.evaluate_lm(gpt2, sequences, batch_size=4)
    nll, count = reference_nll(gpt2, sequences)
    assert result["tokens"] == count
    assert result["nll_sum"] == pytest.approx(nll, rel=1e-6)
    assert result["perplexity"] == pytest.approx(math.exp(nll / count), rel=1e-6)


def test_chunked_and_distributed_scoring_of_a_hf_model(gpt2, sequences):
    nll, count = reference_nll(gpt2, sequences)
    chunked = fl.evaluate_lm_chunked(gpt2, sequences, batch_size=4, chunk_tokens=16)
    assert chunked["tokens"] == count
    assert chunked["nll_sum"] == pytest.approx(nll, rel=1e-6)
    metric = fl.score_batches(gpt2, list(fl.iterate_batches(sequences, 4)), fl.Perplexity(ignore_index=-100))
    assert int(metric.count) == count
    assert float(metric.nll_sum) == pytest.approx(nll, rel=1e-6)


# Llama-like models that change the logits after the LM head. initializer_range=1.0 makes the
# logits large enough for the change to show (the transformers default of 0.02 hides it): with
# a softcap of 2 the chunked perplexity was about 1.6e10 times evaluate_lm's before the fix.
LLAMA_LIKE = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=64,
                  bos_token_id=VOCAB - 1, eos_token_id=VOCAB - 1, pad_token_id=0,
                  initializer_range=1.0)
POST_HEAD = [("Gemma2", dict(head_dim=16), "final_logit_softcapping", 2.0, None),
             ("Cohere", {}, "logit_scale", 0.0625, 1.0),
             ("Granite", {}, "logits_scaling", 8.0, 1.0)]


def post_head_model(family: str, extra: dict, field: str, value: object):
    config = getattr(transformers, f"{family}Config")(**LLAMA_LIKE, **extra, **{field: value})
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return getattr(transformers, f"{family}ForCausalLM")(config).eval()


@pytest.mark.parametrize("family, extra, field, value, neutral", POST_HEAD)
def test_chunked_scoring_refuses_a_transform_after_the_lm_head(sequences, family, extra, field,
                                                               value, neutral):
    model = post_head_model(family, extra, field, value)
    with pytest.raises(ValueError, match=f"its config sets {field}={value}"):
        fl.evaluate_lm_chunked(model, sequences, batch_size=4)
    plain = post_head_model(family, extra, field, neutral)  # the same model, nothing after the head
    chunked = fl.evaluate_lm_chunked(plain, sequences, batch_size=4, chunk_tokens=16)
    assert chunked["nll_sum"] == pytest.approx(fl.evaluate_lm(plain, sequences)["nll_sum"],
                                               rel=1e-5)


def test_chunked_scoring_refuses_logits_its_config_does_not_explain(sequences, monkeypatch):
    model = post_head_model("Granite", {}, "logits_scaling", 8.0)
    # A transform fl has no name for: the probe of the first tokens catches it all the same.
    monkeypatch.delitem(fl.metrics.evaluation._POST_HEAD_FIELDS, "logits_scaling")
    with pytest.raises(ValueError, match="its logits are not hidden states @ lm_head.weight.T"):
        fl.evaluate_lm_chunked(model, sequences, batch_size=4)


@pytest.mark.parametrize("name", ["evaluate_lm", "evaluate_lm_chunked", "sequence_nll"])
def test_a_sequence_longer_than_the_hf_model_reads_is_refused_by_name(name):
    model = tiny_gpt2(n_positions=16)  # GPT-2's n_positions: max_position_embeddings to fl
    too_long = [random_ids((20,), seed=3).tolist()]  # was a raw IndexError from the embedding
    with pytest.raises(ValueError, match="input_ids: the model reads at most 16 positions.*got 20"):
        getattr(fl, name)(model, too_long)


def _stream(sequences) -> torch.Tensor:
    return torch.tensor([i for seq in sequences for i in seq])


# name -> the float each returns: an NLL sum or a perplexity
EVALUATIONS = {
    "evaluate_lm": lambda m, seqs: fl.evaluate_lm(m, seqs, batch_size=4)["nll_sum"],
    "evaluate_lm_chunked": lambda m, seqs: fl.evaluate_lm_chunked(m, seqs, batch_size=4,
                                                                  chunk_tokens=16)["nll_sum"],
    "sliding_window_nll": lambda m, seqs: fl.sliding_window_nll(m, _stream(seqs), context=16,
                                                                stride=8)[0].item(),
    "sliding_window_perplexity": lambda m, seqs: fl.sliding_window_perplexity(
        m, _stream(seqs), context=16, stride=8),
    "score_batches": lambda m, seqs: float(fl.score_batches(
        m, list(fl.iterate_batches(seqs, 4)), fl.Perplexity(ignore_index=-100)).nll_sum),
}


@pytest.fixture(scope="module")
def dropout_gpt2() -> GPT2LMHeadModel:
    model = tiny_gpt2(**DROPOUT)
    ids = random_ids((2, 20), seed=2)
    model.train()
    with torch.no_grad():  # the dropout is real: two training-mode forwards differ
        assert not torch.equal(model(ids).logits, model(ids).logits)
    return model.eval()


@pytest.mark.parametrize("name", list(EVALUATIONS))
def test_evaluation_is_in_eval_mode_and_restores_the_mode(dropout_gpt2, sequences, name):
    evaluate, model = EVALUATIONS[name], dropout_gpt2
    model.eval()
    in_eval = evaluate(model, sequences)
    assert not any(m.training for m in model.modules())  # False stays False
    model.train()
    model.transformer.h[1].eval()  # a mixed state: every submodule gets its own mode back
    before = [m.training for m in model.modules()]
    try:
        in_train = evaluate(model, sequences)
        after = [m.training for m in model.modules()]
    finally:
        model.eval()
    assert after == before  # True stays True, and the one block left in eval stays in eval
    assert in_train == in_eval  # no dropout during evaluation: the same computation, bit for bit


# c) fl's sliding window against the Hugging Face guide's strided loop


def hf_guide_strided_nll(model, ids: torch.Tensor, *, max_length: int, stride: int) -> dict:
    """The strided loop of the guide "Perplexity of fixed-length models", token-weighted.

    ids: (1, N). Each window ids[:, begin:end] gets labels = its ids, with the first
    len - trg_len set to -100; the model shifts the labels itself, so the label at the window's
    position 0 is never scored. Returns the NLL sum (the loss times the number of targets it
    averaged), that number, the guide's own count (num_valid_tokens - batch_size), the stream
    positions scored, and the number of windows.
    """
    seq_len = ids.size(1)
    nll_sum, n_targets, guide_count, scored, windows = 0.0, 0, 0, [], 0
    prev_end = 0
    for begin in range(0, seq_len, stride):
        end = min(begin + max_length, seq_len)
        trg_len = end - prev_end  # may differ from stride on the last window
        input_ids = ids[:, begin:end]
        target_ids = input_ids.clone()
        target_ids[:, :-trg_len] = -100
        with torch.no_grad():
            outputs = model(input_ids, labels=target_ids)
        averaged = target_ids[0, 1:] != -100  # the targets HF's loss averaged over, after its shift
        nll_sum += outputs.loss.double().item() * int(averaged.sum())
        n_targets += int(averaged.sum())
        guide_count += int((target_ids != -100).sum()) - target_ids.size(0)
        scored += (begin + 1 + torch.nonzero(averaged)[:, 0]).tolist()
        windows += 1
        prev_end = end
        if end == seq_len:
            break
    return {"nll": nll_sum, "count": n_targets, "guide_count": guide_count, "scored": scored,
            "windows": windows}


def fl_scored_targets(n_tokens: int, context: int, stride: int) -> list[int]:
    return [t for _, end, k in fl.window_spans(n_tokens, context=context, stride=stride)
            for t in range(end - k + 1, end + 1)]


@pytest.fixture(scope="module")
def stream() -> torch.Tensor:
    return random_ids((200,), seed=3)


@pytest.mark.parametrize("context,stride", [(16, 5), (16, 16), (31, 10), (63, 20), (12, 3)])
def test_overlapping_windows_equal_the_guide_with_max_length_context_plus_one(gpt2, stream,
                                                                              context, stride):
    # fl reads `context` ids and predicts the one after; the guide's window of max_length ids
    # predicts only max_length - 1 of them, so max_length = context + 1 gives every target the
    # same context in both. With stride < max_length the guide masks each window's position 0.
    hf = hf_guide_strided_nll(gpt2, stream[None], max_length=context + 1, stride=stride)
    nll, count = fl.sliding_window_nll(gpt2, stream, context=context, stride=stride)
    assert hf["scored"] == fl_scored_targets(len(stream), context, stride) == list(range(1, 200))
    assert count == hf["count"] == 199
    assert nll.item() == pytest.approx(hf["nll"], rel=1e-6)
    # The guide's own count, num_valid_tokens - batch_size, assumes the shift drops a valid
    # label; here position 0 is already -100, so it undercounts by one per window after the first.
    assert hf["guide_count"] == count - (hf["windows"] - 1)


@pytest.mark.parametrize("max_length", [16, 25, 33])
def test_at_stride_equal_max_length_the_guide_skips_each_windows_first_target(gpt2, stream,
                                                                              max_length):
    # Non-overlapping windows: nothing is masked, and the shift drops the label at each window's
    # position 0, so ids[k * max_length] (k >= 1) is never scored. fl (context = stride =
    # max_length) scores it as the last prediction of the window before, from max_length ids.
    n = len(stream)
    assert n % max_length != 1  # else the guide's last window is one id, a loss over nothing (NaN)
    hf = hf_guide_strided_nll(gpt2, stream[None], max_length=max_length, stride=max_length)
    nll, count = fl.sliding_window_nll(gpt2, stream, context=max_length, stride=max_length)
    firsts = list(range(max_length, n, max_length))  # the first id of every window but the first
    assert hf["windows"] == math.ceil(n / max_length) == len(firsts) + 1
    assert count == n - 1
    assert count - hf["count"] == hf["windows"] - 1
    assert sorted(set(fl_scored_targets(n, max_length, max_length)) - set(hf["scored"])) == firsts
    assert set(hf["scored"]) < set(range(1, n))
    assert hf["guide_count"] == hf["count"]  # here the guide's count formula is right
    # The difference in NLL is exactly those targets, each read after the max_length ids before it.
    windows = torch.tensor(firsts)[:, None] - max_length + torch.arange(max_length)  # (K, M)
    with torch.no_grad():
        last_logits = gpt2(stream[windows]).logits[:, -1]  # (K, V): predicts stream[firsts]
    extra, k = fl.nll_sum_and_count(last_logits, stream[firsts])
    assert k == len(firsts)
    assert nll.item() - hf["nll"] == pytest.approx(extra.item(), rel=1e-5, abs=1e-6 * nll.item())


def test_sliding_window_refuses_a_context_longer_than_the_hf_model_reads(gpt2, stream):
    with pytest.raises(ValueError, match="at most 64"):
        fl.sliding_window_nll(gpt2, stream, context=65, stride=8)


# d) The notebooks that may load huggingface_hub set HF_HUB_OFFLINE first (notebook 17 runs the
# source's GPT-2-style example on a real model; tests/course/test_assets.py covers its loaders)

def setup_cell(name: str) -> str:
    """A notebook's first code cell as plain Python: IPython's line magics (`%config` of the
    figure format) are left out, since these tests run the cell outside a kernel."""
    notebook = json.loads((ROOT / "notebooks" / name).read_text(encoding="utf-8"))
    first = next(c for c in notebook["cells"] if c["cell_type"] == "code")
    return "".join(line for line in first["source"] if not line.startswith("%"))


NOTEBOOKS = ["02_label_shifting.ipynb", "03_padding.ipynb", "17_real_model.ipynb"]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_hf_hub_offline_is_set_before_anything_imports_huggingface_hub(name):
    statements = ast.parse(setup_cell(name)).body
    sets_offline = [i for i, s in enumerate(statements) if "HF_HUB_OFFLINE" in ast.unparse(s)]
    may_import_hub = [i for i, s in enumerate(statements) if isinstance(s, (ast.Import, ast.ImportFrom))
                      and any(m in ast.unparse(s) for m in ("torchmetrics", "forge_lib",
                                                            "transformers", "huggingface_hub"))]
    assert sets_offline and may_import_hub and sets_offline[0] < min(may_import_hub)


def test_notebook_02_setup_makes_huggingface_hub_offline(tmp_path):
    """In a fresh process (this one imported huggingface_hub long ago): notebook 02's first cell
    leaves huggingface_hub imported, and offline."""
    probe = (f"exec(compile({setup_cell('02_label_shifting.ipynb')!r}, 'setup', 'exec'))\n"
             "import sys\n"
             "assert 'huggingface_hub' in sys.modules, 'the premise: torchmetrics imports it'\n"
             "import huggingface_hub.constants\n"
             "print(huggingface_hub.constants.HF_HUB_OFFLINE)\n")
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env["OMP_NUM_THREADS"] = "1"
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT / "notebooks", env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "True"
