"""Training-side code: datasets, quantized multi-exit networks, training loops and evaluation."""
