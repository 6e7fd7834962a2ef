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
           "1.5": "the largest GPT-2, 1.5B parameters (Radford et al. 2019)"},
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
