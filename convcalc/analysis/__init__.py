"""NetworkSpec -> one Report, every figure computed once; no I/O, no rounding.

``engine.analyse`` walks the spec's graph running each layer's rule, then ``receptive.py`` and
``memory.py`` follow the same graph for receptive fields and live memory; ``result.py`` holds
the Report and its parts, the only module of this package a renderer imports. ``expect.py``
checks a spec's expectations and budgets against a Report, and ``working.py`` writes a layer's
figures out with the hyperparameters substituted, as the lecture notes do.
"""
