#!/usr/bin/env bash
# Does forge_lib install on its own? A fresh virtual environment gets the package alone, built
# from a copy of the checkout and installed non-editable (`pip install .`), with requirements.txt
# as constraints so every version is the pinned one; then, from outside the checkout, a smoke
# test: import forge_lib, a perplexity, the vision metrics, what load_tiny_model says without
# the course's data/ folder, what the real-asset loaders say without their packages, and the
# "install forge_lib[course]" message of an optional extra.
#
#     scripts/smoke_install.sh     # about 30 s on 2 cores with torch from a local wheel cache
#
# PYTHON picks the interpreter (default python3). Nothing is left behind: the venv lives in a
# temporary folder, and the build runs on a copy, so no build/ or *.egg-info appears here.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
started=$SECONDS

"${PYTHON:-python3}" -m venv "$work/venv"
. "$work/venv/bin/activate"
# `-e .` is a requirement, not a constraint: pip refuses it in a constraints file.
grep -v '^-e ' requirements.txt > "$work/constraints.txt"
mkdir "$work/src"
tar --exclude=__pycache__ -cf - pyproject.toml forge_lib | tar -xf - -C "$work/src"
python -m pip install --quiet "$work/src" -c "$work/constraints.txt"
echo "installed in $((SECONDS - started)) s: $(python -m pip list --format=freeze 2>/dev/null | wc -l) packages"

cd "$work"  # away from the checkout: only the installed copy can be imported
FORGE_CHECKOUT="$root" python - <<'PY'
import math
import os
import sys
from importlib.metadata import version
from pathlib import Path

import torch
import torch.nn.functional as F

import forge_lib as fl

location = Path(fl.__file__).resolve()
assert "site-packages" in location.parts, f"imported {location}, not the installed copy"
for extra in ("tensorboard", "cv2", "nbformat", "nbclient", "scipy"):
    assert extra not in sys.modules, f"import forge_lib imported {extra}, an optional extra"

# A perplexity on random logits against the float64 definition
torch.manual_seed(0)
logits, target = torch.randn(2, 7, 11), torch.randint(11, (2, 7))
expected = math.exp(F.cross_entropy(logits.double().reshape(-1, 11), target.reshape(-1)).item())
got = fl.perplexity(logits, target)
assert math.isclose(float(got), expected, rel_tol=1e-6), (got, expected)
metric = fl.Perplexity()
metric.update(logits, target)
assert math.isclose(float(metric.compute()), expected, rel_tol=1e-6)

# One vision metric (and its identity case)
images = torch.rand(2, 3, 32, 32)
assert float(fl.ssim(images, images, data_range=1.0)) > 0.9999
assert math.isfinite(float(fl.psnr(images, images.flip(0), data_range=1.0)))

# The tiny model is not in the package: a clear FileNotFoundError, then path= loads a copy
try:
    fl.load_tiny_model()
    raise AssertionError("load_tiny_model found a checkpoint inside the installed package")
except FileNotFoundError as exc:
    assert "path=" in str(exc), exc
model, card = fl.load_tiny_model(path=Path(os.environ["FORGE_CHECKOUT"]) / "data" / "tiny_lm.pt")
assert model(torch.tensor([[1, 5, 2]])).shape == (1, 3, model.config.vocab_size)
assert card["val_tokens"] > 0

# The real assets come from their own pinned packages: without them, a clear message
try:
    fl.load_gpt2_tokenizer()
    raise AssertionError("load_gpt2_tokenizer ran without the assets installed")
except FileNotFoundError as exc:
    assert "requirements-assets.txt" in str(exc), exc

# An optional extra that is missing says how to install it
try:
    fl.read_scalars(".")
    raise AssertionError("read_scalars ran without TensorBoard installed")
except ImportError as exc:
    assert "[course]" in str(exc), exc
print(f"smoke test passed: forge_lib {version('forge_lib')} installed alone "
      f"(non-editable), torch {torch.__version__}")
PY
echo "install smoke test: $((SECONDS - started)) s in all"
