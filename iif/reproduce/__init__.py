"""The reproduce queue: train and evaluate a set of configs (the IIF variants) one after
another, resumably, then write the results table against the published numbers and plots."""
