"""What a run trains and scores: data loaders over the NIH layout or the synthetic set, sampling,
this project's models and other classifiers (timm, torchxrayvision)."""
