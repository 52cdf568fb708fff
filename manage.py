#!/usr/bin/env python
import sys

if __name__ == "__main__":
    from servicebay.cli import main

    main(sys.argv[1:], prog=sys.argv[0])
