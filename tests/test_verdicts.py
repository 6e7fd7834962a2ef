"""A verdict never contradicts its own numbers (issue 18, section 3).

A claim check ends with a verdict: a Markdown paragraph opening `**Verdict...`, or a printed line
starting `Verdict` (none print one yet; they would be read the same way). Where a verdict states
a relation between numbers mechanically, it is parsed here and recomputed from the numbers as
printed: an identity ("exp(2.3) = 9.97"), a ratio ("grows 58,070 times (36.47 to 2.118e+06)"),
a fraction ("0.579 (11 of 19)"), an order ("higher, 3.751 against 3.737"), "A is within B of C",
"A > B". Each printed number stands for an interval (fl.fmt prints 4 significant digits, so
27.08 is 27.075 to 27.085): a relation holds when it holds for some values in those intervals.
tests/test_prose_numbers.py checks that the numbers themselves are printed by a cell.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))
N = r"(-?\d[\d,]*(?:\.\d+)?(?:e[+-]?\d+)?)"  # a number as fl.fmt prints it (27.08, 148,900, 2.1e+06)
FUNCTIONS = {"exp": math.exp, "sqrt": math.sqrt, "ln": math.log, "log2": math.log2, "log10": math.log10}
WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}


@dataclass(frozen=True)
class Num:
    """A printed number: the interval [lo, hi] of the values that print as it."""

    lo: float
    hi: float

    @classmethod
    def parse(cls, text: str) -> Num:
        plain = text.replace(",", "")
        mantissa, _, exponent = plain.partition("e")
        if "." in mantissa:
            unit = 10.0 ** -len(mantissa.split(".")[1])
        else:  # an integer: fl.fmt prints counts exact, and rounds others to 4 significant
            digits = mantissa.lstrip("-")  # digits, so 148,900 may be 148,850 to 148,950
            rounded = len(digits) > 4 and set(digits[4:]) == {"0"}
            unit = 10.0 ** (len(digits) - 4) if rounded else 1.0
        value, half = float(plain), 0.5 * unit * 10.0 ** int(exponent or 0)
        return cls(value - half * (1 + 1e-9), value + half * (1 + 1e-9))

    def __truediv__(self, other: Num) -> Num:
        ends = [a / b for a in (self.lo, self.hi) for b in (other.lo, other.hi)]
        return Num(min(ends), max(ends))

    def meets(self, other: Num) -> bool:
        return self.lo <= other.hi and other.lo <= self.hi


def _exact(x: float) -> Num:
    return Num(x, x)


def _count(text: str) -> Num:
    """A count (11 of 19): an exact integer."""
    return _exact(float(text.replace(",", "")))


def _evaluate(expression: str) -> float:
    if not re.fullmatch(r"[\d.\s+\-*/]+", expression):
        raise ValueError(expression)
    return eval(expression, {"__builtins__": {}})  # digits and + - * / only, checked above


def _identity(m: re.Match) -> bool:
    function, argument, stated = m.groups()
    return Num.parse(stated).meets(_exact(FUNCTIONS[function](_evaluate(argument))))


def _power(m: re.Match) -> bool:
    base, exponent, stated = m.groups()
    return Num.parse(stated).meets(_exact(float(int(base) ** int(exponent))))


def _ratio(numerator: str | Num, denominator: str | Num, stated: str) -> bool:
    def read(x: str | Num) -> Num:
        return x if isinstance(x, Num) else Num.parse(x)
    return (read(numerator) / read(denominator)).meets(Num.parse(stated))


def _order(m: re.Match) -> bool:
    word, a, b = m.groups()
    a, b = Num.parse(a), Num.parse(b)
    return a.hi > b.lo if word in ("higher", "larger", "more", "above") else a.lo < b.hi


def _steps(m: re.Match) -> bool:
    count, direction, a, b = m.groups()
    count = WORDS.get(count) or int(count)
    return float(a) - float(b) == (count if direction == "later" else -count)


def _close(m: re.Match) -> bool:
    # "close to" is a loose claim; read it as within 10%, so 115 close to 107 holds and 2 to 3 not.
    a, b = Num.parse(m.group(1)), Num.parse(m.group(2))
    return (a / b).meets(Num(0.9, 1.1))


def _within(m: re.Match) -> bool:
    a, margin, c = (Num.parse(x) for x in m.groups())
    return a.lo - c.hi <= margin.hi and c.lo - a.hi <= margin.hi


def _compare(m: re.Match) -> bool:
    a, op, b = m.groups()
    a, b = Num.parse(a), Num.parse(b)
    return {">": a.hi > b.lo, "<": a.lo < b.hi, ">=": a.hi >= b.lo, "<=": a.lo <= b.hi}[op]


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: str
    holds: Callable[[re.Match], bool]
    in_course: bool = True  # the course states it today (a rule nothing matches is dead)


RULES = [
    Rule("identity", r"\b(exp|sqrt|ln|log2|log10)\(([\d.\s+\-*/]+)\) = " + N, _identity),
    Rule("power", r"\b(\d+)(?:\^\{?|\*\*)(\d+)\}? = " + N, _power),
    Rule("uniform guess", r"uniform guess over " + N + r" tokens \(" + N + r" nats\)",
         lambda m: Num.parse(m.group(2)).meets(_exact(math.log(float(m.group(1).replace(",", "")))))),
    Rule("grows R times (A to B)", N + r" times \(" + N + " to " + N + r"\)",
         lambda m: _ratio(m.group(3), m.group(2), m.group(1))),
    Rule("from A to B, an inflation of R", "from " + N + " to " + N + ", an inflation of " + N,
         lambda m: _ratio(m.group(2), m.group(1), m.group(3))),
    Rule("A where ... B (R times higher)",
         N + r" where [^.;()]*? " + N + r" \(" + N + r" times (?:higher|more|larger)\)",
         lambda m: _ratio(m.group(2), m.group(1), m.group(3))),
    Rule("F (K of M)", N + r" \(" + N + " of " + N + r"\)",
         lambda m: _ratio(_count(m.group(2)), _count(m.group(3)), m.group(1))),
    Rule("M targets and K of them (F)", N + r" targets and " + N + r" of them [^()]*\([^()]*?" + N + r"\)",
         lambda m: _ratio(_count(m.group(2)), _count(m.group(1)), m.group(3))),
    Rule("bytes in MiB", N + r" bytes counted in MiB, 2\*\*20 bytes: " + N,
         lambda m: _ratio(m.group(1), _exact(2.0**20), m.group(2))),
    Rule("higher, A against B", r"\b(higher|lower|larger|smaller), " + N + " against " + N, _order),
    Rule("k steps later (step A instead of B)",
         r"\b(one|two|three|four|five|\d+) steps? (later|earlier) than without \(step " + N
         + " instead of " + N + r"\)", _steps),
    Rule("R times ..., close to S", N + r" times[^.;]*?, close to the " + N, _close),
    Rule("A is within B of C", N + " is within " + N + " of " + N, _within, in_course=False),
    Rule("A > B", N + r" (>=|<=|>|<) " + N, _compare, in_course=False),
]


def _plain(text: str) -> str:
    """Markdown as a sentence reader sees it: no emphasis, code ticks or math dollars, one space."""
    def emphasis(m: re.Match) -> str:  # ** is bold, except between digits (2**20)
        between_digits = m.start() and m.string[m.start() - 1].isdigit() and m.string[m.end():][:1].isdigit()
        return m.group(0) if between_digits else ""
    return re.sub(r"\s+", " ", re.sub(r"\*+", emphasis, re.sub(r"[`$]", "", text)))


def verdicts(nb: dict) -> list[tuple[int, str]]:
    """(cell index, text) of every verdict: a Markdown paragraph from '**Verdict' to the next
    heading, or a printed line starting 'Verdict'."""
    found = []
    for index, cell in enumerate(nb["cells"]):
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            for start in (m.start() for m in re.finditer(r"\*\*Verdict", source)):
                rest = source[start:]
                heading = re.search(r"^#{1,6} ", rest, flags=re.M)
                found.append((index, _plain(rest[:heading.start()] if heading else rest)))
        for output in cell.get("outputs", []):
            text = "".join(output.get("text", "")) + "".join(output.get("data", {}).get("text/plain", ""))
            found += [(index, _plain(line)) for line in text.splitlines() if line.startswith("Verdict")]
    return found


def claims(text: str) -> list[tuple[Rule, str, bool]]:
    """Every mechanical relation `text` states: (rule, the words, whether the numbers agree)."""
    return [(rule, m.group(0), rule.holds(m)) for rule in RULES for m in re.finditer(rule.pattern, text)]


def contradictions(text: str) -> list[str]:
    return [f"{rule.name}: {words!r}" for rule, words, ok in claims(text) if not ok]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_verdicts_agree_with_their_numbers(path):
    nb = json.loads(path.read_text())
    wrong = [f"cell {index}: {c}" for index, text in verdicts(nb) for c in contradictions(text)]
    assert not wrong, f"{path.name}: a verdict contradicts its numbers: {wrong}"


def test_every_rule_reads_a_verdict_of_the_course():
    """A rule that matches nothing checks nothing; the course's verdicts exercise each one."""
    seen = {rule.name for path in NOTEBOOKS for _, text in verdicts(json.loads(path.read_text()))
            for rule, _, _ in claims(text)}
    dead = [r.name for r in RULES if r.in_course and r.name not in seen]
    assert not dead, f"no verdict states {dead} any more: drop the rule or mark it in_course=False"
    assert sum(len(verdicts(json.loads(p.read_text()))) for p in NOTEBOOKS) >= 20


# One right and one contradicting statement per rule: the test above can fail.
EXAMPLES = {
    "identity": ("exp(2.3) = 9.97 and sqrt(16 / 2) = 2.828", "exp(2.3) = 9.87"),
    "power": ("2^{24} = 16,777,216", "2^{24} = 16,777,261"),
    "uniform guess": ("a uniform guess over 50,257 tokens (10.82 nats)",
                      "a uniform guess over 50,257 tokens (11.82 nats)"),
    "grows R times (A to B)": ("grows 58,070 times (36.47 to 2.118e+06)",
                               "grows 5,807 times (36.47 to 2.118e+06)"),
    "from A to B, an inflation of R": ("goes from 27.08 to 148,900, an inflation of 5500",
                                       "goes from 27.08 to 148,900, an inflation of 5400"),
    "A where ... B (R times higher)": ("score 19.22 where chunks of 32 score 78.48 (4.084 times higher)",
                                       "score 19.22 where chunks of 32 score 78.48 (4.184 times higher)"),
    "F (K of M)": ("the pad fraction at 0.579 (11 of 19)", "the pad fraction at 0.589 (11 of 19)"),
    "M targets and K of them (F)": ("19 targets and 11 of them are padding (a pad fraction of 0.5789)",
                                    "19 targets and 12 of them are padding (a pad fraction of 0.5789)"),
    "bytes in MiB": ("100,000,000 bytes counted in MiB, 2**20 bytes: 95.37",
                     "100,000,000 bytes counted in MiB, 2**20 bytes: 95.47"),
    "higher, A against B": ("it ends slightly higher, 3.751 against 3.737",
                            "it ends slightly higher, 3.731 against 3.737"),
    "k steps later (step A instead of B)": ("one step later than without (step 13 instead of 12)",
                                            "one step later than without (step 14 instead of 12)"),
    "R times ..., close to S": ("2.830 times more than the batch-16 one, close to the 2.828",
                                "3.830 times more than the batch-16 one, close to the 2.828"),
    "A is within B of C": ("confirmed: 4.9 is within 0.25 of 4.766",
                           "confirmed: 5.1 is within 0.25 of 4.766"),
    "A > B": ("confirmed: 3.751 > 3.737", "confirmed: 3.731 > 3.737"),
}


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_a_contradicting_verdict_is_caught(rule):
    right, wrong = EXAMPLES[rule.name]
    for text, ok in ((right, True), (wrong, False)):
        found = [c for c in claims(_plain(text)) if c[0] is rule]
        assert found, f"{rule.name} does not read {text!r}"
        assert all(holds == ok for _, _, holds in found), (text, found)
    verdict = {"cells": [{"cell_type": "markdown", "source": f"**Verdict: confirmed.** {wrong}"}]}
    assert [contradictions(t) for _, t in verdicts(verdict)] != [[]]


def test_printed_verdict_lines_are_read_too():
    cell = {"cell_type": "code", "source": "",
            "outputs": [{"output_type": "stream", "text": "Verdict: confirmed: 3.731 > 3.737\n"}]}
    [(_, text)] = verdicts({"cells": [cell]})
    assert contradictions(text) == ["A > B: '3.731 > 3.737'"]


def test_printed_numbers_stand_for_their_rounding_interval():
    assert (Num.parse("27.08").lo, Num.parse("27.08").hi) == pytest.approx((27.075, 27.085))
    assert Num.parse("16,777,216").hi == pytest.approx(16_777_216.5)  # not rounded: exact
    assert Num.parse("148,900").lo == pytest.approx(148_850)  # 4 significant digits
    assert Num.parse("2.118e+06").hi == pytest.approx(2.1185e6)
    assert Num.parse("19").hi == pytest.approx(19.5)
