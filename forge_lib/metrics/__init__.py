"""The metrics a practitioner copies into a training loop.

Imports torch and torchmetrics (and, for optical flow, OpenCV) only, never the course: functional
cores (text, windows, evaluation, vision, video), thin torchmetrics.Metric classes where a metric
accumulates (fl.Perplexity), measurement (profiling), training-loop companions (checkpoint,
diagnostics, tb_logging, distributed), and one validation module every function checks its
inputs with.
"""
