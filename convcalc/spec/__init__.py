"""Text -> NetworkSpec: what a network is, once read, with every layer validated and located.

``model.py`` holds the spec's values (LayerSpec, BlockSpec, FromSpec, NetworkSpec) and
``make_layer``, the one place raw options become a rule; ``source.py`` reads a file's text
safely and hands it to the reader it asks for; ``yaml_reader.py`` (with ``arithmetic.py`` for
block arguments) and
``layer_string.py`` read the two spec languages, ``listing.py`` the lecture notes' listing
notation, ``shapes.py`` a shape, ``expectations.py`` the expectations and budgets a spec may
state; ``yaml_writer.py`` writes a spec back as YAML; ``schema.py`` makes the JSON Schema from the
registry; ``catalog.py`` finds the bundled architectures. Nothing here computes a figure.
"""
