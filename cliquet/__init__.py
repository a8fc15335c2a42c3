"""cliquet: the runtime of cliquet services (Pyramid + Cornice)."""

__version__ = "0.1.0.dev0"
