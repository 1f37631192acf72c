"""The reproduce queue: train and evaluate a set of configs (the IIF variants) one after
another, resumably, then write the results table (each variant against the softmax baseline
of the same seeds; published numbers only for configs known to match them) and plots."""
