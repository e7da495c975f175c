"""convcalc: the shape and cost of every layer of a convolutional network, before you run it."""

__version__ = "0.1.0"
