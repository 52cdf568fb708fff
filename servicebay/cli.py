"""The ``servicebay`` command: every Django management command, under the product's name.

``servicebay serve``, ``servicebay worker``, ``servicebay seed``, ``servicebay apikey create`` … are
management commands; ``servicebay`` is ``manage.py`` that works from any directory.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "servicebay.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["servicebay", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
