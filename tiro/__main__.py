"""`python -m tiro` runs the tiro CLI."""

from tiro.cli.app import main

main()
