"""`python -m sextant` is the `sextant` command."""

from sextant.cli import main

main()
