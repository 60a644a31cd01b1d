"""Training: stage 1 (the classifier, weighted BCE) and stage 2 (the PCM, SEAM), resumable at any
checkpoint, over one epoch loop."""
