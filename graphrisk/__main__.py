from graphrisk.cli import main

main()
