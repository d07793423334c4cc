"""The drift page (see :mod:`dashboard.views.drift`)."""

from dashboard.views.drift import render

render()
