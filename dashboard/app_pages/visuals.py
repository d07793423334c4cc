"""The visuals page (see :mod:`dashboard.views.visuals`)."""

from dashboard.views.visuals import render

render()
