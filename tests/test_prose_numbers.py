"""Every number a notebook's Markdown quotes is one its cells printed (issue 11, section 2).

A number in prose is either a measurement, and then it must appear in the notebook's outputs as
fl.fmt printed it, or a value the notebook sets or cites: a parameter that appears in a code
cell (a batch size, a seed, a vocabulary), or a value from the literature or the source
material, which is listed below with where it comes from. Code spans and math are left out:
they hold code and formulas, not results.
"""

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# Decimals (27.08, 0.751, 2.7e43) and grouped integers (4,000; 148,900): the forms fl.fmt prints.
NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*\.\d+(?:e[+-]?\d+)?|(?<![\w.,])\d{1,3}(?:,\d{3})+(?![\d,])")

# Values a notebook quotes without printing them, each with its source.
CITED = {
    "00": {"2.688e+43": "an example of fl.fmt's format, printed by no cell on purpose",
           "50,257": "GPT-2's vocabulary size (Radford et al. 2019)",
           "24,400": "the source material's padding example (227 -> 24,400)"},
    "03": {"24,400": "the source material's claim, checked in section 5",
           "50,257": "GPT-2's vocabulary size (Radford et al. 2019)"},
    "05": {"2.7e43": "the source material's remark on exp(100)"},
    "06": {"100,000,000": "the demo's 100 MB in bytes, by definition (10**6 bytes a megabyte)"},
    "08": {"50,257": "GPT-2's vocabulary size (Radford et al. 2019)"},
    "12": {"37.50": "GPT-2 117M, WikiText-103 perplexity (Radford et al. 2019, Table 3)",
           "17.48": "GPT-2 1.5B, WikiText-103 perplexity (Radford et al. 2019, Table 3)",
           "19.93": "GPT-2 762M, WikiText-2 perplexity (Radford et al. 2019, Table 3), as the "
                    "Hugging Face guide quotes it",
           "2.5": "the gain of GPT-2's invertible de-tokenisers, 2.5 to 5 perplexity "
                  "(Radford et al. 2019, section 3.1)",
           "19.44": "GPT-2 large on WikiText-2, stride 1024 (Hugging Face transformers guide "
                    "'Perplexity of fixed-length models')",
           "16.44": "GPT-2 large on WikiText-2, stride 512 (the same guide)",
           "16.45": "the same, as the guide's version with torch.exp(torch.stack(nlls).mean()) "
                    "printed it",
           "1.5": "the largest GPT-2, 1.5B parameters (Radford et al. 2019)",
           "24.71": "SmolLM2 on a scene of Hamlet, non-overlapping 128-token windows (printed by "
                    "notebook 17, section 6)",
           "17.18": "the same scene, window 128, stride 32 (printed by notebook 17, section 6)"},
    "13": {"1.5": "SSIM's Gaussian window, Wang et al. 2004",
           "2,048": "Inception-v3's pool3 width (Szegedy et al. 2016)",
           "50,000": "the FID convention of 50,000 generated images (Heusel et al. 2017)"},
    "16": {"8.5": "the top of the demo's losses, torch.rand(...) * 8 + 0.5 in the cell"},
    "17": {"37.50": "GPT-2 117M, WikiText-103 perplexity (Radford et al. 2019, Table 3)",
           "19.44": "GPT-2 large on WikiText-2, stride 1024 (Hugging Face transformers guide "
                    "'Perplexity of fixed-length models')",
           "16.44": "GPT-2 large on WikiText-2, stride 512 (the same guide)"},
}


def _text(cell) -> str:
    return "".join(cell["source"])


def _outputs(nb) -> str:
    parts = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            parts.append("".join(out.get("text", "")))
            parts.append("".join(out.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


def _quoted_numbers(markdown: str) -> list[str]:
    prose = re.sub(r"`[^`]*`|\$\$.*?\$\$|\$[^$]*\$", " ", markdown, flags=re.S)
    prose = re.sub(r"\]\([^)]*\)", "]", prose)  # link targets
    prose = re.sub(r"arXiv:\S+", " ", prose)  # paper identifiers
    return NUMBER.findall(prose)


def _printed(number: str, outputs: str, code: str) -> bool:
    plain = number.replace(",", "")
    variants = {number, plain, f"{float(plain) / 100:.4g}"}  # 22.47 (%) may print as 0.2247
    return any(v in outputs or v in code for v in variants)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_numbers_in_prose_are_printed_or_cited(path):
    nb = json.loads(path.read_text())
    outputs = _outputs(nb)
    code = "\n".join(_text(c) for c in nb["cells"] if c["cell_type"] == "code")
    cited = CITED.get(path.name[:2], {})
    missing = sorted({n for c in nb["cells"] if c["cell_type"] == "markdown"
                      for n in _quoted_numbers(_text(c))
                      if n not in cited and not _printed(n, outputs, code)})
    assert not missing, (f"{path.name}: the Markdown quotes {missing}, which no cell prints. "
                         f"Print it (fl.fmt), quote what is printed, or cite it in CITED.")


def test_cited_values_are_still_quoted():
    """A citation whose number left the prose is stale."""
    for path in NOTEBOOKS:
        cited = CITED.get(path.name[:2], {})
        markdown = "\n".join(_text(c) for c in json.loads(path.read_text())["cells"]
                             if c["cell_type"] == "markdown")
        stale = [n for n in cited if n not in _quoted_numbers(markdown)]
        assert not stale, f"{path.name}: CITED lists {stale}, which the Markdown no longer quotes"


# --- WORKSHOP.md (issue 18, section 3) ------------------------------------------------------------
# Its timing table and agendas are generated (tests/tools/test_publish.py checks they are current
# and that the agendas add up). Every other number in its prose is named here by a phrase that
# holds it, with where it comes from: a function that computes it (the test compares), or a
# citation. A citation of README means README says the same figure (checked), so the two pages
# cannot drift apart.

ROOT = Path(__file__).resolve().parent.parent


def _publish():
    from forge_lib.tools import publish  # imported on use: it imports torch via forge_lib
    return publish


def _notebooks():
    from forge_lib.tools import notebooks  # reading_minutes' constants live here
    return notebooks


def _notebook_python() -> str:
    versions = {json.loads(p.read_text())["metadata"]["language_info"]["version"] for p in NOTEBOOKS}
    assert len(versions) == 1, f"the notebooks were recorded with several Pythons: {versions}"
    return ".".join(versions.pop().split(".")[:2])


def _torch_pin() -> str:
    return re.search(r"^torch==([\d.]+)$", (ROOT / "requirements.txt").read_text(), re.M).group(1)


def _loopback() -> str:
    return re.search(r"--local-addr (\S+)`", (ROOT / "forge_lib/course/distributed.py").read_text()).group(1)


def _notebook_exists(*numbers: str):
    return lambda: all(any(p.name.startswith(f"{n}_") for p in NOTEBOOKS) for n in numbers) and numbers[0]


README = "README"  # cited from README, which must quote the same figure
WORKSHOP_NUMBERS = {
    "on 2 CPU cores, recorded": ("2", "the reference machine of every run time (DESIGN.md)"),
    "prose at 180 words": ("180", lambda: _notebooks().WORDS_PER_MINUTE_TEXT),
    "output at 60,": ("60", lambda: _notebooks().WORDS_PER_MINUTE_CODE),
    "reading time, 5 minutes an exercise": ("5", lambda: _publish().MINUTES_PER_EXERCISE),
    "rounded up to 5 minutes": ("5", lambda: _publish().SLOT_STEP_MINUTES),
    "Python 3.11 or newer (3.11 is what": ("3.11", _notebook_python),
    "about 2.5 GB of": ("2.5", "a fresh .venv with the CPU-only torch and the assets, measured with du"),
    "notebooks 13 and 17 are 185 MB": ("185", README),
    "assets (notebooks 13 and 17)": ("13", _notebook_exists("13", "17")),
    "GPT-2's tokenizer": ("2", "a model's name (Radford et al. 2019)"),
    "177 MB of wheels": ("177", README),
    "a 192 MB": ("192", README),
    "notebook 00 and compares": ("00", _notebook_exists("00")),
    "Jupyter Book 1 uses": ("1", "a product's version: myst-nb + sphinx-book-theme is Jupyter Book 1"),
    "about 10 s on 2 CPU cores": ("10", README),
    "MathJax 3": ("3", "a product's version: sphinx-mathjax-offline ships MathJax 3"),
    "PyPI's 2.13.0": ("2.13.0", _torch_pin),
    "(2.13.0+cpu satisfies": ("2.13.0", _torch_pin),
    "measured time on 2 cores": ("2", "the reference machine of every run time (DESIGN.md)"),
    "over 127.0.0.1": ("127.0.0.1", _loopback),
}
# Any run of digits, with its decimals or dots (3.11, 2.13.0, 127.0.0.1, 60,) but not inside a word.
ANY_NUMBER = re.compile(r"(?<![\w.])\d[\d,.]*(?<![.,])")


def _workshop_prose(text: str) -> str:
    """WORKSHOP.md without its generated blocks, code and link targets; whitespace made single."""
    publish = _publish()
    for start, end in [(publish.TABLE_START, publish.TABLE_END), (publish.AGENDA_START, publish.AGENDA_END)]:
        text = re.sub(re.escape(start) + ".*?" + re.escape(end), " ", text, flags=re.S)
    text = re.sub(r"```.*?```|`[^`]*`", " ", text, flags=re.S)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    text = re.sub(r"^\s*\d+\. ", " ", text, flags=re.M)  # list markers
    return re.sub(r"\s+", " ", text)


def _unsourced_numbers(prose: str, numbers: dict) -> list[str]:
    covered = [range(m.start(), m.end()) for phrase in numbers
               for m in re.finditer(re.escape(phrase), prose)]
    return [prose[max(0, m.start() - 30):m.end() + 20] for m in ANY_NUMBER.finditer(prose)
            if not any(m.start() in span for span in covered)]


def test_numbers_in_workshop_prose_are_generated_computed_or_cited():
    prose = _workshop_prose((ROOT / "WORKSHOP.md").read_text())
    unsourced = _unsourced_numbers(prose, WORKSHOP_NUMBERS)
    assert not unsourced, (f"WORKSHOP.md quotes numbers with no source: {unsourced}. Generate "
                           f"them, compute them here, or cite them in WORKSHOP_NUMBERS.")
    readme = re.sub(r"\s+", " ", (ROOT / "README.md").read_text())
    for phrase, (number, source) in WORKSHOP_NUMBERS.items():
        assert phrase in prose, f"WORKSHOP_NUMBERS names {phrase!r}, which WORKSHOP.md no longer says"
        assert number in phrase, phrase
        if callable(source):
            assert str(source()) == number, f"WORKSHOP.md says {phrase!r}; computed: {source()}"
        elif source == README:
            unit = phrase.split(number, 1)[1].split()[0]
            assert f"{number} {unit}" in readme, f"WORKSHOP.md says {phrase!r}; README does not"


def test_an_unsourced_workshop_number_is_caught():
    """The WORKSHOP test can fail: a number no phrase covers is reported."""
    prose = "prose at 180 words a minute; the whole run takes about 9 minutes"
    [found] = _unsourced_numbers(prose, WORKSHOP_NUMBERS)
    assert found.endswith("about 9 minutes")
