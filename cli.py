"""`python cli.py ...` is `judgekit ...`."""

from judgekit.cli.app import main

if __name__ == "__main__":
    main()
