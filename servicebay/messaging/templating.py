"""Rendering message templates in Jinja2's sandbox, and validating them when they are saved.

Templates may use only the catalogue's variables (``variables.CATALOGUE``), a short list of
harmless filters, and no globals. Validation happens at save time: a syntax error, an unknown
variable or field, a private attribute (``__class__`` …) or anything the sandbox refuses is a
``TemplateInvalid`` on the field, never a send-time surprise.

A message is text with a few conditions, so the statements are ``{% if %}`` (and ``{% raw %}``)
only: no loops, macros, assignments, includes or calls. Without them a template runs once through
its source; every operator or filter that can enlarge a value (``*``, ``+``, ``**``, ``replace``,
``join``) draws on one bounded budget per render, and the output stops at ``MAX_OUTPUT``, so no
template can make the server spin or fill its memory — neither at save time nor at send time.
"""

from __future__ import annotations

import operator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.filters import do_join, do_replace
from jinja2.sandbox import SandboxedEnvironment

from servicebay.core.errors import DomainError

from .choices import Channel
from .variables import CATALOGUE, MISSING_HINTS, sample_context

MAX_SOURCE = 20_000
MAX_OUTPUT = 100_000
# Characters that operators and enlarging filters may build in one render, all together.
MAX_BUILT = 4 * MAX_OUTPUT
MAX_POWER_BITS = 4_096
ALLOWED_FILTERS = (
    "capitalize", "default", "d", "first", "last", "length", "lower", "replace", "round",
    "title", "trim", "truncate", "upper", "wordcount", "join", "int", "string", "escape", "e",
)
ALLOWED_TESTS = (
    "defined", "undefined", "none", "number", "string", "lower", "upper", "eq", "ne", "lt", "le",
    "gt", "ge", "in", "even", "odd", "divisibleby", "equalto", "greaterthan", "lessthan",
)
# The parts a template may be made of: text, output, conditions and expressions over constants and
# catalogue variables. Anything else (for, set, macro, call, include, import, extends, block,
# with, filter blocks, function calls) is refused by name when the template is saved.
ALLOWED_NODES = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.If, nodes.Name, nodes.Const,
    nodes.Getattr, nodes.Getitem, nodes.Filter, nodes.Test, nodes.CondExpr, nodes.Compare,
    nodes.Operand, nodes.And, nodes.Or, nodes.Not, nodes.Neg, nodes.Pos, nodes.Add, nodes.Sub,
    nodes.Mul, nodes.Div, nodes.FloorDiv, nodes.Mod, nodes.Pow, nodes.Concat, nodes.List,
    nodes.Tuple, nodes.Keyword,
)
STATEMENTS = {
    nodes.For: "for", nodes.Assign: "set", nodes.AssignBlock: "set", nodes.Macro: "macro",
    nodes.CallBlock: "call", nodes.Include: "include", nodes.Import: "import",
    nodes.FromImport: "from … import", nodes.Extends: "extends", nodes.Block: "block",
    nodes.With: "with", nodes.FilterBlock: "filter", nodes.ExprStmt: "do", nodes.Break: "break",
    nodes.Continue: "continue",
}


class TemplateInvalid(DomainError):
    """A template that cannot be saved: syntax, unknown variable, or something unsafe."""


class TemplateRenderError(DomainError):
    """A valid template that cannot be rendered for this customer (data it needs is missing)."""


_built: ContextVar[list[int] | None] = ContextVar("template_built", default=None)


def _charge(size: int) -> None:
    """Count ``size`` built characters against this render's budget; refuse past it."""
    if size > MAX_OUTPUT:
        raise SecurityError("value too large")
    spent = _built.get()
    if spent is None:  # rendered outside _render (Template.render by hand): per-value bound only
        return
    spent[0] += size
    if spent[0] > MAX_BUILT:
        raise SecurityError("the template builds too much text")


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str | list | tuple) else 0


class _Sandbox(SandboxedEnvironment):
    """The sandbox, plus bounds on operators that could build huge values (``'x' * 10**9``)."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def call_binop(self, context, op: str, left: Any, right: Any) -> Any:
        if op == "%":
            if isinstance(left, str):  # printf-style formatting: '%0999999999d' % 1
                raise SecurityError("string formatting with % is not allowed")
            return operator.mod(left, right)
        if op == "**":
            if isinstance(right, int | float) and abs(right) > 100:
                raise SecurityError("exponent too large")
            if isinstance(left, int) and isinstance(right, int) and left.bit_length() * right > MAX_POWER_BITS:
                raise SecurityError("number too large")
            return operator.pow(left, right)
        if op == "*" and isinstance(left, int) and isinstance(right, str | list | tuple):
            left, right = right, left
        if op == "*" and isinstance(left, str | list | tuple) and isinstance(right, int):
            _charge(len(left) * max(right, 0))  # before building it
        elif op == "+":
            _charge(_size(left) + _size(right))
        return operator.mul(left, right) if op == "*" else operator.add(left, right)


def _bounded_replace(eval_ctx, s: Any, old: Any, new: Any, count: int | None = None) -> Any:
    text, old, new = str(s), str(old), str(new)
    hits = text.count(old) if old else len(text) + 1
    if count is not None and count >= 0:
        hits = min(hits, count)
    _charge(len(text) + hits * max(len(new) - len(old), 0))
    return do_replace(eval_ctx, s, old, new, count)


def _bounded_join(eval_ctx, value: Any, d: str = "", attribute: Any = None) -> Any:
    if attribute is not None:
        raise SecurityError("join by attribute is not allowed")
    if isinstance(value, str):
        items = list(value)
    elif isinstance(value, list | tuple):
        items = value
    else:
        raise SecurityError("join takes a list of texts")
    _charge(sum(len(str(item)) for item in items) + max(len(items) - 1, 0) * len(str(d)))
    return do_join(eval_ctx, items, d)


_bounded_replace.jinja_pass_arg = do_replace.jinja_pass_arg  # type: ignore[attr-defined]
_bounded_join.jinja_pass_arg = do_join.jinja_pass_arg  # type: ignore[attr-defined]


def _environment(autoescape: bool) -> _Sandbox:
    env = _Sandbox(undefined=StrictUndefined, autoescape=autoescape, trim_blocks=True,
                   lstrip_blocks=True, keep_trailing_newline=False)
    env.globals.clear()
    env.filters = {name: env.filters[name] for name in ALLOWED_FILTERS}
    env.filters.update(replace=_bounded_replace, join=_bounded_join)
    env.tests = {name: env.tests[name] for name in ALLOWED_TESTS}
    return env


TEXT_ENV = _environment(autoescape=False)
HTML_ENV = _environment(autoescape=True)


def _structure_errors(ast: nodes.Template) -> list[str]:
    """Statements and expressions a message template may not contain (see the module docstring)."""
    errors: list[str] = []
    for node in ast.find_all(nodes.Node):
        statement = STATEMENTS.get(type(node))
        if statement is not None:
            errors.append(f"'{{% {statement} %}}' is not allowed in a message template: use {{% if %}} and variables.")
        elif isinstance(node, nodes.Call):
            errors.append("Calling functions or methods is not allowed in a template.")
        elif isinstance(node, nodes.List | nodes.Tuple) and not all(
            isinstance(item, nodes.Const) for item in node.items
        ):
            errors.append("A list in a template may hold only fixed values, e.g. ['Toyota', 'Lexus'].")
        elif not isinstance(node, ALLOWED_NODES):
            errors.append(f"'{type(node).__name__}' is not allowed in a template.")
    return errors


def _variable_errors(ast: nodes.Template) -> list[str]:
    errors: list[str] = _structure_errors(ast)
    # Every name a template reads must be a catalogue namespace: without {% set %} or loops nothing
    # else can be declared, and Jinja's own names (self, loop, caller …) are refused with the rest.
    names = set(meta.find_undeclared_variables(ast))
    names |= {n.name for n in ast.find_all(nodes.Name) if n.ctx == "load"}
    for name in sorted(names):
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
    budget = _built.set([0])
    try:
        ast = env.parse(source)
        # Checked again here, not only at save time: a row written around the services (a data
        # migration, a restore) must not get a loop or a macro past the sandbox's bounds.
        if _structure_errors(ast):
            raise SecurityError("the template uses statements a message template may not use")
        parts: list[str] = []
        length = 0
        # Streamed, so an oversized message stops at the limit instead of being built whole.
        for part in env.from_string(ast).generate(context):
            length += len(part)
            if length > MAX_OUTPUT:
                raise TemplateRenderError("The rendered message is too long.")
            parts.append(part)
        return "".join(parts)
    except UndefinedError as exc:
        raise TemplateRenderError(_missing_reason(str(exc), context)) from None
    except (SecurityError, TemplateRenderError):
        raise
    except Exception as exc:  # a filter given the wrong type, a division by zero …
        raise TemplateRenderError(f"The template failed: {exc}.") from None
    finally:
        _built.reset(budget)


def _missing_reason(error: str, context: dict[str, Any]) -> str:
    for namespace, hint in MISSING_HINTS.items():
        if namespace not in context and f"'{namespace}'" in error:
            return f"The customer {hint}."
    return f"Missing data: {error}."


def render_text(source: str, context: dict[str, Any]) -> str:
    """Render a plain-text template (SMS, WhatsApp, email text and subject)."""
    return _render_checked(TEXT_ENV, source, context).strip()


def render_html(source: str, context: dict[str, Any]) -> str:
    """Render an HTML template with every variable escaped."""
    return _render_checked(HTML_ENV, source, context)


def _render_checked(env: SandboxedEnvironment, source: str, context: dict[str, Any]) -> str:
    """``_render`` for sending and previews: what the sandbox refuses is a reason to skip, not a crash."""
    try:
        return _render(env, source, context)
    except SecurityError as exc:
        raise TemplateRenderError(f"Not allowed in a template: {exc}.") from None


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
