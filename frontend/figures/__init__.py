"""The dashboard's Plotly figures.

Every figure takes ``TEMPLATE`` as Plotly's default template, set once here: a figure that
names its template in ``update_layout`` has it validated and copied again (about 6 ms a
figure, 45 ms of a model page's seven), while the default is applied as already valid.
Figures that start from another library's figure (pymatviz) still name it.
"""

import plotly.io as pio

TEMPLATE = "plotly_white"
pio.templates.default = TEMPLATE
