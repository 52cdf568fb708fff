"""The ``servicebay`` command: every Django management command, under the product's name.

``servicebay serve``, ``servicebay worker``, ``servicebay seed``, ``servicebay apikey create`` … are
management commands; ``servicebay`` is ``manage.py`` that works from any directory.

A database that goes away under a command (server restarted, connection dropped, file locked too
long) ends the command with one readable line and exit status 1; ``--traceback`` shows the rest.
What the command had not committed is rolled back by the database.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None, prog: str = "servicebay") -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "servicebay.settings")
    from django.core.management import execute_from_command_line
    from django.db import InterfaceError, OperationalError

    args = sys.argv[1:] if argv is None else argv
    try:
        execute_from_command_line([prog, *args])
    except (OperationalError, InterfaceError) as exc:
        if "--traceback" in args:
            raise
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        sys.stderr.write(f"{prog}: database error: {reason}. What the command had not committed was "
                         "rolled back (--traceback for details).\n")
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
