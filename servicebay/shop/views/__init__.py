"""Shop screens. Thin: parse input with a form, call a selector or a service, render.

Writes go through ``services``; their DomainError / ValidationError become inline form errors or a
message, never a 500. An htmx request gets the partial it swaps in; the same template renders
inside the full page, so there is one source of markup. One module per screen group; the URL conf
imports the views from here.
"""

from .appointments import (
    appointment_book,
    appointment_check_in,
    appointment_conflict_check,
    appointment_list,
    appointment_status,
)
from .customers import (
    customer_create,
    customer_detail,
    customer_edit,
    customer_list,
    note_add,
    note_pin,
    vehicle_add,
)
from .home import home
from .job_cards import (
    job_card_detail,
    job_card_list,
    job_card_transition,
    job_card_walk_in,
    job_line_add,
    job_line_remove,
)
from .part_picker import job_card_part_search
from .visits import job_card_check_in, job_card_check_out, job_card_rate

__all__ = [
    "appointment_book",
    "appointment_check_in",
    "appointment_conflict_check",
    "appointment_list",
    "appointment_status",
    "customer_create",
    "customer_detail",
    "customer_edit",
    "customer_list",
    "home",
    "job_card_check_in",
    "job_card_check_out",
    "job_card_detail",
    "job_card_list",
    "job_card_part_search",
    "job_card_rate",
    "job_card_transition",
    "job_card_walk_in",
    "job_line_add",
    "job_line_remove",
    "note_add",
    "note_pin",
    "vehicle_add",
]
