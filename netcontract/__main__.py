"""`python -m netcontract`: the same command line as `netcontract`."""

from netcontract.cli.entry import run

run()
