"""The benchmark suite behind ``optikern bench`` (and ``benchmarks/run.py``): optikern against
careful and naive NumPy, torch.optim (for-loop, foreach, fused) when installed (for an
optimizer torch.optim lacks, its update in torch operations: lion-pytorch's), DeepSpeed's
CPU Adam and Lion when installed, the pure-Python reference at small sizes, and the memory-bandwidth
ceiling of the same traffic, all measured in one run."""
