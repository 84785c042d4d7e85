from netcontract.cli.main import main

main()
