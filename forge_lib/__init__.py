"""forge_lib: the shared library of the Metrics Forge notebooks.

    import forge_lib as fl
    fl.perplexity(logits, target, ignore_index=-100)

Modules, one a topic: text (perplexity and friends), numerics (overflow and precision), data
(the course language, tokenizer, padding), model (the tiny transformer), fmt (printing).
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
