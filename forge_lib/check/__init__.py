"""Self-check helpers for the notebooks' exercises: `fl.check.<name>(learner_answer)`.

One module per notebook, nbNN_<notebook>.py, holds that notebook's checkers. Each runs the
learner's answer on hidden cases and prints a verdict: "Correct: ...", or "Not yet: ..." with
a hint naming the case that failed and what was expected. It never raises on a wrong answer, so
a learner sees a hint, not a traceback; the student edition's stub, which still raises
NotImplementedError, gets "Not yet: define `f` in the cell above, ...". Where an exercise rules
out a shortcut (a library call, joining micro-batches, unchunked logits), the checker watches
the torch calls the answer makes (_core.TorchCalls), so a right value alone does not pass.
Checkers return a Verdict, truthy when correct, for tests. Expected values come from float64
arithmetic or fl's own functions, not the learner's.
"""

from forge_lib.check._core import Verdict, verdict
from forge_lib.check.nb01_perplexity import bits_per_byte_from_loss, convert_perplexity, perplexity_from_probs
from forge_lib.check.nb02_label_shifting import causal_lm_accuracy, causal_lm_perplexity, shift_labels
from forge_lib.check.nb03_padding import accumulated_mean_loss, counted_targets, padded_perplexity
from forge_lib.check.nb04_reduction import accumulated_loss, token_weighted_mean, weighted_mean_loss
from forge_lib.check.nb05_overflow_numerics import (
    compensated_sum,
    safe_perplexity,
    stable_mean_nll,
    stall_point_rule,
)
from forge_lib.check.nb06_memory_tracker import peak_above_entry, tensor_megabytes
from forge_lib.check.nb07_timer import median_after_warmup, tokens_per_second
from forge_lib.check.nb08_memory_bounded_eval import chunked_nll, logits_gigabytes, max_chunk_tokens
from forge_lib.check.nb09_training_curves import early_stopping, first_nonfinite_step, noise_at_batch
from forge_lib.check.nb10_token_accuracy import masked_token_accuracy, sampling_accuracy, top_k_accuracy
from forge_lib.check.nb11_logging_checkpointing import is_improvement, tensorboard_smoothing
from forge_lib.check.nb12_sliding_window import (
    min_context,
    sliding_window_ppl,
    target_contexts,
    two_topic_best_nll,
    window_count,
)
from forge_lib.check.nb13_image_metrics import frechet_1d, psnr_from_mse, trace_sqrt_product
from forge_lib.check.nb14_video_metrics import consecutive_cosine, pixel_flow_to_grid
from forge_lib.check.nb15_choosing_a_metric import bits_per_dim, causal_token_accuracy
from forge_lib.check.nb16_distributed_metrics import combine_ranks, even_shards, order_free_sum
from forge_lib.check.nb17_real_model import labels_from_mask, ppl_per_other_token
