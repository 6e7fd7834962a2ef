"""Every bad input a clear error, nothing silently wrong (issue 10, section 3).

The public API (`fl.` names), walked with the mistakes a new user makes: NaN and inf values,
empty and all-padding batches, wrong shapes, dtypes and conventions (float or uint8 ids,
additive or 0/255 masks, 0-255 images), strings where lists go, negative, zero and non-int
sizes, a data_range that does not fit the images. Each case states the error type (TypeError:
the wrong kind of object or dtype; ValueError: the right kind with bad contents) and a pattern
that its message must contain; the pattern always names the offending argument.

One table per forge_lib module. Cases found earlier live in
tests/metrics/test_bad_ids_and_metrics.py and are not repeated here.
"""

import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import forge_lib as fl

# Bad-input cases per forge_lib module: parametrized rows plus one per property test. Filled by
# table() and counted() as the module is collected; nothing is printed.
CASES: dict[str, int] = defaultdict(int)

nan, inf = math.nan, math.inf
PROPERTY = settings(max_examples=30, deadline=None, derandomize=True)


def table(module: str, *rows) -> list:
    CASES[module] += len(rows)
    return list(rows)


def counted(module: str):
    CASES[module] += 1
    return lambda test: test


def case(name: str, call, error: type[Exception], match: str, *, marks: tuple = ()):
    return pytest.param(call, error, match, id=name, marks=marks)


def refused(call, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        call()


# --- shared inputs (small, seeded) -----------------------------------------------------------------

G = torch.Generator().manual_seed(0)
IMG = torch.rand(2, 3, 16, 16, generator=G)      # [0, 1] images
IMG2 = torch.rand(2, 3, 16, 16, generator=G)
IMG_255 = IMG * 255                              # the same images as 0-255 floats
PHOTO = IMG[0]                                   # (3, H, W)
VIDEO = fl.moving_shapes_video(n_frames=4, size=16, seed=0)
LANG = fl.english_like_language()
TOK = fl.WordTokenizer(["a", "b"])               # ids: 0-3 special, 4 = "a", 5 = "b"
LOGITS = torch.randn(2, 4, 5, generator=G)       # (B, T, V)
TARGET = torch.randint(0, 5, (2, 4), generator=G)
EYE = torch.eye(2, dtype=torch.float64)
ZERO2 = torch.zeros(2, dtype=torch.float64)
LOSSES = [5.0 * 0.99 ** t + 1.0 for t in range(50)]
TINY = fl.TinyCausalLM(fl.ModelConfig(vocab_size=20, block_size=8, n_layer=1, n_head=2, d_model=8,
                                      d_ff=16))
IDS = torch.tensor([[1, 5, 6, 0]])


def with_nan(x: torch.Tensor, value: float = nan) -> torch.Tensor:
    x = x.clone()
    x.view(-1)[3] = value
    return x


def chain(edits: dict[tuple[int, int], float], dtype=torch.float64) -> torch.Tensor:
    """A transition matrix over TOK's 6 ids, zero except for the given (from, to) entries."""
    p = torch.zeros(len(TOK), len(TOK), dtype=dtype)
    for (i, j), value in edits.items():
        p[i, j] = value
    return p


BOS, EOS, PAD, A, B = fl.BOS_ID, fl.EOS_ID, fl.PAD_ID, 4, 5


# --- forge_lib.data ------------------------------------------------------------------------------

DATA = table(
    "data",
    case("tokenizer-words-None", lambda: fl.WordTokenizer(None), TypeError, "list of words"),
    case("tokenizer-words-set", lambda: fl.WordTokenizer({"a", "b"}), TypeError, "list of words"),
    case("tokenizer-words-ints", lambda: fl.WordTokenizer([1, 2]), TypeError, "non-empty str"),
    case("from_texts-a-string", lambda: fl.WordTokenizer.from_texts("the cat sat"), TypeError,
         "texts: expected a list of strings"),
    case("from_texts-max_vocab-0", lambda: fl.WordTokenizer.from_texts(["a b"], max_vocab=0),
         ValueError, "max_vocab"),
    case("from_texts-max_vocab-negative", lambda: fl.WordTokenizer.from_texts(["a b c"], max_vocab=-1),
         ValueError, "max_vocab"),
    case("from_texts-max_vocab-float", lambda: fl.WordTokenizer.from_texts(["a b"], max_vocab=1.5),
         TypeError, "max_vocab"),
    case("encode-a-list", lambda: TOK.encode(["a", "b"]), TypeError, "text: expected a str"),
    case("encode-None", lambda: TOK.encode(None), TypeError, "text: expected a str"),
    case("decode-id-past-vocab", lambda: TOK.decode([1, 99]), ValueError, r"ids: .*first: 99"),
    case("decode-negative-id", lambda: TOK.decode([1, -1]), ValueError, r"ids: .*first: -1"),
    case("decode-label-pad-minus-100", lambda: TOK.decode([1, -100, 2]), ValueError, "ids: .*-100"),
    case("decode-float-ids", lambda: TOK.decode([1.0, 4.0]), TypeError, "ids: expected a flat list"),
    case("decode-bool-ids", lambda: TOK.decode(torch.tensor([True])), TypeError, "ids"),
    case("decode-a-string", lambda: TOK.decode("4 5"), TypeError, "ids"),
    case("decode-2d-tensor", lambda: TOK.decode(torch.tensor([[1, 4]])), TypeError, "ids"),
    case("sample-zero-sentences", lambda: LANG.sample(0, seed=0), ValueError, "n_sentences"),
    case("sample-negative-sentences", lambda: LANG.sample(-3, seed=0), ValueError, "n_sentences"),
    case("sample-float-sentences", lambda: LANG.sample(2.0, seed=0), TypeError, "n_sentences"),
    case("sample-float-seed", lambda: LANG.sample(2, seed=1.5), TypeError, "seed"),
    case("sample-string-seed", lambda: LANG.sample(2, seed="1"), TypeError, "seed"),
    case("sample-None-seed", lambda: LANG.sample(2, seed=None), TypeError, "seed"),
    case("sample-max_len-0", lambda: LANG.sample(2, seed=0, max_len=0), ValueError, "max_len"),
    case("sample-sentence-past-max_len", lambda: LANG.sample(50, seed=0, max_len=3), ValueError,
         "max_len: a sentence reached 3 tokens"),
    case("language-float-seed", lambda: fl.english_like_language(0.5), TypeError, "seed"),
    case("course_split-unknown", lambda: fl.course_split("test"), ValueError, "'train', 'val'"),
    case("collate-a-string", lambda: fl.collate("abc"), TypeError, "sequences: expected a list"),
    case("collate-strings", lambda: fl.collate(["ab", "cd"]), TypeError, r"sequences\[0\]"),
    case("collate-flat-ints", lambda: fl.collate([1, 2, 3]), TypeError, r"sequences\[0\]"),
    case("collate-a-dict", lambda: fl.collate({"input_ids": [1, 2]}), TypeError, "sequences"),
    case("collate-float-tensor", lambda: fl.collate([torch.tensor([1.0, 2.0])]), TypeError,
         r"sequences\[0\]: expected a flat list of int token ids"),
    case("collate-negative-id", lambda: fl.collate([[1, -5, 2]]), ValueError, r"sequences\[0\]"),
    case("collate-minus-100-as-id", lambda: fl.collate([[1, 2], [1, -100, 2]]), ValueError,
         r"sequences\[1\]: .*-100"),
    case("collate-float-pad_id", lambda: fl.collate([[1, 2], [1]], pad_id=0.5), TypeError, "pad_id"),
    case("collate-negative-pad_id", lambda: fl.collate([[1, 2], [1]], pad_id=-1), ValueError, "pad_id"),
    case("collate-bool-pad_id", lambda: fl.collate([[1, 2], [1]], pad_id=True), TypeError, "pad_id"),
    case("collate-float-label_pad", lambda: fl.collate([[1, 2], [1]], label_pad=-100.0), TypeError,
         "label_pad"),
    case("collate-bool-label_pad", lambda: fl.collate([[1, 2], [1]], label_pad=True), TypeError,
         "label_pad"),
    case("collate-float-max_len", lambda: fl.collate([[1, 2]], max_len=2.0), TypeError, "max_len"),
    case("collate-negative-max_len", lambda: fl.collate([[1, 2]], max_len=-1), ValueError, "max_len"),
    case("iterate-a-string", lambda: list(fl.iterate_batches("abc", 2)), TypeError, "sequences"),
    case("iterate-batch_size-0", lambda: list(fl.iterate_batches([[1]], 0)), ValueError, "batch_size"),
    case("iterate-float-batch_size", lambda: list(fl.iterate_batches([[1]], 2.5)), TypeError,
         "batch_size"),
    case("count_bytes-no-tokenizer", lambda: fl.count_bytes(None, [[1]]), TypeError, "tokenizer"),
    case("count_bytes-a-string", lambda: fl.count_bytes(TOK, "ab"), TypeError, "sequences"),
    case("count_bytes-label-ids", lambda: fl.count_bytes(TOK, [[1, 4, -100]]), ValueError, "ids"),
    case("load_text_file-None", lambda: fl.load_text_file(None), TypeError, "path"),
    case("load_text_file-tokenizer-a-string", lambda: fl.load_text_file(__file__, "words"), TypeError,
         "tokenizer"),
    case("load_text_file-max_vocab-0", lambda: fl.load_text_file(__file__, max_vocab=0), ValueError,
         "max_vocab"),
    case("markov-eos-unreachable", lambda: fl.MarkovLanguage(TOK, chain({(BOS, A): 1, (A, A): 1})),
         ValueError, "transition: <eos> cannot be reached from"),
    case("markov-trap-on-a-side-branch",
         lambda: fl.MarkovLanguage(TOK, chain({(BOS, A): 0.5, (BOS, B): 0.5, (A, EOS): 1,
                                               (B, B): 1})),
         ValueError, r"<eos> cannot be reached from \['b'\]"),
    case("markov-row-not-a-distribution",
         lambda: fl.MarkovLanguage(TOK, chain({(BOS, A): 0.5, (A, EOS): 1})), ValueError,
         r"transition: the row of '<bos>' .* sums to 0.5"),
    case("markov-dead-end-word", lambda: fl.MarkovLanguage(TOK, chain({(BOS, A): 1})), ValueError,
         "row of 'a' .* sums to 0"),
    case("markov-negative-probability",
         lambda: fl.MarkovLanguage(TOK, chain({(BOS, A): 1, (A, EOS): 1.5, (A, B): -0.5})),
         ValueError, "transition: expected probabilities >= 0"),
    case("markov-into-pad", lambda: fl.MarkovLanguage(TOK, chain({(BOS, A): 1, (A, PAD): 1})),
         ValueError, "<pad>"),
    case("markov-nan", lambda: fl.MarkovLanguage(TOK, chain({(BOS, A): 1, (A, EOS): nan})),
         ValueError, "transition: expected only finite values"),
    case("markov-float32", lambda: fl.MarkovLanguage(TOK, chain({(BOS, A): 1, (A, EOS): 1},
                                                                torch.float32)),
         TypeError, "transition: expected float64"),
    case("markov-wrong-shape", lambda: fl.MarkovLanguage(TOK, torch.eye(3, dtype=torch.float64)),
         ValueError, r"transition: expected shape \(6, 6\)"),
    case("markov-a-list", lambda: fl.MarkovLanguage(TOK, chain({(BOS, EOS): 1}).tolist()), TypeError,
         "transition"),
    case("markov-tokenizer-a-list", lambda: fl.MarkovLanguage(["a", "b"], chain({(BOS, EOS): 1})),
         TypeError, "tokenizer"),
    case("true_nll-id-past-vocab", lambda: LANG.true_nll_sum_and_count([[1, 99_999, 2]]), ValueError,
         r"sentences\[0\]"),
    case("true_nll-empty-sentence", lambda: LANG.true_nll_sum_and_count([[1, 5, 2], []]), ValueError,
         r"sentences\[1\]"),
    case("true_nll-a-string", lambda: LANG.true_nll_sum_and_count("ab"), TypeError, "sentences"),
)


@pytest.mark.parametrize("call, error, match", DATA)
def test_data_bad_input(call, error, match):
    refused(call, error, match)


@counted("data")
@PROPERTY
@given(st.data())
def test_collate_names_the_sequence_with_a_negative_id(data):
    n = data.draw(st.integers(1, 6), label="batch")
    seqs = [data.draw(st.lists(st.integers(0, 300), min_size=1, max_size=8)) for _ in range(n)]
    row = data.draw(st.integers(0, n - 1), label="row")
    col = data.draw(st.integers(0, len(seqs[row]) - 1), label="col")
    seqs[row][col] = data.draw(st.integers(-10**6, -1), label="bad id")
    first_bad = min(i for i, s in enumerate(seqs) if min(s) < 0)
    refused(lambda: fl.collate(seqs), ValueError, rf"sequences\[{first_bad}\]: expected ids >= 0")


@counted("data")
@PROPERTY
@given(st.integers(2, 8), st.data())
def test_a_chain_with_a_trap_is_refused_when_built(n_words, data):
    """Random chains over n words where one reachable word only leads to itself (and words
    after it): <eos> is unreachable from there, so sampling would never end."""
    tok = fl.WordTokenizer([f"w{i}" for i in range(n_words)])
    words = list(range(4, 4 + n_words))
    trap = data.draw(st.sampled_from(words), label="trap")
    p = torch.zeros(len(tok), len(tok), dtype=torch.float64)
    p[BOS, words] = 1 / n_words  # every word is reachable from <bos>
    for w in words:
        if w == trap:
            p[w, w] = 1.0
        else:
            p[w, EOS] = 0.5
            p[w, words] += 0.5 / n_words
    refused(lambda: fl.MarkovLanguage(tok, p), ValueError, f"cannot be reached from .*'w{trap - 4}'")


# --- forge_lib.vision ----------------------------------------------------------------------------

def _psd_violation() -> torch.Tensor:
    return torch.tensor([[1.0, 2.0], [2.0, 1.0]], dtype=torch.float64)  # eigenvalues -1 and 3


VISION = table(
    "vision",
    # data_range that does not fit the images (the 48 dB mix-ups), both directions
    case("psnr-unit-images-with-range-255", lambda: fl.psnr(IMG, IMG2, data_range=255), ValueError,
         r"data_range=255 is far wider .*\[0, 1\] need data_range=1.0"),
    case("psnr-unit-images-with-range-100", lambda: fl.psnr(IMG, IMG2, data_range=100.0), ValueError,
         "data_range=100.0"),
    case("psnr-signed-images-with-range-255", lambda: fl.psnr(IMG * 2 - 1, IMG2 * 2 - 1, data_range=255),
         ValueError, "data_range=255"),
    case("ssim-unit-images-with-range-255", lambda: fl.ssim(IMG, IMG2, data_range=255), ValueError,
         "data_range=255 is far wider"),
    case("ssim-0-255-images-with-range-1", lambda: fl.ssim(IMG_255, IMG2 * 255, data_range=1.0),
         ValueError, "more than twice data_range=1.0"),
    case("psnr-uint8-images-with-range-1", lambda: fl.psnr((IMG_255).byte(), (IMG2 * 255).byte(),
                                                           data_range=1), ValueError, "data_range=1"),
    case("psnr-range-bool", lambda: fl.psnr(IMG, IMG2, data_range=True), TypeError, "data_range"),
    case("psnr-range-tensor", lambda: fl.psnr(IMG, IMG2, data_range=torch.tensor(1.0)), TypeError,
         "data_range"),
    case("psnr-range-None", lambda: fl.psnr(IMG, IMG2, data_range=None), TypeError, "data_range"),
    case("psnr-range-nan", lambda: fl.psnr(IMG, IMG2, data_range=nan), ValueError, "data_range"),
    case("psnr-range-inf", lambda: fl.psnr(IMG, IMG2, data_range=inf), ValueError, "data_range"),
    case("psnr-range-0", lambda: fl.psnr(IMG, IMG2, data_range=0), ValueError, "data_range"),
    case("ssim-range-string", lambda: fl.ssim(IMG, IMG2, data_range="1.0"), TypeError, "data_range"),
    # images of the wrong kind
    case("psnr-bool-images", lambda: fl.psnr(IMG > 0.5, IMG2 > 0.5, data_range=1), TypeError,
         "pred: expected real-valued images"),
    case("psnr-complex-images", lambda: fl.psnr(IMG.cfloat(), IMG2.cfloat(), data_range=1.0),
         TypeError, "pred: expected real-valued images"),
    case("psnr-empty-batch", lambda: fl.psnr(IMG[:0], IMG2[:0], data_range=1.0), ValueError,
         "pred: expected at least one pixel"),
    case("ssim-empty-batch", lambda: fl.ssim(IMG[:0], IMG2[:0], data_range=1.0), ValueError, "pred"),
    case("ssim-no-channels", lambda: fl.ssim(IMG[:, :0], IMG2[:, :0], data_range=1.0), ValueError,
         "pred"),
    case("psnr-nan-in-target", lambda: fl.psnr(IMG, with_nan(IMG2), data_range=1.0), ValueError,
         "target: expected only finite values, found 1 NaN"),
    case("ssim-inf-in-pred", lambda: fl.ssim(with_nan(IMG, inf), IMG2, data_range=1.0), ValueError,
         "pred: expected only finite values, found 0 NaN and 1 infinite"),
    case("psnr-lists", lambda: fl.psnr(IMG.tolist(), IMG2, data_range=1.0), TypeError,
         "pred: expected a torch.Tensor"),
    case("psnr-per_image-a-string", lambda: fl.psnr(IMG, IMG2, data_range=1.0, per_image="yes"),
         TypeError, "per_image"),
    case("psnr-per_image-without-batch", lambda: fl.psnr(IMG[0, 0, 0], IMG2[0, 0, 0], data_range=1.0,
                                                         per_image=True), ValueError, "per_image"),
    case("ssim-per_image-1", lambda: fl.ssim(IMG, IMG2, data_range=1.0, per_image=1), TypeError,
         "per_image"),
    case("ssim-5d", lambda: fl.ssim(IMG[None], IMG2[None], data_range=1.0), ValueError,
         r"pred and target: ssim expects \(B, C, H, W\)"),
    case("ssim-k1-negative", lambda: fl.ssim(IMG, IMG2, data_range=1.0, k1=-0.01), ValueError, "k1"),
    case("ssim-k1-nan", lambda: fl.ssim(IMG, IMG2, data_range=1.0, k1=nan), ValueError, "k1"),
    case("ssim-k2-zero", lambda: fl.ssim(IMG, IMG2, data_range=1.0, k2=0), ValueError, "k2"),
    case("ssim-k2-a-string", lambda: fl.ssim(IMG, IMG2, data_range=1.0, k2="0.03"), TypeError, "k2"),
    case("ssim-sigma-a-string", lambda: fl.ssim(IMG, IMG2, data_range=1.0, sigma="1.5"), TypeError,
         "sigma"),
    # Frechet distance
    case("gaussian_stats-1d", lambda: fl.gaussian_stats(torch.rand(5)), ValueError, "features"),
    case("gaussian_stats-int", lambda: fl.gaussian_stats(torch.ones(5, 2, dtype=torch.long)),
         TypeError, "features"),
    case("gaussian_stats-list", lambda: fl.gaussian_stats([[1.0, 2.0], [3.0, 4.0]]), TypeError,
         "features"),
    case("gaussian_stats-no-features", lambda: fl.gaussian_stats(torch.zeros(5, 0)), ValueError,
         "features: expected at least one feature"),
    case("gaussian_stats-one-sample", lambda: fl.gaussian_stats(torch.rand(1, 3)), ValueError,
         "features: expected at least 2 samples"),
    case("frechet-dimension-mismatch", lambda: fl.frechet_distance(torch.rand(5, 2), torch.rand(5, 3)),
         ValueError, "features_a has 2 dimensions and features_b 3"),
    case("frechet-nan-features", lambda: fl.frechet_distance(torch.rand(5, 2), with_nan(torch.rand(5, 2))),
         ValueError, "features_b"),
    case("frechet-lists", lambda: fl.frechet_distance([[1.0]], [[2.0]]), TypeError, "features_a"),
    case("frechet-eps-a-string", lambda: fl.frechet_distance(torch.rand(5, 2), torch.rand(5, 2),
                                                             eps="1e-6"), TypeError, "eps"),
    case("frechet-eps-bool", lambda: fl.frechet_distance_from_stats(ZERO2, EYE, ZERO2, EYE, eps=True),
         TypeError, "eps"),
    case("frechet-eps-inf", lambda: fl.frechet_distance_from_stats(ZERO2, EYE, ZERO2, EYE, eps=inf),
         ValueError, "eps"),
    case("frechet-stats-lists", lambda: fl.frechet_distance_from_stats([0.0], [[1.0]], [0.0], [[1.0]]),
         TypeError, "mu_a"),
    case("frechet-stats-2d-means", lambda: fl.frechet_distance_from_stats(ZERO2[None], EYE, ZERO2[None],
                                                                          EYE),
         ValueError, "mu_a, sigma_a, mu_b, sigma_b"),
    case("frechet-stats-no-dimensions", lambda: fl.frechet_distance_from_stats(
        torch.zeros(0), torch.eye(0), torch.zeros(0), torch.eye(0)), ValueError, "mu_a"),
    case("frechet-negative-definite-sigma_a", lambda: fl.frechet_distance_from_stats(ZERO2, -EYE, ZERO2,
                                                                                     EYE),
         ValueError, "sigma_a: expected a covariance matrix"),
    case("frechet-indefinite-sigma_b", lambda: fl.frechet_distance_from_stats(ZERO2, EYE, ZERO2,
                                                                              _psd_violation()),
         ValueError, "sigma_b: expected a covariance matrix"),
    case("frechet-negative-variance-sigma_b",
         lambda: fl.frechet_distance_from_stats(ZERO2, torch.diag(torch.tensor([1.0, 0.0])), ZERO2,
                                                torch.diag(torch.tensor([1.0, -4.0]))),
         ValueError, "sigma_b"),
    # feature extractors
    case("conv-features-width-0", lambda: fl.RandomConvFeatures(widths=(0,)), ValueError,
         r"widths\[0\]"),
    case("conv-features-no-widths", lambda: fl.RandomConvFeatures(widths=()), TypeError, "widths"),
    case("conv-features-negative-width", lambda: fl.RandomConvFeatures(widths=(16, -1)), ValueError,
         r"widths\[1\]"),
    case("conv-features-float-width", lambda: fl.RandomConvFeatures(widths=(1.5,)), TypeError,
         r"widths\[0\]"),
    case("conv-features-widths-an-int", lambda: fl.RandomConvFeatures(widths=16), TypeError, "widths"),
    case("conv-features-in_channels-0", lambda: fl.RandomConvFeatures(in_channels=0), ValueError,
         "in_channels"),
    case("conv-features-float-seed", lambda: fl.RandomConvFeatures(seed=1.5), TypeError, "seed"),
    case("conv-features-grey-images", lambda: fl.RandomConvFeatures()(IMG[:, :1]), ValueError,
         "images: expected 3 channels"),
    case("conv-features-3d", lambda: fl.RandomConvFeatures()(PHOTO), ValueError, "images"),
    case("conv-features-nan", lambda: fl.RandomConvFeatures()(with_nan(IMG)), ValueError, "images"),
    case("conv-features-uint8", lambda: fl.RandomConvFeatures()(IMG_255.byte()), TypeError, "images"),
    case("conv-features-0-255", lambda: fl.RandomConvFeatures()(IMG_255), ValueError,
         r"images: expected pixel values in \[0, 1\]"),
    case("extract-not-callable", lambda: fl.extract_features(None, IMG), TypeError, "extractor"),
    case("extract-empty-inputs", lambda: fl.extract_features(fl.RandomConvFeatures(), IMG[:0]),
         ValueError, "inputs"),
    case("extract-a-list", lambda: fl.extract_features(fl.RandomConvFeatures(), list(IMG)), TypeError,
         "inputs"),
    case("extract-batch_size-0", lambda: fl.extract_features(fl.RandomConvFeatures(), IMG, batch_size=0),
         ValueError, "batch_size"),
    case("extract-float-batch_size", lambda: fl.extract_features(fl.RandomConvFeatures(), IMG,
                                                                 batch_size=2.5),
         TypeError, "batch_size"),
    case("perceptual-shape-mismatch", lambda: fl.perceptual_distance(IMG, IMG2[:1]), ValueError,
         "x and y: expected the same shape"),
    case("perceptual-0-255", lambda: fl.perceptual_distance(IMG_255, IMG2 * 255), ValueError, "x"),
    case("perceptual-extractor-a-function", lambda: fl.perceptual_distance(IMG, IMG2, lambda z: z),
         TypeError, "extractor"),
    case("perceptual-empty-batch", lambda: fl.perceptual_distance(IMG[:0], IMG2[:0]), ValueError, "x"),
    case("perceptual-int-images", lambda: fl.perceptual_distance(IMG_255.long(), IMG_255.long()),
         TypeError, "x"),
    case("perceptual-nan-in-y", lambda: fl.perceptual_distance(IMG, with_nan(IMG2)), ValueError, "y"),
    # images and distortions
    case("sample-image-unknown", lambda: fl.load_sample_image("nope.jpg"), ValueError,
         "name: expected one of"),
    case("sample-image-name-an-int", lambda: fl.load_sample_image(3), TypeError, "name"),
    case("sample-image-size-0", lambda: fl.load_sample_image(size=0), ValueError, "size"),
    case("sample-image-negative-size", lambda: fl.load_sample_image(size=-5), ValueError, "size"),
    case("sample-image-float-size", lambda: fl.load_sample_image(size=32.5), TypeError, "size"),
    case("noise-negative-std", lambda: fl.add_gaussian_noise(PHOTO, -0.1), ValueError, "std"),
    case("noise-nan-std", lambda: fl.add_gaussian_noise(PHOTO, nan), ValueError, "std"),
    case("noise-inf-std", lambda: fl.add_gaussian_noise(PHOTO, inf), ValueError, "std"),
    case("noise-string-std", lambda: fl.add_gaussian_noise(PHOTO, "0.1"), TypeError, "std"),
    case("noise-0-255-images", lambda: fl.add_gaussian_noise(PHOTO * 255, 0.1), ValueError,
         r"images: expected pixel values in \[0, 1\]"),
    case("noise-uint8-images", lambda: fl.add_gaussian_noise((PHOTO * 255).byte(), 0.1), TypeError,
         "images"),
    case("noise-float-seed", lambda: fl.add_gaussian_noise(PHOTO, 0.1, seed=1.5), TypeError, "seed"),
    case("blur-negative-sigma", lambda: fl.gaussian_blur(PHOTO, -1.0), ValueError, "sigma"),
    case("blur-nan-sigma", lambda: fl.gaussian_blur(PHOTO, nan), ValueError, "sigma"),
    case("blur-inf-sigma", lambda: fl.gaussian_blur(PHOTO, inf), ValueError, "sigma"),
    case("blur-string-sigma", lambda: fl.gaussian_blur(PHOTO, "1"), TypeError, "sigma"),
    case("blur-2d-image", lambda: fl.gaussian_blur(PHOTO[0], 1.0), ValueError, "images"),
    case("blur-5d", lambda: fl.gaussian_blur(IMG[None], 1.0), ValueError, "images"),
    case("blur-wider-than-the-image", lambda: fl.gaussian_blur(PHOTO[:, :2, :2], 2.0), ValueError,
         "sigma"),
    case("blur-int-images", lambda: fl.gaussian_blur(PHOTO.long(), 1.0), TypeError, "images"),
    case("jpeg-quality-0", lambda: fl.jpeg_compress(PHOTO, 0), ValueError, "quality"),
    case("jpeg-quality-96", lambda: fl.jpeg_compress(PHOTO, 96), ValueError, "quality"),
    case("jpeg-quality-negative", lambda: fl.jpeg_compress(PHOTO, -5), ValueError, "quality"),
    case("jpeg-float-quality", lambda: fl.jpeg_compress(PHOTO, 50.7), TypeError, "quality"),
    case("jpeg-string-quality", lambda: fl.jpeg_compress(PHOTO, "50"), TypeError, "quality"),
    case("jpeg-bool-quality", lambda: fl.jpeg_compress(PHOTO, True), TypeError, "quality"),
    case("jpeg-0-255-image", lambda: fl.jpeg_compress(PHOTO * 255, 50), ValueError, "image"),
    case("jpeg-a-batch", lambda: fl.jpeg_compress(IMG, 50), ValueError, "image"),
    case("jpeg-grey-image", lambda: fl.jpeg_compress(PHOTO[:1], 50), ValueError, "image"),
    case("jpeg-nan-image", lambda: fl.jpeg_compress(with_nan(PHOTO), 50), ValueError, "image"),
    case("crops-size-0", lambda: fl.random_crops(PHOTO, 2, 0), ValueError, "size"),
    case("crops-negative-size", lambda: fl.random_crops(PHOTO, 2, -3), ValueError, "size"),
    case("crops-float-size", lambda: fl.random_crops(PHOTO, 2, 4.5), TypeError, "size"),
    case("crops-larger-than-the-image", lambda: fl.random_crops(PHOTO, 2, 17), ValueError, "size"),
    case("crops-of-a-batch", lambda: fl.random_crops(IMG, 2, 4), ValueError, "image"),
    case("crops-n-0", lambda: fl.random_crops(PHOTO, 0, 4), ValueError, "n:"),
    case("crops-string-seed", lambda: fl.random_crops(PHOTO, 2, 4, seed="a"), TypeError, "seed"),
)


@pytest.mark.parametrize("call, error, match", VISION)
def test_vision_bad_input(call, error, match):
    refused(call, error, match)


_image_shape = st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(11, 14), st.integers(11, 14))


@counted("vision")
@PROPERTY
@given(_image_shape, _image_shape)
def test_psnr_and_ssim_refuse_mismatched_shapes(shape_a, shape_b):
    a, b = torch.rand(shape_a), torch.rand(shape_b)
    if shape_a != shape_b:
        refused(lambda: fl.psnr(a, b, data_range=1.0), ValueError, "pred and target: expected the same")
        refused(lambda: fl.ssim(a, b, data_range=1.0), ValueError, "pred and target: expected the same")


@counted("vision")
@PROPERTY
@given(st.floats(2.01, 1e5), st.floats(0.0, 1.0), st.booleans())
def test_unit_images_with_a_data_range_above_2_are_refused(data_range, contrast, signed):
    x = torch.rand(1, 1, 12, 12) * contrast
    y = torch.rand(1, 1, 12, 12) * contrast
    x, y = (x * 2 - 1, y * 2 - 1) if signed else (x, y)
    for metric in (fl.psnr, fl.ssim):
        refused(lambda m=metric: m(x, y, data_range=data_range), ValueError, "data_range=.* is far wider")


@counted("vision")
@PROPERTY
@given(st.floats(0.0, 0.5), st.sampled_from([1.0, 2.0]), st.integers(0, 2**16))
def test_the_data_range_rule_passes_unclipped_noise(noise, data_range, seed):
    """The other side of the rule: [0, 1] images with unclipped noise up to +-0.5 and
    data_range 1 (or 2), and 0-255 images with data_range 255, are scored, not refused."""
    g = torch.Generator().manual_seed(seed)
    clean = torch.rand(1, 3, 12, 12, generator=g)
    noisy = clean + noise * (2 * torch.rand(clean.shape, generator=g) - 1)
    assert math.isfinite(fl.ssim(noisy, clean, data_range=data_range))
    fl.psnr(noisy, clean, data_range=data_range)
    fl.psnr(noisy * 255, clean * 255, data_range=255)
    fl.psnr((clean * 255).round().byte(), (noisy.clamp(0, 1) * 255).round().byte(), data_range=255)


@counted("vision")
@PROPERTY
@given(st.integers(0, 2 * 3 * 12 * 12 - 1), st.sampled_from([nan, inf, -inf]), st.booleans())
def test_a_single_non_finite_pixel_is_named(position, value, in_target):
    pred, target = torch.rand(2, 3, 12, 12), torch.rand(2, 3, 12, 12)
    (target if in_target else pred).view(-1)[position] = value
    name = "target" if in_target else "pred"
    refused(lambda: fl.psnr(pred, target, data_range=1.0), ValueError, f"{name}: expected only finite")


@counted("vision")
@PROPERTY
@given(st.integers(1, 6), st.integers(1, 6))
def test_frechet_distance_refuses_mismatched_feature_sizes(d_a, d_b):
    if d_a != d_b:
        refused(lambda: fl.frechet_distance(torch.rand(4, d_a), torch.rand(4, d_b)), ValueError,
                f"features_a has {d_a} dimensions and features_b {d_b}")


# --- forge_lib.video -----------------------------------------------------------------------------

FRAMES, FLOWS, VALID = VIDEO.frames, VIDEO.flows, VIDEO.valid  # (4, 3, 16, 16), (3, 2, ...), (3, 1, ...)
FEATURES = torch.rand(4, 6)  # (T, D)

VIDEO_CASES = table(
    "video",
    case("video-one-frame", lambda: fl.moving_shapes_video(n_frames=1), ValueError, "n_frames >= 2"),
    case("video-float-frames", lambda: fl.moving_shapes_video(n_frames=2.5), TypeError, "n_frames"),
    case("video-size-8", lambda: fl.moving_shapes_video(size=8), ValueError, "size >= 16"),
    case("video-negative-shapes", lambda: fl.moving_shapes_video(3, 16, n_shapes=-1), ValueError,
         "n_shapes"),
    case("video-float-shapes", lambda: fl.moving_shapes_video(3, 16, n_shapes=2.5), TypeError,
         "n_shapes"),
    case("video-bool-shapes", lambda: fl.moving_shapes_video(3, 16, n_shapes=True), TypeError,
         "n_shapes"),
    case("video-float-seed", lambda: fl.moving_shapes_video(3, 16, seed=0.5), TypeError, "seed"),
    case("dataset-no-videos", lambda: fl.moving_shapes_dataset(0), ValueError, "n_videos"),
    case("dataset-float-count", lambda: fl.moving_shapes_dataset(2.0), TypeError, "n_videos"),
    case("shuffle-one-frame", lambda: fl.shuffle_frames(FRAMES[:1]), ValueError, "frames"),
    case("shuffle-an-image", lambda: fl.shuffle_frames(FRAMES[0]), ValueError, "frames"),
    case("shuffle-int-frames", lambda: fl.shuffle_frames(FRAMES.long()), TypeError, "frames"),
    case("shuffle-a-list", lambda: fl.shuffle_frames(list(FRAMES)), TypeError, "frames"),
    case("shuffle-nan-frames", lambda: fl.shuffle_frames(with_nan(FRAMES)), ValueError, "frames"),
    case("shuffle-float-seed", lambda: fl.shuffle_frames(FRAMES, seed=0.5), TypeError, "seed"),
    case("jitter-negative-shift", lambda: fl.temporal_jitter(FRAMES, max_shift=-1), ValueError,
         "max_shift"),
    case("jitter-float-shift", lambda: fl.temporal_jitter(FRAMES, max_shift=1.5), TypeError,
         "max_shift"),
    case("jitter-string-seed", lambda: fl.temporal_jitter(FRAMES, seed="1"), TypeError, "seed"),
    case("flicker-negative-amplitude", lambda: fl.flicker(FRAMES, amplitude=-0.1), ValueError,
         "amplitude"),
    case("flicker-nan-amplitude", lambda: fl.flicker(FRAMES, amplitude=nan), ValueError, "amplitude"),
    case("flicker-string-amplitude", lambda: fl.flicker(FRAMES, amplitude="0.1"), TypeError,
         "amplitude"),
    case("flicker-0-255-frames", lambda: fl.flicker(FRAMES * 255), ValueError, "frames"),
    case("freeze-hold-0", lambda: fl.freeze_frames(FRAMES, hold=0), ValueError, "hold"),
    case("freeze-float-hold", lambda: fl.freeze_frames(FRAMES, hold=1.5), TypeError, "hold"),
    case("freeze-bool-hold", lambda: fl.freeze_frames(FRAMES, hold=True), TypeError, "hold"),
    case("cosine-1d", lambda: fl.temporal_cosine_similarity(torch.rand(5)), ValueError,
         "frame_features"),
    case("cosine-4d", lambda: fl.temporal_cosine_similarity(torch.rand(2, 2, 4, 6)), ValueError,
         "frame_features"),
    case("cosine-one-frame", lambda: fl.temporal_cosine_similarity(FEATURES[:1]), ValueError,
         "frame_features"),
    case("cosine-nan", lambda: fl.temporal_cosine_similarity(with_nan(FEATURES)), ValueError,
         "frame_features"),
    case("cosine-int", lambda: fl.temporal_cosine_similarity(FEATURES.long()), TypeError,
         "frame_features"),
    case("cosine-no-features", lambda: fl.temporal_cosine_similarity(FEATURES[:, :0]), ValueError,
         "frame_features: expected at least one feature"),
    case("cosine-per_pair-a-string", lambda: fl.temporal_cosine_similarity(FEATURES, per_pair="no"),
         TypeError, "per_pair"),
    case("frame-features-an-image", lambda: fl.frame_features(PHOTO), ValueError, "videos"),
    case("frame-features-nan", lambda: fl.frame_features(with_nan(FRAMES)), ValueError, "videos"),
    case("frame-features-0-255", lambda: fl.frame_features(FRAMES * 255), ValueError, "images"),
    case("frame-features-grey", lambda: fl.frame_features(FRAMES[:, :1]), ValueError,
         "images: expected 3 channels"),
    case("warp-a-list", lambda: fl.backward_warp([1.0], torch.zeros(1, 2, 4, 4)), TypeError, "image"),
    case("warp-3d-image", lambda: fl.backward_warp(torch.rand(1, 4, 4), torch.zeros(1, 2, 4, 4)),
         ValueError, "image"),
    case("warp-3-channel-flow", lambda: fl.backward_warp(torch.rand(1, 1, 4, 4), torch.zeros(1, 3, 4, 4)),
         ValueError, "flow: expected shape"),
    case("warp-flow-size-mismatch", lambda: fl.backward_warp(torch.rand(1, 1, 4, 4),
                                                             torch.zeros(1, 2, 5, 5)),
         ValueError, "flow"),
    case("warp-flow-batch-mismatch", lambda: fl.backward_warp(torch.rand(2, 1, 4, 4),
                                                              torch.zeros(1, 2, 4, 4)),
         ValueError, "flow"),
    case("warp-nan-flow", lambda: fl.backward_warp(torch.rand(1, 1, 4, 4),
                                                   with_nan(torch.zeros(1, 2, 4, 4))),
         ValueError, "flow"),
    case("warp-int-flow", lambda: fl.backward_warp(torch.rand(1, 1, 4, 4),
                                                   torch.zeros(1, 2, 4, 4, dtype=torch.long)),
         TypeError, "flow"),
    case("warp-int-image", lambda: fl.backward_warp(torch.zeros(1, 1, 4, 4, dtype=torch.long),
                                                    torch.zeros(1, 2, 4, 4)),
         TypeError, "image"),
    case("warping-error-nan-frames", lambda: fl.flow_warping_error(with_nan(FRAMES), FLOWS), ValueError,
         "frames"),
    case("warping-error-inf-flows", lambda: fl.flow_warping_error(FRAMES, with_nan(FLOWS, inf)),
         ValueError, "flows"),
    case("warping-error-flows-for-every-frame", lambda: fl.flow_warping_error(FRAMES, FLOWS[[0, 0, 1, 2]]),
         ValueError, "flows: expected shape"),
    case("warping-error-additive-mask", lambda: fl.flow_warping_error(
        FRAMES, FLOWS, mask=torch.where(VALID, 0.0, -1e9)), ValueError, r"mask: .*\(mask == 0\)"),
    case("warping-error-uint8-255-mask", lambda: fl.flow_warping_error(
        FRAMES, FLOWS, mask=VALID.to(torch.uint8) * 255), ValueError, "mask: expected 1"),
    case("warping-error-mask-a-list", lambda: fl.flow_warping_error(FRAMES, FLOWS, mask=[1]), TypeError,
         "mask"),
    case("warping-error-flows-a-list", lambda: fl.flow_warping_error(FRAMES, FLOWS.tolist()),
         TypeError, "flows"),
    case("warping-error-per_pair-1", lambda: fl.flow_warping_error(FRAMES, FLOWS, per_pair=1),
         TypeError, "per_pair"),
    case("farneback-a-batch", lambda: fl.estimate_flow_farneback(FRAMES[None]), ValueError, "frames"),
    case("farneback-nan", lambda: fl.estimate_flow_farneback(with_nan(FRAMES)), ValueError, "frames"),
    case("farneback-0-255", lambda: fl.estimate_flow_farneback(FRAMES * 255), ValueError,
         r"frames: expected pixel values in \[0, 1\]"),
    case("video-features-width-0", lambda: fl.RandomVideoFeatures(widths=(0,)), ValueError,
         r"widths\[0\]"),
    case("video-features-no-widths", lambda: fl.RandomVideoFeatures(widths=[]), TypeError, "widths"),
    case("video-features-in_channels-0", lambda: fl.RandomVideoFeatures(in_channels=0), ValueError,
         "in_channels"),
    case("video-features-float-seed", lambda: fl.RandomVideoFeatures(seed=1.5), TypeError, "seed"),
    case("video-features-grey-videos", lambda: fl.RandomVideoFeatures()(FRAMES[None, :, :1]),
         ValueError, "videos: expected 3 channels"),
    case("video-features-nan", lambda: fl.RandomVideoFeatures()(with_nan(FRAMES)[None]), ValueError,
         "videos"),
    case("video-features-0-255", lambda: fl.RandomVideoFeatures()(FRAMES[None] * 255), ValueError,
         "videos"),
)


@pytest.mark.parametrize("call, error, match", VIDEO_CASES)
def test_video_bad_input(call, error, match):
    refused(call, error, match)


_SIZED_CALLS = {  # a positive-int argument of each function, with everything else valid
    "hold": lambda v: fl.freeze_frames(FRAMES, hold=v),
    "n_videos": lambda v: fl.moving_shapes_dataset(v, 2, 16),
    "batch_size": lambda v: fl.extract_features(fl.RandomConvFeatures(), IMG, batch_size=v),
    "size": lambda v: fl.random_crops(PHOTO, 1, v),
    "n_sentences": lambda v: LANG.sample(v, seed=0),
}


@counted("_checks")  # the one positive-int check, reached through several modules
@PROPERTY
@given(st.sampled_from(sorted(_SIZED_CALLS)), st.one_of(st.integers(-10**9, 0),
                                                        st.floats(allow_nan=True), st.booleans()))
def test_sizes_must_be_positive_ints(name, value):
    error = ValueError if isinstance(value, int) and not isinstance(value, bool) else TypeError
    refused(lambda: _SIZED_CALLS[name](value), error, f"{name}: expected a positive int")


# --- forge_lib.metrics.diagnostics -----------------------------------------------------------------------

DIAGNOSTICS = table(
    "diagnostics",
    case("diagnose-None", lambda: fl.diagnose(None), TypeError, "train_loss"),
    case("diagnose-a-dict", lambda: fl.diagnose({"loss": 1.0}), TypeError, "train_loss"),
    case("diagnose-a-set", lambda: fl.diagnose({1.0, 2.0}), TypeError, "train_loss"),
    case("diagnose-string-elements", lambda: fl.diagnose(["1.0"] * 20), TypeError,
         r"train_loss: expected numbers only, but train_loss\[0\]"),
    case("diagnose-bool-elements", lambda: fl.diagnose([True] * 20), TypeError, "train_loss"),
    case("diagnose-nested-lists", lambda: fl.diagnose([[1.0, 2.0]] * 20), TypeError, "train_loss"),
    case("diagnose-2d-array", lambda: fl.diagnose(np.ones((3, 3))), TypeError, "train_loss"),
    case("diagnose-val_loss-a-string", lambda: fl.diagnose(LOSSES, val_loss="2.0"), TypeError,
         "val_loss"),
    case("diagnose-val_loss-bools", lambda: fl.diagnose(LOSSES, val_loss=[True, False]), TypeError,
         "val_loss"),
    case("diagnose-grad_norm-a-tensor-2d", lambda: fl.diagnose(LOSSES, grad_norm=torch.ones(50, 1)),
         ValueError, "grad_norm"),
    case("diagnose-grad_norm-strings", lambda: fl.diagnose(LOSSES, grad_norm=["1"] * 50), TypeError,
         "grad_norm"),
    case("diagnose-val_steps-without-val_loss", lambda: fl.diagnose(LOSSES, val_steps=[10, 20]),
         ValueError, "val_steps: given without val_loss"),
    case("diagnose-val_steps-floats", lambda: fl.diagnose(LOSSES, val_loss=[2.0, 1.0],
                                                          val_steps=[1.5, 3]), ValueError, "val_steps"),
    case("diagnose-val_steps-zero", lambda: fl.diagnose(LOSSES, val_loss=[2.0, 1.0], val_steps=[0, 3]),
         ValueError, "val_steps"),
    case("diagnose-floor-a-string", lambda: fl.diagnose(LOSSES, floor="1.0"), TypeError, "floor"),
    case("diagnose-floor-inf", lambda: fl.diagnose(LOSSES, floor=inf), ValueError, "floor"),
    case("diagnose-thresholds-a-dict", lambda: fl.diagnose(LOSSES, thresholds={"min_points": 5}),
         TypeError, "thresholds"),
    case("thresholds-min_points-0", lambda: fl.Thresholds(min_points=0), ValueError, "min_points"),
    case("thresholds-float-min_points", lambda: fl.Thresholds(min_points=2.5), TypeError, "min_points"),
    case("thresholds-bool-min_points", lambda: fl.Thresholds(min_points=True), TypeError, "min_points"),
    case("thresholds-string", lambda: fl.Thresholds(oscillation="0.1"), TypeError, "oscillation"),
    case("thresholds-bool", lambda: fl.Thresholds(plateau_share=True), TypeError, "plateau_share"),
    case("thresholds-inf", lambda: fl.Thresholds(floor_tol=inf), ValueError, "floor_tol"),
    case("thresholds-zero", lambda: fl.Thresholds(overfit_rise=0.0), ValueError, "overfit_rise"),
    case("curve-a-string", lambda: fl.curve_summary("4 3 2"), TypeError, "train_loss"),
    case("curve-2d-tensor", lambda: fl.curve_summary(torch.ones(2, 3)), ValueError, "train_loss"),
    case("curve-too-short", lambda: fl.curve_summary([2.0, 1.0]), ValueError, "train_loss"),
    case("curve-inf", lambda: fl.curve_summary([3.0, 2.0, inf, 1.0]), ValueError, "train_loss"),
)


@pytest.mark.parametrize("call, error, match", DIAGNOSTICS)
def test_diagnostics_bad_input(call, error, match):
    refused(call, error, match)


@counted("diagnostics")
@PROPERTY
@given(st.integers(0, 49), st.sampled_from(["0.5", None, b"1", [1.0], True]))
def test_diagnose_names_a_non_number_anywhere_in_the_history(position, bad):
    losses = list(LOSSES)
    losses[position] = bad
    refused(lambda: fl.diagnose(losses), TypeError, rf"train_loss\[{position}\]")


# --- forge_lib.course.numerics --------------------------------------------------------------------------

NUMERICS = table(
    "numerics",
    case("underflow-float-tokens", lambda: fl.underflow_case(2.0), TypeError, "n_tokens"),
    case("underflow-negative-gap", lambda: fl.underflow_case(gap=-5.0), ValueError, "gap"),
    case("underflow-zero-gap", lambda: fl.underflow_case(gap=0.0), ValueError, "gap"),
    case("underflow-string-gap", lambda: fl.underflow_case(gap="200"), TypeError, "gap"),
    case("underflow-string-margin", lambda: fl.underflow_case(margin="3.3"), TypeError, "margin"),
    case("underflow-nan-margin", lambda: fl.underflow_case(margin=nan), ValueError, "margin"),
    case("underflow-float-seed", lambda: fl.underflow_case(seed=0.5), TypeError, "seed"),
    case("naive-lists", lambda: fl.naive_perplexity([[0.0, 1.0]], [0]), TypeError, "logits"),
    case("naive-int-logits", lambda: fl.naive_perplexity(LOGITS.long(), TARGET), TypeError, "logits"),
    case("naive-float-target", lambda: fl.naive_perplexity(LOGITS, TARGET.float()), TypeError, "target"),
    case("naive-target-past-vocab", lambda: fl.naive_perplexity(LOGITS, TARGET + 5), ValueError,
         "target"),
    case("naive-nan-logits", lambda: fl.naive_perplexity(with_nan(LOGITS), TARGET), ValueError,
         "logits: expected only finite values"),
    case("naive-plus-inf-logits", lambda: fl.naive_perplexity(with_nan(LOGITS, inf), TARGET), ValueError,
         "logits"),
    case("naive-empty-batch", lambda: fl.naive_perplexity(torch.zeros(0, 3),
                                                          torch.zeros(0, dtype=torch.long)),
         ValueError, "no tokens"),
    case("overflow-edge-int-dtype", lambda: fl.exp_overflow_edge(torch.int32), TypeError, "dtype"),
    case("overflow-edge-dtype-a-string", lambda: fl.exp_overflow_edge("float32"), TypeError, "dtype"),
    case("ulp-a-string", lambda: fl.ulp("1.0", torch.float32), TypeError, "x: expected a number"),
    case("ulp-a-vector", lambda: fl.ulp(torch.tensor([1.0, 2.0]), torch.float32), ValueError, "x"),
    case("ulp-nan", lambda: fl.ulp(nan, torch.float32), ValueError, "x"),
    case("ulp-past-float16", lambda: fl.ulp(1e6, torch.float16), ValueError, "x"),
    case("ulp-dtype-a-string", lambda: fl.ulp(1.0, "float32"), TypeError, "dtype"),
    case("stall-a-string", lambda: fl.stall_point("1", torch.float32), TypeError, "increment"),
    case("stall-negative", lambda: fl.stall_point(-1.0, torch.float32), ValueError, "increment"),
    case("stall-nan", lambda: fl.stall_point(nan, torch.bfloat16), ValueError, "increment"),
    case("stall-int-dtype", lambda: fl.stall_point(1.0, torch.int64), TypeError, "dtype"),
    case("running-sum-a-string", lambda: fl.running_sum("123", torch.float32), TypeError, "values"),
    case("running-sum-None", lambda: fl.running_sum(None, torch.float32), TypeError, "values"),
    case("running-sum-nested", lambda: fl.running_sum([[1.0, 2.0]], torch.float32), TypeError,
         r"values\[0\]"),
    case("running-sum-string-elements", lambda: fl.running_sum([1.0, "2"], torch.float32), TypeError,
         r"values\[1\]"),
    case("running-sum-int-dtype", lambda: fl.running_sum([1.0], torch.int32), TypeError, "dtype"),
)


@pytest.mark.parametrize("call, error, match", NUMERICS)
def test_numerics_bad_input(call, error, match):
    refused(call, error, match)


# --- forge_lib.metrics.profiling -------------------------------------------------------------------------

PROFILING = table(
    "profiling",
    case("tracker-unknown-device", lambda: fl.MemoryTracker(device="tpu"), ValueError,
         "device: 'tpu' is not a device name"),
    case("timer-unknown-device", lambda: fl.Timer(device="gpu"), ValueError, "device"),
    case("timer-device-an-int", lambda: fl.Timer(device=0), TypeError, "device"),
    case("timer-label-None", lambda: fl.Timer(None), TypeError, "label"),
    case("tracker-trace_python-None", lambda: fl.MemoryTracker(trace_python=None), TypeError,
         "trace_python"),
    case("summarize-string-elements", lambda: fl.summarize_times(["0.1", "x"]), TypeError,
         r"times_s\[0\]"),
    case("summarize-label-an-int", lambda: fl.summarize_times([1.0], label=3), TypeError, "label"),
    case("summarize-inf", lambda: fl.summarize_times([1.0, inf]), ValueError, "times_s"),
    case("measure-fn-None", lambda: fl.measure(None), TypeError, "fn"),
    case("measure-label-an-int", lambda: fl.measure(lambda: None, repeats=1, label=5), TypeError,
         "label"),
    case("measure-unknown-device", lambda: fl.measure(lambda: None, device="tpu"), ValueError, "device"),
    case("mmap-threshold-a-string", lambda: fl.fix_mmap_threshold("1"), ValueError, "nbytes"),
)


@pytest.mark.parametrize("call, error, match", PROFILING)
def test_profiling_bad_input(call, error, match):
    refused(call, error, match)


# --- forge_lib.metrics.tb_logging ------------------------------------------------------------------------

TB_LOGGING = table(
    "tb_logging",
    case("record-None", lambda: fl.record_scalars(None), TypeError, "record"),
    case("record-a-list", lambda: fl.record_scalars([1.0]), TypeError, "record"),
    case("record-loss-a-string", lambda: fl.record_scalars({"train_loss": "2.5"}), TypeError,
         r"record\['train_loss'\]"),
    case("record-loss-None", lambda: fl.record_scalars({"train_loss": None}), TypeError,
         r"record\['train_loss'\]"),
    case("record-loss-a-vector", lambda: fl.record_scalars({"train_loss": torch.ones(2)}), ValueError,
         r"record\['train_loss'\]: expected a single number"),
    case("record-lr-a-string", lambda: fl.record_scalars({"train_loss": 1.0, "lr": "x"}), TypeError,
         r"record\['lr'\]"),
    case("record-grad_norm-None", lambda: fl.record_scalars({"train_loss": 1.0, "grad_norm": None}),
         TypeError, r"record\['grad_norm'\]"),
    case("record-val_loss-bool", lambda: fl.record_scalars({"train_loss": 1.0, "val_loss": True}),
         TypeError, r"record\['val_loss'\]"),
    case("smooth-weight-nan", lambda: fl.smooth_like_tensorboard([1.0], nan), ValueError, "weight"),
    case("smooth-weight-negative", lambda: fl.smooth_like_tensorboard([1.0], -0.1), ValueError,
         "weight"),
    case("smooth-weight-a-string", lambda: fl.smooth_like_tensorboard([1.0], "0.5"), TypeError,
         "weight"),
    case("smooth-weight-bool", lambda: fl.smooth_like_tensorboard([1.0], True), TypeError, "weight"),
    case("smooth-values-a-string", lambda: fl.smooth_like_tensorboard("123"), TypeError, "values"),
    case("smooth-values-None", lambda: fl.smooth_like_tensorboard(None), TypeError, "values"),
    case("smooth-values-nested", lambda: fl.smooth_like_tensorboard([[1.0, 2.0]]), TypeError,
         r"values\[0\]"),
    case("smooth-values-2d-tensor", lambda: fl.smooth_like_tensorboard(torch.ones(2, 2)), ValueError,
         "values"),
    case("read-scalars-None", lambda: fl.read_scalars(None), TypeError, "logdir"),
)


@pytest.mark.parametrize("call, error, match", TB_LOGGING)
def test_tb_logging_bad_input(call, error, match):
    refused(call, error, match)


TB_LOGGING_FILES = table(  # each call gets a fresh folder
    "tb_logging",
    case("logger-logdir-None", lambda tmp: fl.TensorBoardLogger(None), TypeError, "logdir"),
    case("logger-flush_secs-0", lambda tmp: fl.TensorBoardLogger(tmp, flush_secs=0), ValueError,
         "flush_secs"),
    case("logger-flush_secs-a-string", lambda tmp: fl.TensorBoardLogger(tmp, flush_secs="10"),
         TypeError, "flush_secs"),
    case("log-record-None", lambda tmp: fl.TensorBoardLogger(tmp).log(None), TypeError, "record"),
    case("log-float-step", lambda tmp: fl.TensorBoardLogger(tmp).log({"step": 1.5, "train_loss": 1.0}),
         TypeError, r"record\['step'\]"),
    case("log-string-step", lambda tmp: fl.TensorBoardLogger(tmp).log({"step": "3", "train_loss": 1.0}),
         TypeError, r"record\['step'\]"),
    case("log-negative-step", lambda tmp: fl.TensorBoardLogger(tmp).log({"step": -1, "train_loss": 1.0}),
         ValueError, r"record\['step'\]"),
    case("log-bool-step", lambda tmp: fl.TensorBoardLogger(tmp).log({"step": True, "train_loss": 1.0}),
         TypeError, r"record\['step'\]"),
    case("log-loss-a-string", lambda tmp: fl.TensorBoardLogger(tmp).log({"step": 1, "train_loss": "x"}),
         TypeError, r"record\['train_loss'\]"),
    case("read-scalars-a-file", lambda tmp: fl.read_scalars(Path(__file__)), FileNotFoundError,
         "no log folder"),
)


@pytest.mark.parametrize("call, error, match", TB_LOGGING_FILES)
def test_tb_logging_bad_input_on_disk(call, error, match, tmp_path):
    refused(lambda: call(tmp_path), error, match)


# --- forge_lib.metrics.checkpoint ------------------------------------------------------------------------

LINEAR = torch.nn.Linear(2, 1)


def _crash(fraction: object) -> None:
    with fl.simulated_crash(fraction):  # a `with`, so torch.save is restored whatever happens
        pass


CHECKPOINT = table(
    "checkpoint",
    case("improvement-best-a-string", lambda: fl.is_improvement(1.0, "2.0"), TypeError, "best"),
    case("improvement-best-nan", lambda: fl.is_improvement(1.0, nan), ValueError, "best"),
    case("improvement-best-a-vector", lambda: fl.is_improvement(1.0, torch.ones(2)), ValueError, "best"),
    case("improvement-metric-a-list", lambda: fl.is_improvement([1.0], 2.0), TypeError, "metric"),
    case("improvement-min_delta-a-string", lambda: fl.is_improvement(1.0, 2.0, min_delta="0"),
         TypeError, "min_delta"),
    case("improvement-mode-None", lambda: fl.is_improvement(1.0, 2.0, mode=None), ValueError, "mode"),
    case("capture-generator-a-string", lambda: fl.capture_rng_state("g"), TypeError, "generator"),
    case("restore-state-None", lambda: fl.restore_rng_state(None), TypeError, "state"),
    case("restore-state-empty", lambda: fl.restore_rng_state({}), ValueError, "state"),
    case("restore-generator-a-seed", lambda: fl.restore_rng_state(fl.capture_rng_state(), 0), TypeError,
         "generator"),
    case("crash-fraction-a-string", lambda: _crash("0.5"), TypeError, "fraction"),
    case("crash-fraction-negative", lambda: _crash(-0.1), ValueError, "fraction"),
    case("crash-fraction-nan", lambda: _crash(nan), ValueError, "fraction"),
)


@pytest.mark.parametrize("call, error, match", CHECKPOINT)
def test_checkpoint_bad_input(call, error, match):
    refused(call, error, match)


def _best(tmp: Path) -> fl.BestCheckpoint:
    best = fl.BestCheckpoint(tmp / "best.pt")
    best.update(1.0, step=1, model=LINEAR)
    return best


CHECKPOINT_FILES = table(  # each call gets a fresh folder
    "checkpoint",
    # values torch.load(weights_only=True) cannot read back: refused when saving, not when loading
    case("save-numpy-number", lambda tmp: fl.save_verified({"acc": np.float64(0.5)}, tmp / "a.pt"),
         TypeError, r"payload\['acc'\]: float64 values cannot be read back"),
    case("save-numpy-array", lambda tmp: fl.save_verified({"w": np.zeros(2)}, tmp / "a.pt"), TypeError,
         r"payload\['w'\]"),
    case("save-a-path", lambda tmp: fl.save_verified({"data": [tmp]}, tmp / "a.pt"), TypeError,
         r"payload\['data'\]\[0\]"),
    case("save-a-set", lambda tmp: fl.save_verified({"seen": {1, 2}}, tmp / "a.pt"), TypeError,
         r"payload\['seen'\]"),
    case("save-a-defaultdict", lambda tmp: fl.save_verified({"h": defaultdict(list)}, tmp / "a.pt"),
         TypeError, r"payload\['h'\]"),
    case("save-a-function", lambda tmp: fl.save_verified({"fn": len}, tmp / "a.pt"), TypeError,
         r"payload\['fn'\]"),
    case("update-extra-numpy", lambda tmp: _best(tmp).update(0.5, step=2, model=LINEAR,
                                                             extra={"acc": np.float32(0.9)}),
         TypeError, r"extra\['acc'\]"),
    case("update-extra-object", lambda tmp: _best(tmp).update(0.5, step=2, model=LINEAR, extra=object()),
         TypeError, "extra"),
    case("update-optimizer-a-string", lambda tmp: _best(tmp).update(0.5, step=2, model=LINEAR,
                                                                    optimizer="adam"),
         TypeError, "optimizer"),
    case("update-scheduler-a-number", lambda tmp: _best(tmp).update(0.5, step=2, model=LINEAR,
                                                                    scheduler=0.1),
         TypeError, "scheduler"),
    case("update-generator-a-seed", lambda tmp: _best(tmp).update(0.5, step=2, model=LINEAR,
                                                                  generator=0),
         TypeError, "generator"),
    case("update-metric-None", lambda tmp: _best(tmp).update(None, step=2, model=LINEAR), TypeError,
         "metric"),
    case("restore-model-None", lambda tmp: _best(tmp).restore(model=None), TypeError, "model"),
    case("restore-optimizer-a-string", lambda tmp: _best(tmp).restore(model=LINEAR, optimizer="sgd"),
         TypeError, "optimizer"),
    case("restore-rng-a-string", lambda tmp: _best(tmp).restore(model=LINEAR, rng="no"), TypeError,
         "rng"),
    case("best-path-None", lambda tmp: fl.BestCheckpoint(None), TypeError, "path"),
    case("best-min_delta-a-string", lambda tmp: fl.BestCheckpoint(tmp / "b.pt", min_delta="0.1"),
         TypeError, "min_delta"),
    case("atomic-save-missing-folder", lambda tmp: fl.atomic_save({}, tmp / "no" / "a.pt"),
         FileNotFoundError, "path: the folder 'no'"),
    case("atomic-save-onto-a-folder", lambda tmp: fl.atomic_save({}, tmp), IsADirectoryError,
         "path: .* is a folder"),
    case("atomic-save-path-None", lambda tmp: fl.atomic_save({}, None), TypeError, "path"),
    case("load-best-path-None", lambda tmp: fl.load_best_checkpoint(None), TypeError, "path"),
    case("load-verified-path-an-int", lambda tmp: fl.load_verified(3, "x", "caller", "kind"), TypeError,
         "path"),
    case("bit-flip-byte-past-the-element", lambda tmp: fl.simulated_bit_flip(_best(tmp).path,
                                                                             LINEAR.weight, byte=9),
         ValueError, "byte=9"),
)


@pytest.mark.parametrize("call, error, match", CHECKPOINT_FILES)
def test_checkpoint_bad_input_on_disk(call, error, match, tmp_path):
    refused(lambda: call(tmp_path), error, match)
    leftovers = [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name]
    assert not leftovers  # a refused save leaves no temporary file behind


# --- text, model, evaluation, training, windows, distributed, fmt ---

TEXT = table(
    "text",
    case("ppl-loss-a-string", lambda: fl.ppl_from_loss("1.0"), TypeError, "mean_nll"),
    case("ppl-loss-bool", lambda: fl.ppl_from_loss(True), TypeError, "mean_nll"),
    case("ppl-loss-None", lambda: fl.ppl_from_loss(None), TypeError, "mean_nll"),
    case("ppl-loss-a-vector", lambda: fl.ppl_from_loss(torch.ones(2)), ValueError, "mean_nll"),
    case("ppl-loss-negative", lambda: fl.ppl_from_loss(-1.0), ValueError, "mean_nll"),
    case("ppl-loss-int-dtype", lambda: fl.ppl_from_loss(1.0, dtype=torch.int32), TypeError, "dtype:"),
    case("exp-limit-int-dtype", lambda: fl.exp_limit(torch.int32), TypeError, "dtype:"),
    case("exp-limit-dtype-a-string", lambda: fl.exp_limit("float32"), TypeError, "dtype:"),
    case("bits-per-token-a-string", lambda: fl.bits_per_token("1.0"), TypeError, "mean_nll"),
    case("bits-per-byte-negative-nll", lambda: fl.bits_per_byte(-1.0, 10), ValueError, "nll_sum"),
    case("bits-per-byte-a-string", lambda: fl.bits_per_byte("1.0", 10), TypeError, "nll_sum"),
    case("bits-per-byte-float-bytes", lambda: fl.bits_per_byte(1.0, 2.5), TypeError, "n_bytes"),
    case("nll-logits-a-list", lambda: fl.nll_sum_and_count(LOGITS.tolist(), TARGET), TypeError, "logits"),
    case("nll-bool-target", lambda: fl.nll_sum_and_count(LOGITS, TARGET.bool()), TypeError, "target"),
    case("nll-4d-logits", lambda: fl.nll_sum_and_count(LOGITS[None], TARGET[None]), ValueError, "logits"),
    case("nll-unshifted-target", lambda: fl.nll_sum_and_count(LOGITS[:, :-1], TARGET), ValueError,
         "target: expected shape"),
    case("nll-complex-logits", lambda: fl.nll_sum_and_count(LOGITS.cfloat(), TARGET), TypeError,
         "logits"),
    case("nll-plus-inf-logits", lambda: fl.nll_sum_and_count(with_nan(LOGITS, inf), TARGET), ValueError,
         "logits"),
    case("nll-ignore_index-a-string", lambda: fl.nll_sum_and_count(LOGITS, TARGET, ignore_index="-100"),
         TypeError, "ignore_index"),
    case("perplexity-all-padding", lambda: fl.perplexity(LOGITS, torch.full((2, 4), -100),
                                                         ignore_index=-100),
         ValueError, "ignore_index=-100"),
    case("perplexity-empty-batch", lambda: fl.perplexity(torch.zeros(0, 5), torch.zeros(0, dtype=torch.long)),
         ValueError, "no tokens"),
    case("accuracy-empty-batch", lambda: fl.token_accuracy(torch.zeros(0, 5),
                                                           torch.zeros(0, dtype=torch.long)),
         ValueError, "empty batch"),
    case("accuracy-all-padding", lambda: fl.token_accuracy(LOGITS, torch.full((2, 4), -100),
                                                           ignore_index=-100),
         ValueError, "ignore_index=-100"),
    case("accuracy-top_k-0", lambda: fl.token_accuracy(LOGITS, TARGET, top_k=0), ValueError, "top_k"),
    case("accuracy-float-top_k", lambda: fl.token_accuracy(LOGITS, TARGET, top_k=1.0), TypeError, "top_k"),
    case("accuracy-top_k-past-vocab", lambda: fl.token_accuracy(LOGITS, TARGET, top_k=6), ValueError,
         "top_k"),
    case("shift-2d-logits", lambda: fl.shift_for_causal_lm(LOGITS[0], TARGET[0]), ValueError, "logits"),
    case("shift-one-position", lambda: fl.shift_for_causal_lm(LOGITS[:, :1], TARGET[:, :1]), ValueError,
         "T = 1"),
    case("metric-ignore_index-a-float", lambda: fl.Perplexity(ignore_index=-100.0), TypeError,
         "ignore_index"),
    case("metric-compute-before-update", lambda: fl.Perplexity().compute(), ValueError, "no tokens",
         marks=(pytest.mark.filterwarnings("ignore:The ``compute`` method"),)),
)


@pytest.mark.parametrize("call, error, match", TEXT)
def test_text_bad_input(call, error, match):
    refused(call, error, match)


MODEL = table(
    "model",
    case("config-vocab-0", lambda: fl.ModelConfig(vocab_size=0), ValueError, "vocab_size"),
    case("config-float-vocab", lambda: fl.ModelConfig(vocab_size=10.0), TypeError, "vocab_size"),
    case("config-heads-do-not-divide", lambda: fl.ModelConfig(vocab_size=10, d_model=10, n_head=3),
         ValueError, "d_model"),
    case("forward-float-ids", lambda: TINY(IDS.float()), TypeError, "input_ids"),
    case("forward-1d-ids", lambda: TINY(IDS[0]), ValueError, "input_ids"),
    case("forward-past-context", lambda: TINY(torch.ones(1, 9, dtype=torch.long)), ValueError,
         "input_ids"),
    case("forward-id-past-vocab", lambda: TINY(IDS + 100), ValueError, "input_ids"),
    case("forward-label-pad-as-id", lambda: TINY(torch.tensor([[1, 5, -100]])), ValueError, "input_ids"),
    case("forward-mask-0-255", lambda: TINY(IDS, attention_mask=torch.tensor([[255, 255, 255, 0]])),
         ValueError, "attention_mask: expected 1"),
    case("forward-mask-nan", lambda: TINY(IDS, attention_mask=torch.tensor([[1.0, nan, 1.0, 1.0]])),
         ValueError, "attention_mask"),
    case("forward-mask-wrong-shape", lambda: TINY(IDS, attention_mask=torch.ones(4)), ValueError,
         "attention_mask"),
    case("forward-mask-a-list", lambda: TINY(IDS, attention_mask=[[1, 1, 1, 0]]), TypeError,
         "attention_mask"),
    case("evaluate-a-string", lambda: fl.evaluate_lm(TINY, "the cat"), TypeError, "sequences"),
    case("evaluate-no-sentences", lambda: fl.evaluate_lm(TINY, []), ValueError, "no tokens"),
    case("evaluate-batch_size-0", lambda: fl.evaluate_lm(TINY, [[1, 5, 2]], batch_size=0), ValueError,
         "batch_size"),
    case("load-checkpoint-None", lambda: fl.load_checkpoint(None), TypeError, "path"),
)


@pytest.mark.parametrize("call, error, match", MODEL)
def test_model_bad_input(call, error, match):
    refused(call, error, match)


@counted("model")
def test_save_checkpoint_refuses_a_card_that_would_not_load(tmp_path):
    card = {"val_perplexity": np.float64(27.5)}  # float(...) would be fine; NumPy's is not
    refused(lambda: fl.save_checkpoint(TINY, tmp_path / "m.pt", card), TypeError,
            r"payload\['card'\]\['val_perplexity'\]")
    assert not list(tmp_path.iterdir())


HIDDEN, WEIGHT = torch.randn(2, 3, 8, generator=G), torch.randn(20, 8, generator=G)
TARGET_20 = torch.randint(0, 20, (2, 3), generator=G)

EVALUATION = table(
    "evaluation",
    case("nbytes-batch-0", lambda: fl.logits_nbytes(0, 1, 1), ValueError, "batch"),
    case("nbytes-float-vocab", lambda: fl.logits_nbytes(1, 1, 2.5), TypeError, "vocab"),
    case("nbytes-dtype-a-string", lambda: fl.logits_nbytes(1, 1, 1, "float32"), TypeError, "dtype"),
    case("chunked-transposed-weight", lambda: fl.chunked_nll_sum_and_count(HIDDEN, WEIGHT.T, TARGET_20,
                                                                           chunk_tokens=2),
         ValueError, "lm_head_weight"),
    case("chunked-chunk-0", lambda: fl.chunked_nll_sum_and_count(HIDDEN, WEIGHT, TARGET_20,
                                                                 chunk_tokens=0),
         ValueError, "chunk_tokens"),
    case("chunked-dtype-mismatch", lambda: fl.chunked_nll_sum_and_count(HIDDEN.double(), WEIGHT,
                                                                        TARGET_20, chunk_tokens=2),
         TypeError, "hidden and lm_head_weight"),
    case("chunked-float-target", lambda: fl.chunked_nll_sum_and_count(HIDDEN, WEIGHT, TARGET_20.float(),
                                                                      chunk_tokens=2),
         TypeError, "target"),
    case("chunked-target-past-vocab", lambda: fl.chunked_nll_sum_and_count(HIDDEN, WEIGHT, TARGET_20 + 20,
                                                                           chunk_tokens=2),
         ValueError, "target"),
    case("chunked-unshifted-target", lambda: fl.chunked_nll_sum_and_count(HIDDEN[:, :-1], WEIGHT,
                                                                          TARGET_20, chunk_tokens=2),
         ValueError, "target"),
    case("chunked-nan-hidden", lambda: fl.chunked_nll_sum_and_count(with_nan(HIDDEN), WEIGHT, TARGET_20,
                                                                    chunk_tokens=2),
         ValueError, "hidden"),
    case("chunked-ignore_index-bool", lambda: fl.chunked_nll_sum_and_count(HIDDEN, WEIGHT, TARGET_20,
                                                                           chunk_tokens=2,
                                                                           ignore_index=True),
         TypeError, "ignore_index"),
    case("chunked-eval-a-function", lambda: fl.evaluate_lm_chunked(lambda x: x, [[1, 2]]), TypeError,
         "model"),
)


@pytest.mark.parametrize("call, error, match", EVALUATION)
def test_evaluation_bad_input(call, error, match):
    refused(call, error, match)


TRAINING = table(
    "training",
    case("config-lr-0", lambda: fl.TrainConfig(lr=0), ValueError, "lr"),
    case("config-steps-0", lambda: fl.TrainConfig(steps=0), ValueError, "steps"),
    case("config-float-batch", lambda: fl.TrainConfig(batch_size=2.5), TypeError, "batch_size"),
    case("config-negative-warmup", lambda: fl.TrainConfig(warmup=-1), ValueError, "warmup"),
    case("config-unknown-schedule", lambda: fl.TrainConfig(schedule="linear"), ValueError, "schedule"),
    case("config-float16", lambda: fl.TrainConfig(dtype=torch.float16), ValueError, "dtype"),
    case("config-nan-init_std", lambda: fl.TrainConfig(init_std=nan), ValueError, "init_std"),
    case("config-nan-grad_clip", lambda: fl.TrainConfig(grad_clip=nan), ValueError, "grad_clip"),
    case("config-negative-weight_decay", lambda: fl.TrainConfig(weight_decay=-1.0), ValueError,
         "weight_decay"),
    case("config-nan-weight_decay", lambda: fl.TrainConfig(weight_decay=nan), ValueError,
         "weight_decay"),
    case("config-float-seed", lambda: fl.TrainConfig(seed=0.5), TypeError, "seed"),
    case("config-stop_on_nan-a-string", lambda: fl.TrainConfig(stop_on_nan="no"), TypeError,
         "stop_on_nan"),
    case("config-model-a-dict", lambda: fl.TrainConfig(model={"vocab_size": 5}), TypeError, "model"),
    case("config-init_std-a-string", lambda: fl.TrainConfig(init_std="0.02"), TypeError, "init_std"),
    case("stream-float-ids", lambda: fl.token_stream([[1.5, 2.0]]), TypeError, "sentences"),
    case("stream-minus-100", lambda: fl.token_stream([[1, 5, 2], [1, -100]]), ValueError, "sentences"),
    case("stream-a-string", lambda: fl.token_stream("abc"), TypeError, "sentences"),
    case("stream-no-sentences", lambda: fl.token_stream([]), ValueError, "token_stream"),
)


@pytest.mark.parametrize("call, error, match", TRAINING)
def test_training_bad_input(call, error, match):
    refused(call, error, match)


UNIFORM = lambda x: torch.zeros(*x.shape, 7)  # noqa: E731 - a model uniform over 7 tokens
STREAM = torch.arange(20) % 7

WINDOWS = table(
    "windows",
    case("spans-stride-past-context", lambda: fl.window_spans(10, context=4, stride=5), ValueError,
         "stride"),
    case("spans-one-token", lambda: fl.window_spans(1, context=4, stride=2), ValueError, "n_tokens"),
    case("spans-float-context", lambda: fl.window_spans(10, context=4.0, stride=2), TypeError, "context"),
    case("spans-stride-0", lambda: fl.window_spans(10, context=4, stride=0), ValueError, "stride"),
    case("window-2d-stream", lambda: fl.sliding_window_nll(UNIFORM, STREAM.view(2, 10), context=4,
                                                           stride=2),
         ValueError, "token_ids"),
    case("window-float-stream", lambda: fl.sliding_window_nll(UNIFORM, STREAM.float(), context=4,
                                                              stride=2),
         TypeError, "token_ids"),
    case("window-list-of-floats", lambda: fl.sliding_window_nll(UNIFORM, [0.5, 1.5, 2.5], context=4,
                                                                stride=2),
         TypeError, "token_ids"),
    case("window-a-string", lambda: fl.sliding_window_nll(UNIFORM, "abc", context=4, stride=2), TypeError,
         "token_ids"),
    case("window-model-None", lambda: fl.sliding_window_nll(None, STREAM, context=4, stride=2), TypeError,
         "model"),
    case("window-batch_size-0", lambda: fl.sliding_window_nll(UNIFORM, STREAM, context=4, stride=2,
                                                              batch_size=0),
         ValueError, "batch_size"),
    case("window-context-past-block", lambda: fl.sliding_window_nll(TINY, STREAM, context=16, stride=2),
         ValueError, "context"),
    case("window-everything-ignored", lambda: fl.sliding_window_perplexity(
        UNIFORM, torch.zeros(10, dtype=torch.long), context=4, stride=2, ignore_index=0), ValueError,
         "ignore_index=0"),
)


@pytest.mark.parametrize("call, error, match", WINDOWS)
def test_windows_bad_input(call, error, match):
    refused(call, error, match)


DISTRIBUTED = table(
    "distributed",
    case("shares-float-items", lambda: fl.uneven_shares(10.0, 2), TypeError, "n_items"),
    case("shares-no-ranks", lambda: fl.uneven_shares(10, 0), ValueError, "world_size"),
    case("shares-float-ranks", lambda: fl.uneven_shares(10, 2.0), TypeError, "world_size"),
    case("shares-negative-items", lambda: fl.uneven_shares(-1, 1), ValueError, "n_items"),
    case("val-batches-0", lambda: fl.val_batches(0), ValueError, "batch_size"),
    case("torchrun-no-processes", lambda: fl.torchrun_command(0), ValueError, "nproc"),
    case("torchrun-float-processes", lambda: fl.torchrun_command(2.5), TypeError, "nproc"),
)


@pytest.mark.parametrize("call, error, match", DISTRIBUTED)
def test_distributed_bad_input(call, error, match):
    refused(call, error, match)


FMT = table(
    "fmt",
    case("fmt-a-string", lambda: fl.fmt("1.0"), TypeError, "fmt"),
    case("fmt-None", lambda: fl.fmt(None), TypeError, "fmt"),
    case("fmt-digits-0", lambda: fl.fmt(1.0, 0), ValueError, "digits"),
    case("fmt-float-digits", lambda: fl.fmt(1.0, 2.5), TypeError, "digits"),
    case("fmt-a-vector", lambda: fl.fmt(torch.ones(2)), ValueError, "single number"),
)


@pytest.mark.parametrize("call, error, match", FMT)
def test_fmt_bad_input(call, error, match):
    refused(call, error, match)


def test_every_module_of_the_public_api_is_walked():
    walked = {"data", "vision", "video", "diagnostics", "numerics", "profiling", "tb_logging",
              "checkpoint", "text", "model", "evaluation", "training", "windows", "distributed",
              "fmt"}
    assert walked <= set(CASES) and min(CASES[module] for module in walked) >= 5
    assert sum(CASES.values()) >= 300
