"""The edge cases page (see :mod:`dashboard.views.edge_cases`)."""

from dashboard.views.edge_cases import render

render()
