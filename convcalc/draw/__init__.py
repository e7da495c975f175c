"""Report -> pictures, as SVG text (PNG through rsvg-convert, ``raster.py``).

``blocks.py`` draws a network as NN-SVG and the case-study slides do (a box per layer or block,
sized by its output) and as a cost heat map; ``graph.py`` draws a graph's references as lanes;
``lenet.py`` draws LeNet-5's Fig. 2. Figures are the Report's, rounded by ``report/numbers.py``.
"""
