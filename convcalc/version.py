"""convcalc's version, in a module of its own: the reports that name it (JSON, HTML) import it from
here, not from the package, whose ``__init__`` offers the Python API (api.py) on top of them."""

__version__ = "0.1.0"
