"""The signals page (see :mod:`dashboard.views.signals`)."""

from dashboard.views.signals import render

render()
