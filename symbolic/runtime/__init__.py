"""What the framework does beyond the architecture: PyTorch's CUDA caching allocator, kernel workspaces and score
matrices, the named constants that cannot be derived (``framework``), and reserved-bytes fragmentation.
"""
