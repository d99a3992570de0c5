"""Targets of nirbridge, one folder each; see :mod:`nirbridge.converters.registry`."""
