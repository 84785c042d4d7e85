from netcontract.cli.entry import run

run()
