"""forge_lib: the shared library of the Metrics Forge notebooks.

    import forge_lib as fl
    fl.perplexity(logits, target, ignore_index=-100)

Every public name is re-exported here, explicitly. Where things live:

  metrics/   what a practitioner copies into a training loop; imports torch and torchmetrics,
             never the course.
             validation   the one home of every input check and its message
             text         summed NLL, perplexity (fl.Perplexity), label shifting, the overflow
                          policy, bits per token and byte, token accuracy
             batching     padding id sequences into batches, labels -100 at padding
             evaluation   the one evaluation loop (any causal LM, Hugging Face's included),
                          memory-bounded (chunked) scoring from hidden states
             windows      sliding-window perplexity of long texts
             uncertainty  bootstrap intervals of a perplexity; paired comparisons of two models
             profiling    MemoryTracker, Timer, measure
             checkpoint   verified, atomic saves; BestCheckpoint; exact resume
             diagnostics  diagnose(): warning signs in training curves
             tb_logging   TensorBoard write and read-back
             distributed  sharding and syncing fl.Perplexity across processes
             vision/video PSNR, SSIM, Frechet distance, perceptual and temporal metrics
             feature_nets the seeded random conv net, default extractor of the perceptual and
                          temporal metrics
             fmt          the one rule for printing numbers
  course/    the course's own material: assets (real tokenizers, a real LM, plays and FID's
             Inception, found in pinned packages and verified), language (the synthetic
             language with an exact entropy floor), topics (documents with a hidden topic:
             the exact best perplexity at every context length), chars (its character-level
             twin), ngrams (n-gram baselines), model (the tiny transformer and its
             checkpoint), training (the training loop of notebooks 09-12 and of the tiny
             model), numerics, images and videos (demo fixtures), faults (the crash
             and the flipped bit that notebook 11 stages), video_features (the random 3-D
             net that stands in for I3D in FVD), distributed (notebook 16's launch)
  check/     fl.check.<name>: the exercise checkers, one module per notebook
  tools/     command-line tools for the course files (nbtools, publish); scripts/ at the
             repository root holds the entry points (training the tiny model, the
             distributed run)
"""

from forge_lib import check
from forge_lib.course.assets import (
    ASSETS,
    Asset,
    asset_path,
    load_fid_inception,
    load_gpt2_tokenizer,
    load_play,
    load_smollm2,
    play_names,
)
from forge_lib.course.chars import CharTokenizer, char_documents, char_token_nll, next_char_probs
from forge_lib.course.distributed import launch_dist_perplexity, torchrun_command, val_batches
from forge_lib.course.faults import SimulatedCrash, simulated_bit_flip, simulated_crash
from forge_lib.course.images import (
    add_gaussian_noise,
    gaussian_blur,
    jpeg_compress,
    load_sample_image,
    random_crops,
)
from forge_lib.course.language import (
    BOS_ID,
    EOS_ID,
    SPECIAL_TOKENS,
    SPLITS,
    UNK_ID,
    MarkovLanguage,
    WordTokenizer,
    count_bytes,
    course_split,
    english_like_language,
    load_text_file,
)
from forge_lib.course.model import (
    CHAR_CHECKPOINT_PATH,
    CHECKPOINT_PATH,
    DATA_DIR,
    TOPIC_CHECKPOINT_PATH,
    ModelConfig,
    TinyCausalLM,
    load_char_model,
    load_checkpoint,
    load_tiny_model,
    load_topic_model,
    save_checkpoint,
)
from forge_lib.course.ngrams import NGramModel, ngram_baselines
from forge_lib.course.numerics import (
    UnderflowCase,
    exp_overflow_edge,
    naive_perplexity,
    running_sum,
    stall_point,
    ulp,
    underflow_case,
)
from forge_lib.course.topics import PERIOD, TOPIC_SPLITS, TopicLanguage, topic_language, topic_split
from forge_lib.course.training import (
    TrainConfig,
    TrainState,
    evaluate_loss,
    make_state,
    run_training,
    set_lr,
    token_stream,
    train_step,
    train_tiny,
)
from forge_lib.course.video_features import RandomVideoFeatures
from forge_lib.course.videos import (
    SyntheticVideo,
    flicker,
    freeze_frames,
    moving_shapes_dataset,
    moving_shapes_video,
    shuffle_frames,
    temporal_jitter,
)
from forge_lib.metrics.batching import PAD_ID, collate, iterate_batches
from forge_lib.metrics.checkpoint import (
    BestCheckpoint,
    atomic_save,
    capture_rng_state,
    is_improvement,
    load_best_checkpoint,
    load_verified,
    payload_digest,
    restore_rng_state,
    save_verified,
)
from forge_lib.metrics.diagnostics import CODES, REMEDIES, Finding, Thresholds, curve_summary, diagnose
from forge_lib.metrics.distributed import perplexity_states, score_batches, uneven_shares
from forge_lib.metrics.evaluation import (
    chunked_nll_sum_and_count,
    evaluate_lm,
    evaluate_lm_chunked,
    evaluating,
    full_logits_nll,
    logits_nbytes,
    model_logits,
    nll_over_batches,
)
from forge_lib.metrics.feature_nets import RandomConvFeatures
from forge_lib.metrics.fmt import fmt, show
from forge_lib.metrics.profiling import (
    MB,
    Measurement,
    MemoryTracker,
    Timer,
    cuda_available,
    fix_mmap_threshold,
    kernel_peak_supported,
    measure,
    peak_rss_mb,
    release_free_memory,
    reset_peak_rss,
    rss_mb,
    summarize_times,
)
from forge_lib.metrics.tb_logging import (
    TensorBoardLogger,
    read_scalars,
    record_scalars,
    smooth_like_tensorboard,
)
from forge_lib.metrics.text import (
    Perplexity,
    bits_per_byte,
    bits_per_token,
    exp_limit,
    nll_sum_and_count,
    perplexity,
    ppl_from_loss,
    ppl_from_sum,
    shift_for_causal_lm,
    token_accuracy,
)
from forge_lib.metrics.uncertainty import Interval, compare_perplexities, perplexity_interval, sequence_nll
from forge_lib.metrics.video import (
    backward_warp,
    estimate_flow_farneback,
    flow_warping_error,
    frame_features,
    temporal_cosine_similarity,
)
from forge_lib.metrics.vision import (
    INCEPTION_RESIZE,
    FIDInfinity,
    extract_features,
    fid_infinity,
    frechet_distance,
    frechet_distance_from_stats,
    gaussian_stats,
    inception_features,
    inception_inputs,
    kernel_inception_distance,
    perceptual_distance,
    psnr,
    ssim,
)
from forge_lib.metrics.windows import (
    sliding_window_nll,
    sliding_window_perplexity,
    window_contexts,
    window_spans,
)
