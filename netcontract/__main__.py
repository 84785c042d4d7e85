"""`python -m netcontract`: the same command line as `netcontract`."""

from netcontract.cli.main import main

main()
