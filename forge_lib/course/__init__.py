"""The course's own material, built on forge_lib.metrics: the synthetic language with its exact
entropy floor, the tiny model and its checkpoint, the training loop of notebooks 09-12, and the
demo fixtures (sample images and their distortions, synthetic videos, numerics demos, the
distributed launch)."""
