"""Command-line interfaces: ``nirbridge`` and ``nir2pynn``."""
