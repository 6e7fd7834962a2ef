"""The course language: an English-like stochastic language with a known entropy rate, and a
word tokenizer.

Why a synthetic language: perplexity has a floor, the entropy rate of the source, and on real
text nobody knows it. Here the source is a first-order Markov chain over words, so the floor is
computed exactly, and every notebook can show how far a model is from the best possible.

    lang = fl.english_like_language()          # seeded; ~300 words in 8 word classes
    train = lang.sample(20_000, seed=1)        # list of id lists: [BOS, w1, ..., wn, EOS]
    batch = fl.collate(train[:8])              # fl.metrics' batching: labels -100 at padding
    lang.floor_perplexity()                    # exp(entropy rate per predicted token)

Your own text: `tok, seqs = fl.load_text_file("my.txt")`, one sentence per line.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import torch

from forge_lib.metrics import validation
from forge_lib.metrics.batching import PAD_ID

__all__ = ["BOS_ID", "EOS_ID", "UNK_ID", "SPECIAL_TOKENS", "WordTokenizer", "MarkovLanguage",
           "english_like_language",
           "course_split", "SPLITS", "load_text_file", "count_bytes"]


SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>", "<unk>")  # ids 0-3; <pad> is batching's PAD_ID
BOS_ID, EOS_ID, UNK_ID = 1, 2, 3


class WordTokenizer:
    """Whitespace tokenizer with a fixed vocabulary; ids 0-3 are <pad>, <bos>, <eos>, <unk>.

    >>> tok = WordTokenizer(["the", "cat"])
    >>> tok.encode("the cat the dog")
    [1, 4, 5, 4, 3, 2]
    >>> tok.decode([1, 4, 5, 2])
    'the cat'
    """

    def __init__(self, words: list[str] | tuple[str, ...]) -> None:
        if isinstance(words, str):  # list("the cat") would be a vocabulary of letters
            raise TypeError(f"WordTokenizer: expected a list of words, got the string {words[:40]!r}; "
                            f"pass words.split() or WordTokenizer.from_texts([text]).")
        if not isinstance(words, (list, tuple)):  # a set would number the words differently each run
            raise TypeError(f"WordTokenizer: expected a list of words, got {type(words).__name__}.")
        words = list(words)
        if not all(isinstance(w, str) and w for w in words):
            raise TypeError("WordTokenizer: every word must be a non-empty str.")
        clash = sorted(set(words) & set(SPECIAL_TOKENS))
        if clash or len(set(words)) != len(words):
            raise ValueError(f"WordTokenizer: words must be unique and must not include special "
                             f"tokens; got duplicates or specials {clash or 'duplicated words'}.")
        self.vocab = list(SPECIAL_TOKENS) + words
        self.ids = {word: i for i, word in enumerate(self.vocab)}

    def __len__(self) -> int:
        return len(self.vocab)

    @classmethod
    def from_texts(cls, texts: list[str], max_vocab: int | None = None) -> WordTokenizer:
        """Vocabulary of the most frequent words (ties broken alphabetically, so it is stable)."""
        if isinstance(texts, str):  # iterating a string would count its characters as texts
            raise TypeError(f"texts: expected a list of strings (one text each), got the string "
                            f"{texts[:40]!r}; pass [text].")
        if max_vocab is not None:
            validation.positive_int(max_vocab, "max_vocab")
        counts: dict[str, int] = {}
        for text in texts:
            for word in text.split():
                counts[word] = counts.get(word, 0) + 1
        ranked = sorted(counts, key=lambda w: (-counts[w], w))
        return cls(ranked[:max_vocab] if max_vocab else ranked)

    def encode(self, text: str, *, add_special: bool = True) -> list[int]:
        if not isinstance(text, str):
            raise TypeError(f"text: expected a str, got {type(text).__name__}; encode one sentence "
                            f"at a time.")
        ids = [self.ids.get(word, UNK_ID) for word in text.split()]
        return [BOS_ID, *ids, EOS_ID] if add_special else ids

    def decode(self, ids: list[int] | torch.Tensor) -> str:
        ids = validation.token_ids(ids, "ids", len(self.vocab)).tolist()
        return " ".join(self.vocab[i] for i in ids if i >= len(SPECIAL_TOKENS) or i == UNK_ID)


# Word classes of the language. A sentence walks a small grammar over classes; the word chosen
# inside a class depends on the previous word's topic, which is what a model must learn.
_WORDS = {
    "det": "the a this that every some my our their no one another".split(),
    "adj": ("small big old new red green blue quiet loud happy tired bright dark warm cold young "
            "clever slow fast heavy light strange simple busy empty gentle proud brave calm "
            "curious distant famous fragile golden hidden honest hungry lonely lucky narrow "
            "patient polite rare rough shy silent soft sudden tall thin wild wise wooden").split(),
    "noun": ("cat dog bird fish horse child teacher doctor farmer sailor king queen river "
             "forest city garden house road bridge boat train storm winter summer letter song "
             "story book lamp table window door mountain island market school engine machine "
             "robot planet star moon apple bread coffee music painting village castle tower "
             "valley desert ocean harbor station library kitchen bottle basket ladder candle "
             "mirror clock wheel rope coat hat shoe pencil map key box stone tree flower leaf "
             "cloud rain wind fire shadow friend stranger neighbor soldier baker driver "
             "student artist poet captain merchant wolf fox owl rabbit bear").split(),
    "pron": "she he they we you it someone everyone nobody".split(),
    "verb": ("sees finds builds paints carries follows watches remembers opens closes writes "
             "reads sings fixes loves hates visits crosses chases feeds sells buys leaves "
             "answers greets helps moves hides keeps wants throws catches draws cleans breaks "
             "brings takes shows pulls pushes climbs forgets imagines counts measures borrows "
             "returns protects explores studies ignores admires").split(),
    "adv": ("slowly quickly quietly often rarely never always happily suddenly carefully "
            "gladly boldly softly again").split(),
    "prep": "near under over behind beside through across into from with toward beyond".split(),
    "conj": "and but so while because".split(),
}


# Next-class probabilities; "eos" ends the sentence. Rows sum to 1.
_GRAMMAR = {
    "bos": {"det": 0.55, "pron": 0.35, "adv": 0.10},
    "det": {"adj": 0.35, "noun": 0.65},
    "adj": {"adj": 0.12, "noun": 0.88},
    "noun": {"verb": 0.50, "prep": 0.15, "conj": 0.10, "eos": 0.25},
    "pron": {"verb": 0.80, "adv": 0.20},
    "verb": {"det": 0.45, "prep": 0.15, "adv": 0.10, "pron": 0.05, "eos": 0.25},
    "adv": {"verb": 0.45, "prep": 0.15, "eos": 0.40},
    "prep": {"det": 0.85, "pron": 0.15},
    "conj": {"det": 0.45, "pron": 0.55},
}


_N_TOPICS = 6


_ZIPF_EXPONENT = 1.1


@dataclass(frozen=True)
class MarkovLanguage:
    """A first-order Markov chain over words that starts at <bos> and stops at <eos>.

    `transition[i, j]` is P(next token j | current token i) over the tokenizer's ids; the rows
    of <pad>, <eos> and <unk> are zero because those tokens are never current. Because the chain
    is absorbing at <eos>, the expected number of visits to each token per sentence, and hence
    the exact entropy rate per predicted token, follow from one linear solve.

    The chain is checked when it is built: rows of the tokens a sentence can reach are
    distributions, <pad> is never a next token, and <eos> can be reached from every token a
    sentence can reach. Without that last property a sentence may never end: `sample` would
    loop forever and the linear solve would be singular.
    """

    tokenizer: WordTokenizer
    transition: torch.Tensor  # (V, V) float64

    def __post_init__(self) -> None:
        if not isinstance(self.tokenizer, WordTokenizer):
            raise TypeError(f"tokenizer: expected a fl.WordTokenizer, got "
                            f"{type(self.tokenizer).__name__}.")
        p = validation.float_tensor(self.transition, "transition")
        vocab = len(self.tokenizer)
        if p.dtype != torch.float64:  # the entropy rate is solved exactly, in float64
            raise TypeError(f"transition: expected float64 probabilities, got {p.dtype}; call "
                            f".double() on it.")
        if tuple(p.shape) != (vocab, vocab):
            raise ValueError(f"transition: expected shape {(vocab, vocab)} (one row and one column "
                             f"per token of the tokenizer), got {tuple(p.shape)}.")
        validation.all_finite(p, "transition")
        if bool((p < 0).any()) or bool((p[:, PAD_ID] != 0).any()):
            raise ValueError("transition: expected probabilities >= 0, and 0 into <pad> (sample "
                             "uses <pad> to fill finished sentences).")
        live = self._closure(BOS_ID)  # every token a sentence can reach
        rows = p.sum(dim=1)
        bad_rows = live & ((rows - 1).abs() > 1e-9)
        bad_rows[EOS_ID] = False  # <eos> is never a current token: its row is not read
        if bool(bad_rows.any()):
            i = int(bad_rows.nonzero()[0])
            raise ValueError(f"transition: the row of {self.tokenizer.vocab[i]!r} (id {i}), a token "
                             f"sentences reach, sums to {float(rows[i]):.6g}, not 1. Normalise "
                             f"each row: p / p.sum(dim=1, keepdim=True).")
        stuck = live & ~self._closure(EOS_ID, backward=True)
        if bool(stuck.any()):
            words = [self.tokenizer.vocab[i] for i in stuck.nonzero().flatten().tolist()]
            raise ValueError(f"transition: <eos> cannot be reached from {words[:5]} ({len(words)} "
                             f"token(s) that sentences reach), so a sentence could never end and "
                             f"sample() would loop forever. Give those tokens a path to <eos>.")

    def _closure(self, start: int, *, backward: bool = False) -> torch.Tensor:
        """(V,) bool: the tokens reachable from `start` in steps of nonzero probability
        (backward=True: the tokens from which `start` is reachable). Breadth-first."""
        edges = (self.transition > 0).double()
        edges[EOS_ID] = 0.0  # nothing leaves <eos>: it ends the sentence
        if backward:
            edges = edges.T
        seen = torch.zeros(len(edges), dtype=torch.bool)
        seen[start] = True
        while True:
            grown = seen | ((seen.double() @ edges) > 0)
            if bool((grown == seen).all()):
                return seen
            seen = grown

    def sample(self, n_sentences: int, *, seed: int, max_len: int = 10_000) -> list[list[int]]:
        """Draw sentences as id lists [BOS, ..., EOS]; the same seed gives the same sentences.

        All sentences are drawn step by step together, so one run-on sentence costs memory for
        every sentence: a sentence longer than `max_len` tokens raises a ValueError.
        """
        validation.positive_int(n_sentences, "n_sentences")
        validation.positive_int(max_len, "max_len")
        gen = torch.Generator().manual_seed(validation.integer(seed, "seed"))
        cdf = self.transition.cumsum(dim=1)
        cdf[:, -1] = 1.0  # guard the last bucket against rounding below 1
        current = torch.full((n_sentences,), BOS_ID, dtype=torch.long)
        columns = [current]
        alive = torch.ones(n_sentences, dtype=torch.bool)
        while bool(alive.any()):  # all sentences step together; finished ones emit padding
            if len(columns) >= max_len:
                raise ValueError(f"max_len: a sentence reached {max_len} tokens without <eos> "
                                 f"(expected length {self.expected_tokens_per_sentence():.4g} "
                                 f"tokens). Raise max_len, or make <eos> likelier.")
            u = torch.rand(n_sentences, generator=gen, dtype=torch.float64)
            nxt = torch.searchsorted(cdf[current], u[:, None]).squeeze(1)
            nxt = torch.where(alive, nxt, torch.full_like(nxt, PAD_ID))
            columns.append(nxt)
            alive &= nxt != EOS_ID
            current = torch.where(alive, nxt, torch.full_like(nxt, BOS_ID))
        table = torch.stack(columns, dim=1)
        lengths = (table != PAD_ID).sum(dim=1).tolist()
        return [row[:n].tolist() for row, n in zip(table, lengths, strict=True)]

    def expected_visits(self) -> torch.Tensor:
        """Expected number of times each token is the current token in one sentence: (V,)."""
        vocab = self.transition.shape[0]
        # Fundamental matrix of the absorbing chain: visits = e_bos^T (I - Q)^-1.
        start = torch.zeros(vocab, dtype=torch.float64)
        start[BOS_ID] = 1.0
        eye = torch.eye(vocab, dtype=torch.float64)
        q = self.transition.clone()
        q[:, EOS_ID] = 0.0  # transitions into the absorbing state leave the transient block
        return torch.linalg.solve((eye - q).T, start)

    def entropy_rate(self) -> float:
        """Exact entropy in nats per predicted token (each word and the final <eos>).

        Over many sentences the total NLL of the true model divided by the number of predicted
        tokens converges to E[sentence entropy] / E[predicted tokens]; this computes that ratio.
        """
        p = self.transition
        row_entropy = -(torch.where(p > 0, p * p.log(), torch.zeros_like(p))).sum(dim=1)
        visits = self.expected_visits()
        return float((visits * row_entropy).sum() / visits.sum())

    def floor_perplexity(self) -> float:
        """exp(entropy rate): the lowest expected perplexity any model can reach on this language."""
        return math.exp(self.entropy_rate())

    def expected_tokens_per_sentence(self) -> float:
        """Expected number of predicted tokens (words plus <eos>) per sentence."""
        return float(self.expected_visits().sum())

    def true_nll_per_sentence(self, sentences: list[list[int]]) -> torch.Tensor:
        """NLL (nats, float64) of each sentence under the true chain: what a perfect model would
        score on it. (S,); a sentence of n ids has n - 1 targets."""
        logp = self.transition.log()
        nll = []
        for i, ids in enumerate(validation.id_lists(sentences, "sentences")):
            ids_t = validation.token_ids(ids, f"sentences[{i}]", len(self.tokenizer))
            if len(ids_t) == 0:
                raise ValueError(f"sentences[{i}]: expected at least one id ([BOS, ..., EOS]), got "
                                 f"an empty sentence.")
            nll.append(-logp[ids_t[:-1], ids_t[1:]].sum())
        return torch.stack(nll) if nll else torch.zeros(0, dtype=torch.float64)

    def true_nll_sum_and_count(self, sentences: list[list[int]]) -> tuple[float, int]:
        """Summed NLL and target count of the sentences under the true chain."""
        nll = self.true_nll_per_sentence(sentences).tolist()
        return sum(nll, 0.0), sum(len(s) - 1 for s in sentences)  # summed in order, as floats


def _zipf(n: int) -> torch.Tensor:
    weights = torch.arange(1, n + 1, dtype=torch.float64) ** -_ZIPF_EXPONENT
    return weights / weights.sum()


def english_like_language(seed: int = 0) -> MarkovLanguage:
    """Build the course's language: the grammar above, word choice by the previous word's topic.

    Each word gets a topic (one of 6). Inside a class, the next word follows a Zipf law whose
    ranking is a seeded permutation for each (topic of the previous word, class): so "the" and
    "my" lead to different favourite nouns, and a model must learn those preferences.

    >>> lang = english_like_language()
    >>> round(lang.floor_perplexity(), 3) == round(english_like_language().floor_perplexity(), 3)
    True
    """
    gen = torch.Generator().manual_seed(validation.integer(seed, "seed"))
    words = [w for cls in _WORDS for w in _WORDS[cls]]
    tok = WordTokenizer(words)
    word_class = {w: cls for cls in _WORDS for w in _WORDS[cls]}
    topic = {w: int(t) for w, t in zip(words, torch.randint(_N_TOPICS, (len(words),), generator=gen),
                                                      strict=True)}
    # (topic, class) -> probabilities over that class's words, in the class's word order.
    choice = {}
    for t in range(_N_TOPICS):
        for cls, members in _WORDS.items():
            ranks = torch.randperm(len(members), generator=gen)
            choice[t, cls] = _zipf(len(members))[ranks]
    vocab = len(tok)
    transition = torch.zeros(vocab, vocab, dtype=torch.float64)
    for current in ["<bos>", *words]:
        cls = "bos" if current == "<bos>" else word_class[current]
        t = topic.get(current, 0)
        for next_cls, p_cls in _GRAMMAR[cls].items():
            if next_cls == "eos":
                transition[tok.ids[current], EOS_ID] += p_cls
                continue
            ids = [tok.ids[w] for w in _WORDS[next_cls]]
            transition[tok.ids[current], ids] += p_cls * choice[t, next_cls]
    return MarkovLanguage(tok, transition)


# The course's fixed data: (number of sentences, sampling seed) per split.
SPLITS = {"train": (60_000, 1), "val": (4_000, 2)}


def course_split(name: str) -> list[list[int]]:
    """The sentences of split "train" or "val" of the course language, identical on every machine."""
    if not isinstance(name, str) or name not in SPLITS:  # a dict would be "unhashable"
        raise ValueError(f"name: expected one of {sorted(SPLITS)}, got {name!r:.60}.")
    n_sentences, seed = SPLITS[name]
    return english_like_language().sample(n_sentences, seed=seed)


def _tokenizer(tokenizer: object) -> WordTokenizer:
    if not isinstance(tokenizer, WordTokenizer):
        raise TypeError(f"tokenizer: expected a fl.WordTokenizer, got {type(tokenizer).__name__}.")
    return tokenizer


def count_bytes(tokenizer: WordTokenizer, sequences: list[list[int]]) -> int:
    """UTF-8 bytes of the text the sequences stand for: one line per sentence, newline included.

    The <eos> prediction pays for the newline; this is the denominator of bits per byte.
    """
    _tokenizer(tokenizer)
    validation.id_lists(sequences, "sequences")
    return sum(len(tokenizer.decode(ids).encode("utf-8")) + 1 for ids in sequences)


def _no_control_characters(lines: list[str], path: Path) -> None:
    """Refuse NUL and other control characters (tab aside): a binary file that happens to decode
    as UTF-8 would otherwise become a vocabulary of "words" such as '\x00\x01'."""
    for number, line in enumerate(lines, start=1):
        bad = next((c for c in line if unicodedata.category(c) == "Cc" and c != "\t"), None)
        if bad is not None:
            raise ValueError(f"load_text_file: {path.name!r} line {number} holds the control "
                             f"character {bad!r} (U+{ord(bad):04X}); expected plain text, one "
                             f"sentence per line. Is it a binary file? Strip such characters "
                             f"first if the text is really meant.")


def load_text_file(
    path: str | Path, tokenizer: WordTokenizer | None = None, *, max_vocab: int | None = None
) -> tuple[WordTokenizer, list[list[int]]]:
    """Read a UTF-8 text file, one sentence per non-empty line, into id lists [BOS, ..., EOS].

    Without a tokenizer, one is built from the file's words (the `max_vocab` most frequent;
    the rest become <unk>).
    """
    path = validation.path(path, "path")
    if tokenizer is not None:
        _tokenizer(tokenizer)
    if not path.is_file():
        raise FileNotFoundError(f"load_text_file: no file at {path.name!r}; expected a UTF-8 "
                                f"text file with one sentence per line.")
    try:
        # utf-8-sig: a byte-order mark (Windows editors write one) is not part of the first word
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"load_text_file: {path.name!r} is not UTF-8 text (byte {exc.start}: "
                         f"{exc.reason}). Re-save it as UTF-8, or decode it yourself and pass "
                         f"the sentences to fl.WordTokenizer.from_texts.") from exc
    lines = [line.strip() for line in text.splitlines()]
    _no_control_characters(lines, path)
    lines = [line for line in lines if line]
    if not lines:
        raise ValueError(f"load_text_file: {path.name!r} has no non-empty lines.")
    tokenizer = tokenizer or WordTokenizer.from_texts(lines, max_vocab=max_vocab)
    return tokenizer, [tokenizer.encode(line) for line in lines]
