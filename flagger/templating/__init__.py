"""Flagger's template language: MetricTemplate and observer queries (``{{ namespace }}``...).

- :mod:`~flagger.templating.queries`: the query model and rendering;
- :mod:`~flagger.templating.gotemplate`: the part of Go's ``text/template`` queries use.
"""
