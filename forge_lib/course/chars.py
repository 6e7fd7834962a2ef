"""The character-level twin of a word language: the same texts cut into characters, and the true
model's exact probability of every character, derived from the word model.

Why: bits per byte is said to compare models whose tokenizers differ. Here that is measured,
not asserted: a document's text is "w1 w2 ... wm" plus a newline, whether it is fed as words
[BOS, w1, ..., wm, EOS] or as characters [BOS, 'w', '1', ' ', ..., EOS] (<eos> stands for the
newline in both). The true model assigns each text one probability, so its summed NLL, and hence
its bits per byte, is the same under both tokenizations, while its per-token perplexity is not:
the same nats are spread over about 5.3 times more tokens.

    lang = fl.topic_language()                         # or fl.TopicLanguage.from_markov(...)
    chars, char_docs = fl.char_documents(lang.tokenizer, docs)
    fl.char_token_nll(lang, docs)                      # (M,) nats per character target
    fl.next_char_probs(lang, "the cat se")             # {'e': ..., 'l': ...}: the next character

How the character probabilities follow from the word model: the probability that the text
starts with a string is the mass of all documents whose text starts with it. After complete
words with history h and a partial word u, that is P(h) * S_h(u), where S_h(u) sums the word
predictor p(v | h) over the words v that start with u. So the next character c has probability
S_h(u + c) / S_h(u); after a complete word w the separator is " " with probability
p(w | h) * P(a word follows h w) / S_h(w) and the newline (<eos>) with p(w | h) *
p(<eos> | h w) / S_h(w). Multiplied along a text, the ratios cancel to p(document) exactly.
A space announces another word, so the first letter after it divides by S_h(""), the mass of
the words; the first letter of a text divides by 1 (an empty document is a newline alone).
"""

from __future__ import annotations

from functools import lru_cache

import torch

from forge_lib.course.language import BOS_ID, EOS_ID, SPECIAL_TOKENS, UNK_ID, WordTokenizer
from forge_lib.course.topics import TopicLanguage
from forge_lib.metrics import validation
from forge_lib.metrics.batching import PAD_ID

__all__ = ["CharTokenizer", "char_documents", "char_token_nll", "next_char_probs"]

_FIRST_WORD = len(SPECIAL_TOKENS)  # ids below are <pad>, <bos>, <eos>, <unk>


class CharTokenizer:
    """One id per character; ids 0-3 are <pad>, <bos>, <eos>, <unk>, and <eos> stands for the
    newline that ends a text, as in the word tokenization.

    >>> tok = CharTokenizer(" act")
    >>> tok.encode("a cat")
    [1, 5, 4, 6, 5, 7, 2]
    >>> tok.decode(tok.encode("a cat"))
    'a cat'
    """

    def __init__(self, chars: str) -> None:
        if not isinstance(chars, str):
            raise TypeError(f"chars: expected a str of distinct characters, got "
                            f"{type(chars).__name__}.")
        if not chars or len(set(chars)) != len(chars) or "\n" in chars:
            raise ValueError(f"chars: expected distinct characters without the newline (<eos> "
                             f"stands for it), got {chars[:40]!r}.")
        self.vocab = list(SPECIAL_TOKENS) + list(chars)
        self.ids = {c: i for i, c in enumerate(self.vocab) if i >= _FIRST_WORD}

    def __len__(self) -> int:
        return len(self.vocab)

    @classmethod
    def from_words(cls, tokenizer: WordTokenizer) -> CharTokenizer:
        """The characters of a word tokenizer's words, sorted, plus the space between words.

        >>> len(CharTokenizer.from_words(WordTokenizer(["ab", "ba"])))
        7
        """
        _word_tokenizer(tokenizer)
        return cls("".join(sorted({" ", *"".join(tokenizer.vocab[_FIRST_WORD:])})))

    def encode(self, text: str) -> list[int]:
        """[BOS, one id per character, EOS]; a character outside the vocabulary is <unk>."""
        if not isinstance(text, str):
            raise TypeError(f"text: expected a str, got {type(text).__name__}.")
        return [BOS_ID, *(self.ids.get(c, UNK_ID) for c in text), EOS_ID]

    def decode(self, ids: list[int] | torch.Tensor) -> str:
        """The text of the ids, specials dropped."""
        ids = validation.token_ids(ids, "ids", len(self.vocab)).tolist()
        return "".join(self.vocab[i] for i in ids if i >= _FIRST_WORD)


def _word_tokenizer(tokenizer: object) -> WordTokenizer:
    if not isinstance(tokenizer, WordTokenizer):
        raise TypeError(f"tokenizer: expected a fl.WordTokenizer, got {type(tokenizer).__name__}.")
    bad = [w for w in tokenizer.vocab[_FIRST_WORD:] if any(c.isspace() for c in w)]
    if bad:  # "a b" as one word would make two tokenizations of one text
        raise ValueError(f"tokenizer: words must not contain whitespace (the text must split back "
                         f"into the same words), got {bad[:3]}.")
    return tokenizer


def char_documents(tokenizer: WordTokenizer, documents: list[list[int]]
                   ) -> tuple[CharTokenizer, list[list[int]]]:
    """The documents' texts as character ids [BOS, c1, ..., EOS], and the character tokenizer.

    The texts are the ones fl.count_bytes counts, so a character model's bits per byte uses
    the same denominator as a word model's.

    >>> tok = WordTokenizer(["a", "cat"])
    >>> chars, docs = char_documents(tok, [[1, 4, 5, 2]])
    >>> chars.decode(docs[0]), len(docs[0]) - 1
    ('a cat', 6)
    """
    chars = CharTokenizer.from_words(_word_tokenizer(tokenizer))
    validation.id_lists(documents, "documents")
    return chars, [chars.encode(tokenizer.decode(ids)) for ids in documents]


class _Prefixes:
    """Every prefix of every word ("" included), and which words start with it: a 0/1 matrix,
    so S_h(u) for many (h, u) pairs is one gathered row product."""

    def __init__(self, tokenizer: WordTokenizer) -> None:
        words = tokenizer.vocab[_FIRST_WORD:]
        prefixes = sorted({w[:i] for w in words for i in range(len(w) + 1)})
        self.row = {u: i for i, u in enumerate(prefixes)}
        # (P + 1, V): the last row, all zeros, stands for a string no word starts with
        self.starts = torch.zeros(len(prefixes) + 1, len(tokenizer), dtype=torch.float64)
        for v, w in enumerate(words, start=_FIRST_WORD):
            self.starts[[self.row[w[:i]] for i in range(len(w) + 1)], v] = 1.0

    def mass(self, probs: torch.Tensor, prefixes: list[str]) -> torch.Tensor:
        """S(u) for each row of probs (N, V) and its prefix (N,): the mass of words starting with u."""
        rows = self.starts[[self.row.get(u, -1) for u in prefixes]]  # (N, V)
        return (probs * rows).sum(dim=1)


@lru_cache(maxsize=4)
def _prefixes(tokenizer: WordTokenizer) -> _Prefixes:
    return _Prefixes(tokenizer)


def _language(language: object) -> TopicLanguage:
    if not isinstance(language, TopicLanguage):
        raise TypeError(f"language: expected a fl.TopicLanguage (for the course language: "
                        f"fl.TopicLanguage.from_markov(fl.english_like_language())), got "
                        f"{type(language).__name__}.")
    _word_tokenizer(language.tokenizer)
    if bool((language.transitions[:, :, [PAD_ID, UNK_ID]] != 0).any()):
        raise ValueError("language: expected no transitions into <unk> (it has no text, so the "
                         "characters could not account for its probability).")
    return language


def char_token_nll(language: TopicLanguage, documents: list[list[int]]) -> torch.Tensor:
    """(M,) exact NLL in nats of each character target of the documents' texts (the characters
    and the final <eos> of each, in order), under the true model; sums to the word-level NLL.

    >>> import forge_lib as fl
    >>> lang = TopicLanguage.from_markov(fl.english_like_language())
    >>> docs = lang.sample(20, seed=0)
    >>> words, chars = lang.token_nll(docs), char_token_nll(lang, docs)
    >>> abs(float(chars.sum() - words.sum())) < 1e-9, len(chars) > 4 * len(words)
    (True, True)
    """
    language = _language(language)
    prefixes = _prefixes(language.tokenizer)
    validation.id_lists(documents, "documents")
    out = []
    for ids in documents:
        probs = language.next_token_probs(ids)  # (n - 1, V): row j predicts ids[j + 1]
        words = [language.tokenizer.vocab[i] for i in ids[1:-1]]
        if not words:  # an empty document: the newline alone
            out.append(-probs[0, EOS_ID].log().reshape(1))
            continue
        rows, num, den = [], [], []  # each character target: S(num prefix) / S(den prefix) of a row
        for j, w in enumerate(words):
            for i in range(len(w)):
                rows.append(j)
                num.append(w[:i + 1])
                den.append(w[:i])
        s_num = prefixes.mass(probs[rows], num)
        s_den = prefixes.mass(probs[rows], den)
        first = torch.tensor([i == 0 for j, w in enumerate(words) for i in range(len(w))])
        starts = torch.tensor([j == 0 for j, w in enumerate(words) for _ in w])
        s_den = torch.where(first & starts, torch.ones_like(s_den), s_den)  # a text's first letter
        letters = s_num / s_den
        # Separators: after word j, " " (another word) or <eos>; row j + 1 predicts what follows.
        j = torch.arange(len(words))
        ids_t = torch.as_tensor(ids)
        word_p = probs[j, ids_t[1:-1]]
        after = probs[1:]  # (m, V): the prediction after each word
        s_word = prefixes.mass(probs[j], words)
        more = after[:, _FIRST_WORD:].sum(dim=1)  # mass of "a word follows"
        sep = word_p * torch.where(j < len(words) - 1, more, after[:, EOS_ID]) / s_word
        order = torch.argsort(torch.tensor([k for k, w in enumerate(words) for _ in w]
                                           + list(range(len(words)))), stable=True)
        per_char = torch.cat([letters, sep])[order]  # each word's letters, then its separator
        out.append(-per_char.log())
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.float64)


def next_char_probs(language: TopicLanguage, text: str) -> dict[str, float]:
    """The true model's distribution of the character after `text` (a prefix of a document's
    text); "\\n" is the end of the document (<eos>). Zero-probability characters are left out.

    >>> import forge_lib as fl
    >>> lang = TopicLanguage.from_markov(fl.english_like_language())
    >>> probs = next_char_probs(lang, "the ca")
    >>> sorted(probs), round(sum(probs.values()), 12)
    (['l', 'n', 'p', 's', 't'], 1.0)
    """
    language = _language(language)
    if not isinstance(text, str) or "\n" in text:
        raise TypeError(f"text: expected a str without the newline (it ends a text), got "
                        f"{text!r:.60}.")
    tok = language.tokenizer
    *complete, partial = text.split(" ")
    unknown = [w for w in complete if w not in tok.ids or tok.ids[w] < _FIRST_WORD]
    if unknown:  # a double space or a leading one shows up as the unknown word ''
        raise ValueError(f"text: expected complete words of the language separated by single "
                         f"spaces, got {unknown[:3] or text[-20:]!r}.")
    history = [BOS_ID, *(tok.ids[w] for w in complete)]
    probs = language.next_token_probs([*history, EOS_ID])[-1]  # (V,) p(next word | history)
    prefixes = _prefixes(tok)
    letters = {c: u for c in {w[len(partial)] for w in tok.vocab[_FIRST_WORD:]
                              if w.startswith(partial) and len(w) > len(partial)}
               for u in [partial + c]}
    mass = {c: float(prefixes.mass(probs[None], [u])) for c, u in letters.items()}
    if partial in tok.ids and tok.ids[partial] >= _FIRST_WORD:  # a complete word: separators
        after = language.next_token_probs([*history, tok.ids[partial], EOS_ID])[-1]
        word_p = float(probs[tok.ids[partial]])
        mass[" "] = word_p * float(after[_FIRST_WORD:].sum())
        mass["\n"] = word_p * float(after[EOS_ID])
    if not text:  # the start of a text: an empty document is possible
        mass["\n"] = float(probs[EOS_ID])
    # The probability of the text so far, relative to the history's: 1 at the start, else
    # S_h(partial) (S_h("") after a space). Dividing by it, not by the sum of the masses above,
    # keeps "these probabilities sum to 1" a check of the derivation.
    total = 1.0 if not text else float(prefixes.mass(probs[None], [partial]))
    if not total > 0:  # 0, or NaN when the complete words themselves are impossible
        raise ValueError(f"text: expected a text of the language; {text[-40:]!r} has "
                         f"probability 0 under it.")
    return {c: m / total for c, m in sorted(mass.items()) if m > 0}
