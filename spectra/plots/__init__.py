"""Seaborn figures: each function takes a tidy DataFrame and returns a matplotlib Figure.

One module per topic (``weights``, ``jacobian``, ``rmt``, ``meanfield``, ``training``).
"""
