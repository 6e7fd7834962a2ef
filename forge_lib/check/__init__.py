"""Self-check helpers for the notebooks' exercises: `fl.check.<name>(learner_answer)`.

Each checker runs the learner's answer on hidden cases and prints a verdict: "correct", or a
hint naming the case that failed and what was expected. It never raises on a wrong answer, so
a learner sees a hint, not a traceback. Checkers return True or False for tests.
"""

from forge_lib.check._core import verdict  # noqa: F401
from forge_lib.check.distributed import *  # noqa: F403
from forge_lib.check.numerics import *  # noqa: F403
from forge_lib.check.profiling import *  # noqa: F403
from forge_lib.check.reduction import *  # noqa: F403
from forge_lib.check.text import *  # noqa: F403
from forge_lib.check.training import *  # noqa: F403
from forge_lib.check.vision import *  # noqa: F403
