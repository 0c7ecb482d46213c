"""attnlab: the helpers behind the attention course notebooks.

Small, named rooms, none of which holds the solution to a graded exercise:

- ``attnlab.data``    where the course data lives and how to load it
- ``attnlab.checks``  friendly checks used by the notebooks' test cells
- ``attnlab.exercise_checks``  the visible checks of notebooks 04-07, one function per exercise
- ``attnlab.plots``   heatmaps (single, grids, masked) and bar charts with token labels
- ``attnlab.widgets`` ipywidgets explorers (they call *your* functions)
- ``attnlab.models``  the packaged pretrained model, offline, and its attention
- ``attnlab.heads``   eight attention heads built by hand for "The snow closed the campus" (05)
- ``attnlab.bertviz_offline``  BertViz's head and model views without a CDN
"""

__version__ = "0.1.0"
