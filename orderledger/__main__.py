"""``python -m orderledger``: the command line."""

from orderledger.infrastructure.cli.main import main

if __name__ == "__main__":
    main()
