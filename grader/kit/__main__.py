"""`python -m <kit package> [PATH]`: the kit's checker, as `python check.py [PATH]` runs it."""

import sys

from grader.kit.checker import main

if __name__ == "__main__":
    sys.exit(main())
