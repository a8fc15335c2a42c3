"""cliquet's command line: ``cliquet new ...`` and friends."""
