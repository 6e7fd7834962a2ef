"""forge_lib: the shared library of the Metrics Forge notebooks.

    import forge_lib as fl
    fl.perplexity(logits, target, ignore_index=-100)

Modules, one a topic, all re-exported here:
  text          summed NLL, perplexity, label shifting, overflow policy, bits, token accuracy
  numerics      where exp overflows, softmax-then-log underflow, low-precision sums
  data          the course language (exact entropy rate), tokenizer, padding and labels
  model         the tiny transformer, its checkpoint, evaluate_lm
  profiling     MemoryTracker, Timer, measure
  evaluation    memory-bounded (chunked) evaluation from hidden states
  diagnostics   diagnose(): warning signs in training curves
  training      a small training loop that records its history
  checkpoint    BestCheckpoint: atomic, best-only, exact resume
  tb_logging    TensorBoard write and read-back
  windows       sliding-window perplexity
  vision/video  PSNR, SSIM, Frechet distance, perceptual and temporal metrics
  distributed   sharding and syncing fl.Perplexity across processes
  fmt           the one rule for printing numbers
Exercise checkers live in fl.check; nbtools and publish are command-line tools.
"""

from forge_lib import check
from forge_lib.checkpoint import *  # noqa: F403
from forge_lib.data import *  # noqa: F403
from forge_lib.diagnostics import *  # noqa: F403
from forge_lib.distributed import *  # noqa: F403
from forge_lib.evaluation import *  # noqa: F403
from forge_lib.fmt import fmt, show
from forge_lib.model import *  # noqa: F403
from forge_lib.numerics import *  # noqa: F403
from forge_lib.profiling import *  # noqa: F403
from forge_lib.tb_logging import *  # noqa: F403
from forge_lib.text import *  # noqa: F403
from forge_lib.training import *  # noqa: F403
from forge_lib.video import *  # noqa: F403
from forge_lib.vision import *  # noqa: F403
from forge_lib.windows import *  # noqa: F403
