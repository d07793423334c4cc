"""The integrity page (see :mod:`dashboard.views.integrity`)."""

from dashboard.views.integrity import render

render()
