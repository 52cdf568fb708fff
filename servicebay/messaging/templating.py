"""Rendering message templates in Jinja2's sandbox, and validating them when they are saved.

Templates may use only the catalogue's variables (``variables.CATALOGUE``), a short list of
harmless filters, and no globals. Validation happens at save time: a syntax error, an unknown
variable or field, a private attribute (``__class__`` …) or anything the sandbox refuses is a
``TemplateInvalid`` on the field, never a send-time surprise.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from servicebay.core.errors import DomainError

from .choices import Channel
from .variables import CATALOGUE, MISSING_HINTS, sample_context

MAX_SOURCE = 20_000
MAX_OUTPUT = 100_000
ALLOWED_FILTERS = (
    "capitalize", "default", "d", "first", "last", "length", "lower", "replace", "round",
    "title", "trim", "truncate", "upper", "wordcount", "join", "int", "string", "escape", "e",
)


class TemplateInvalid(DomainError):
    """A template that cannot be saved: syntax, unknown variable, or something unsafe."""


class TemplateRenderError(DomainError):
    """A valid template that cannot be rendered for this customer (data it needs is missing)."""


class _Sandbox(SandboxedEnvironment):
    """The sandbox, plus bounds on operators that could build huge values (``'x' * 10**9``)."""

    intercepted_binops = frozenset({"*", "**", "+"})

    def call_binop(self, context, op: str, left: Any, right: Any) -> Any:
        if op == "**":
            if isinstance(right, int | float) and abs(right) > 100:
                raise SecurityError("exponent too large")
            return operator.pow(left, right)
        result = operator.mul(left, right) if op == "*" else operator.add(left, right)
        if isinstance(result, str | list | tuple) and len(result) > MAX_OUTPUT:
            raise SecurityError("value too large")
        return result


def _environment(autoescape: bool) -> _Sandbox:
    env = _Sandbox(undefined=StrictUndefined, autoescape=autoescape, trim_blocks=True,
                   lstrip_blocks=True, keep_trailing_newline=False)
    env.globals.clear()
    env.filters = {name: env.filters[name] for name in ALLOWED_FILTERS}
    return env


TEXT_ENV = _environment(autoescape=False)
HTML_ENV = _environment(autoescape=True)


def _variable_errors(ast: nodes.Template) -> list[str]:
    errors: list[str] = []
    for name in sorted(meta.find_undeclared_variables(ast)):
        if name not in CATALOGUE:
            errors.append(f"Unknown variable '{name}'. Use one of: {', '.join(CATALOGUE)}.")
    used_as_root: set[int] = set()
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        attr = node.attr if isinstance(node, nodes.Getattr) else None
        if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            attr = node.arg.value if isinstance(node.arg.value, str) else None
        if isinstance(attr, str) and attr.startswith("_"):
            errors.append(f"'{attr}' is not allowed in a template.")
            continue
        root = node.node
        if isinstance(root, nodes.Name) and root.name in CATALOGUE:
            used_as_root.add(id(root))
            if attr is None:
                errors.append(f"Write {root.name}.<field>, not an index into '{root.name}'.")
            elif attr not in CATALOGUE[root.name]:
                known = ", ".join(CATALOGUE[root.name])
                errors.append(f"Unknown variable '{root.name}.{attr}'. {root.name} has: {known}.")
        elif not isinstance(root, nodes.Name):
            errors.append("Only catalogue variables can be read: write e.g. {{ customer.first_name }}.")
    for node in ast.find_all(nodes.Name):
        if node.ctx == "load" and node.name in CATALOGUE and id(node) not in used_as_root:
            errors.append(f"Write a field of '{node.name}', e.g. {node.name}.{next(iter(CATALOGUE[node.name]))}.")
    return list(dict.fromkeys(errors))


def template_validate_source(source: str, *, field: str, html: bool = False) -> set[str]:
    """Check one template text; returns the ``namespace.field`` variables it uses."""
    if len(source) > MAX_SOURCE:
        raise TemplateInvalid(f"At most {MAX_SOURCE:,} characters.", field=field)
    env = HTML_ENV if html else TEXT_ENV
    try:
        ast = env.parse(source)
        errors = _variable_errors(ast)  # compiles too: an unknown filter fails here
    except TemplateSyntaxError as exc:  # includes TemplateAssertionError
        raise TemplateInvalid(f"Line {exc.lineno}: {exc.message}", field=field) from None
    if errors:
        raise TemplateInvalid(" ".join(errors), field=field)
    try:
        _render(env, source, sample_context())
    except SecurityError as exc:
        raise TemplateInvalid(f"Not allowed in a template: {exc}.", field=field) from None
    except TemplateRenderError as exc:
        raise TemplateInvalid(exc.message, field=field) from None
    return {
        f"{n.node.name}.{n.attr}"
        for n in ast.find_all(nodes.Getattr)
        if isinstance(n.node, nodes.Name) and n.node.name in CATALOGUE
    }


def _render(env: SandboxedEnvironment, source: str, context: dict[str, Any]) -> str:
    try:
        out = env.from_string(source).render(context)
    except UndefinedError as exc:
        raise TemplateRenderError(_missing_reason(str(exc), context)) from None
    except SecurityError:
        raise
    except Exception as exc:  # a filter given the wrong type, a division by zero …
        raise TemplateRenderError(f"The template failed: {exc}.") from None
    if len(out) > MAX_OUTPUT:
        raise TemplateRenderError("The rendered message is too long.")
    return out


def _missing_reason(error: str, context: dict[str, Any]) -> str:
    for namespace, hint in MISSING_HINTS.items():
        if namespace not in context and f"'{namespace}'" in error:
            return f"The customer {hint}."
    return f"Missing data: {error}."


def render_text(source: str, context: dict[str, Any]) -> str:
    """Render a plain-text template (SMS, WhatsApp, email text and subject)."""
    return _render(TEXT_ENV, source, context).strip()


def render_html(source: str, context: dict[str, Any]) -> str:
    """Render an HTML template with every variable escaped."""
    return _render(HTML_ENV, source, context)


@dataclass
class Rendered:
    channel: str
    subject: str = ""
    body: str = ""
    body_html: str = ""
    provider_template: str = ""
    provider_params: list[str] = field(default_factory=list)


def render_variant(template, channel: str, context: dict[str, Any], *, in_session: bool = False) -> Rendered:
    """Render one channel's variant of a ``MessageTemplate`` for ``context``.

    WhatsApp uses the free-text body only ``in_session`` (24-hour window), otherwise the provider
    template with its rendered parameters.
    """
    if not template.has_variant(channel):
        raise TemplateRenderError(f"The template has no {Channel(channel).label} version.")
    if channel == Channel.EMAIL:
        text = render_text(template.email_text, context) if template.email_text else ""
        html = render_html(template.email_html, context) if template.email_html else ""
        return Rendered(channel, subject=render_text(template.email_subject, context)[:300],
                        body=text, body_html=html)
    if channel == Channel.SMS:
        return Rendered(channel, body=render_text(template.sms_body, context))
    if template.whatsapp_body and (in_session or not template.whatsapp_template_name):
        return Rendered(channel, body=render_text(template.whatsapp_body, context))
    params = [render_text(p, context) for p in template.whatsapp_params]
    return Rendered(channel, provider_template=template.whatsapp_template_name, provider_params=params,
                    body=" | ".join(params))


def template_validate(values: dict[str, Any]) -> None:
    """Validate every channel variant of a template's fields (the dict a form or API gives)."""
    for name in ("email_subject", "email_text", "sms_body", "whatsapp_body"):
        if values.get(name):
            template_validate_source(values[name], field=name)
    if values.get("email_html"):
        template_validate_source(values["email_html"], field="email_html", html=True)
    params = values.get("whatsapp_params") or []
    if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
        raise TemplateInvalid("Give the parameters as a list of texts.", field="whatsapp_params")
    if params and not values.get("whatsapp_template_name"):
        raise TemplateInvalid("Parameters need a provider template name.", field="whatsapp_template_name")
    for index, param in enumerate(params, start=1):
        try:
            template_validate_source(param, field="whatsapp_params")
        except TemplateInvalid as exc:
            raise TemplateInvalid(f"Parameter {{{{{index}}}}}: {exc.message}", field="whatsapp_params") from None
    if values.get("email_subject") and not (values.get("email_text") or values.get("email_html")):
        raise TemplateInvalid("An email needs a text or HTML body.", field="email_text")
    if (values.get("email_text") or values.get("email_html")) and not values.get("email_subject"):
        raise TemplateInvalid("An email needs a subject.", field="email_subject")
    if not any(values.get(n) for n in ("email_subject", "sms_body", "whatsapp_template_name", "whatsapp_body")):
        raise TemplateInvalid("Write at least one channel's version.", field="sms_body")
