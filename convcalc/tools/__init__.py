"""Answers to one question at a time, over the analysis: ``lookup.py`` (one layer with its
working), ``solve.py`` (the hyperparameter that gives a wanted output size), ``check.py`` (the
expectations and budgets of many sources, for homework and CI)."""
