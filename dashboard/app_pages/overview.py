"""The overview page (see :mod:`dashboard.views.overview`)."""

from dashboard.views.overview import render

render()
