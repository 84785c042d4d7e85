from netcontract.cli import main

main()
