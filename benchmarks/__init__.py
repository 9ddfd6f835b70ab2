"""Benchmarks of minirnn against PyTorch, each framework in its own process.

``python -m benchmarks.run`` measures and regenerates ``docs/performance.md``; see
``benchmarks/README.md``.
"""
