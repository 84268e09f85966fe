"""The benchmark suite behind ``optikern bench`` (and ``benchmarks/run.py``): optikern against
careful and naive NumPy, torch.optim (for-loop, foreach, fused) when installed, DeepSpeed's
CPU Adam when installed, the pure-Python reference at small sizes, and the memory-bandwidth
ceiling of the same traffic, all measured in one run."""
