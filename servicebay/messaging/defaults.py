"""The ready-made templates and journeys every shop starts with (installed switched off).

Installed by migration ``0002_default_journeys`` and by ``messaging_install_defaults`` (which
the demo seeding may call); both leave existing rows with the same code alone.
"""

from __future__ import annotations

TEMPLATES: list[dict] = [
    {
        "code": "post-service-follow-up",
        "name": "Post-service follow-up",
        "description": "Two days after check-out: how is the car, and how did we do?",
        "purpose": "transactional",
        "email_subject": "How is your {{ vehicle.make }} driving, {{ customer.first_name }}?",
        "email_text": (
            "Hi {{ customer.first_name }},\n\n"
            "thank you for visiting {{ visit.location }} on {{ visit.date }}. We hope your "
            "{{ vehicle.label }} is running well. If anything is not right, reply to this email and "
            "we will make it right.\n\n{{ visit.location }}"
        ),
        "email_html": (
            "<p>Hi {{ customer.first_name }},</p>"
            "<p>thank you for visiting <strong>{{ visit.location }}</strong> on {{ visit.date }}. We hope "
            "your {{ vehicle.label }} is running well. If anything is not right, reply to this email "
            "and we will make it right.</p>"
        ),
        "sms_body": (
            "Hi {{ customer.first_name }}, thanks for visiting {{ visit.location }}. How is your "
            "{{ vehicle.make }} driving? Reply to let us know."
        ),
    },
    {
        "code": "appointment-reminder",
        "name": "Appointment reminder",
        "description": "The day before a booked appointment.",
        "purpose": "transactional",
        "email_subject": "See you {{ appointment.when }}",
        "email_text": (
            "Hi {{ customer.first_name }},\n\nthis is a reminder that your {{ vehicle.label }} is booked "
            "in at {{ appointment.location }} on {{ appointment.when }}.\n\nNeed to change it? Reply to "
            "this email or call us."
        ),
        "sms_body": (
            "Reminder: {{ customer.first_name }}, your {{ vehicle.make }} {{ vehicle.model }} is booked at "
            "{{ appointment.location }} on {{ appointment.when }}."
        ),
        "whatsapp_template_name": "appointment_reminder",
        "whatsapp_params": ["{{ customer.first_name }}", "{{ appointment.when }}", "{{ appointment.location }}"],
    },
    {
        "code": "birthday-greeting",
        "name": "Birthday greeting",
        "description": "On the customer's birthday, in their time zone.",
        "purpose": "marketing",
        "email_subject": "Happy birthday, {{ customer.first_name }}!",
        "email_text": "Happy birthday, {{ customer.first_name }}! Everyone at ServiceBay wishes you a great day.",
        "sms_body": "Happy birthday, {{ customer.first_name }}! Everyone at ServiceBay wishes you a great day.",
    },
    {
        "code": "service-reminder",
        "name": "Service reminder",
        "description": "A week before a service falls due; services due the same week are bundled.",
        "purpose": "marketing",
        "email_subject": "{{ service_due.services }} due for your {{ vehicle.make }}",
        "email_text": (
            "Hi {{ customer.first_name }},\n\n{{ service_due.services }} for your "
            "{{ service_due.vehicle }} falls due around {{ service_due.date }}. Book a time that suits "
            "you by replying to this email."
        ),
        "sms_body": (
            "Hi {{ customer.first_name }}, {{ service_due.services }} for your {{ vehicle.make }} is due "
            "around {{ service_due.date }}. Reply to book."
        ),
    },
    {
        "code": "declined-work-follow-up",
        "name": "Declined work follow-up",
        "description": "Two weeks after a recommendation was declined, if nothing was booked.",
        "purpose": "marketing",
        "email_subject": "Still thinking about {{ recommendation.service }}?",
        "email_text": (
            "Hi {{ customer.first_name }},\n\nwhen your {{ vehicle.label }} was with us on {{ visit.date }} "
            "we recommended {{ recommendation.service }} ({{ recommendation.estimated_price }}). Reply to "
            "this email to book it in."
        ),
        "sms_body": (
            "Hi {{ customer.first_name }}, we recommended {{ recommendation.service }} for your "
            "{{ vehicle.make }} on {{ visit.date }}. Reply to book it in."
        ),
    },
]

JOURNEYS: list[dict] = [
    {
        "code": "post-service-follow-up",
        "name": "Post-service follow-up",
        "description": "Two days after check-out, at 10:00 local time.",
        "definition": {
            "trigger": {"type": "event", "event": "visit.checked_out"},
            "steps": [
                {"type": "wait", "days": 2, "at_local_time": "10:00:00"},
                {"type": "condition", "check": "no_open_job_card"},
                {"type": "send", "template": "post-service-follow-up", "purpose": "transactional",
                 "expire_after_hours": 48},
            ],
        },
    },
    {
        "code": "appointment-reminder",
        "name": "Appointment reminder",
        "description": "24 hours before a booked appointment.",
        "definition": {
            "trigger": {"type": "appointment_upcoming", "hours_before": 24},
            "steps": [
                {"type": "condition", "check": "appointment_still_active"},
                {"type": "send", "template": "appointment-reminder", "purpose": "transactional",
                 "expire_at": "appointment_start"},
            ],
        },
    },
    {
        "code": "birthday-greeting",
        "name": "Birthday greeting",
        "description": "On the birthday at 10:00 local; skipped if it cannot arrive that day.",
        "definition": {
            "trigger": {"type": "birthday", "send_at": "10:00:00"},
            "steps": [
                {"type": "send", "template": "birthday-greeting", "purpose": "marketing",
                 "expire_at": "end_of_local_day"},
            ],
        },
    },
    {
        "code": "service-reminder",
        "name": "Service reminder",
        "description": "7 days before a service falls due by date or mileage; held while the car is "
                       "booked in, in the shop, was just here, or was sold.",
        "definition": {
            "trigger": {"type": "service_due", "days_before": 7, "send_at": "10:00:00"},
            "steps": [
                {"type": "condition", "check": "vehicle_still_owned"},
                {"type": "condition", "check": "no_upcoming_appointment"},
                {"type": "condition", "check": "no_open_job_card"},
                {"type": "condition", "check": "no_visit_within_days", "days": 14},
                {"type": "send", "template": "service-reminder", "purpose": "marketing",
                 "expire_after_hours": 72},
            ],
        },
    },
    {
        "code": "declined-work-follow-up",
        "name": "Declined work follow-up",
        "description": "14 days after a decline, if it is still declined and nothing was booked.",
        "definition": {
            "trigger": {"type": "event", "event": "recommendation.declined"},
            "steps": [
                {"type": "wait", "days": 14, "at_local_time": "10:00:00"},
                {"type": "condition", "check": "recommendation_still_declined"},
                {"type": "condition", "check": "not_booked_since_trigger"},
                {"type": "condition", "check": "satisfaction_at_least", "score": 3},
                {"type": "send", "template": "declined-work-follow-up", "purpose": "marketing",
                 "expire_after_hours": 72},
            ],
        },
    },
]


def install(template_model, journey_model) -> int:
    """Create the defaults that do not exist yet (by code). Works with historical models too."""
    created = 0
    for data in TEMPLATES:
        _, made = template_model.objects.get_or_create(code=data["code"], defaults=data)
        created += made
    for data in JOURNEYS:
        _, made = journey_model.objects.get_or_create(code=data["code"], defaults=data)
        created += made
    return created
