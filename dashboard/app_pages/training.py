"""The training page (see :mod:`dashboard.views.training`)."""

from dashboard.views.training import render

render()
