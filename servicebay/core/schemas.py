from typing import Any

from ninja import Schema


class ErrorOut(Schema):
    detail: Any


ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
