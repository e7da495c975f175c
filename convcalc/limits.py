"""Every limit convcalc enforces on its input, in one place (documented in the README).

They keep hostile or mistaken specs from hanging or exhausting memory: a clear error in
milliseconds instead.
"""

MAX_SIZE = 10**9
"""Largest number accepted for any size, count or hyperparameter."""

MAX_RANK = 16
"""Most dims of any tensor, channels included (PyTorch's own models use at most six): with every
size at most MAX_SIZE, a count stays below 10**144, which a float still holds for rendering."""

MAX_LAYERS = 20_000
"""Most layers a spec may expand to (repetition included)."""

MAX_SPEC_BYTES = 32 * 1024 * 1024
"""Largest spec file or layer string read, in bytes."""

MAX_NESTING = 100
"""Deepest nesting of groups in a layer string or blocks in YAML."""

MAX_DIGITS = 1000
"""Most digits in any number read from text. Every reader checks the length before converting:
Python refuses more than 4,300 digits, and converts in time quadratic in the length."""

MAX_AMOUNT_DIGITS = 40
"""Most digits, and largest power of ten, in an expected count or a budget (``105.4M``, ``1e8``)."""

MAX_PROTOTXT_FIELDS = 500_000
"""Most fields read from a Caffe prototxt (a message, and each item of a ``[...]`` list, count as
one), as an ONNX graph's 500,000: a deploy file of 20,000 layers has about 300,000, and the
reader holds about 40 bytes a field, so a hostile file of tiny fields is refused within a second
and some tens of MiB."""
