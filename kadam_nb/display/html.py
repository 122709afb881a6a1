"""Rich HTML for notebooks: a job's card, a registry's summary, a definition's sheet.

Pure string building, standard library only. Every value shown passes through
:func:`html.escape`, so names, reasons and scripts render as text, never as markup. Environment
variables (and parameters) whose names look secret are masked by the one rule of
:mod:`kadam_nb.core.secrets`.
"""

from __future__ import annotations

import datetime
import html
import shlex
from collections.abc import Iterable, Mapping, Sequence

from ..core.secrets import mask_environment
from ..core.spec import JobDefinition
from ..core.views import AttemptView, JobView
from .colors import MUTED_TEXT_COLOR, TEXT_COLOR, state_color

__all__ = ["definition_html", "job_html", "registry_html"]

_CARD = (
    "font-family: Helvetica, Arial, sans-serif; font-size: 13px; border: 1px solid #d0d0d0; "
    "border-radius: 6px; padding: 8px 10px; margin: 4px 0; max-width: 60em"
)
_TABLE = "border-collapse: collapse; margin-top: 6px; font-size: 12px"
_CELL = "border-bottom: 1px solid #e4e4e4; padding: 2px 8px; text-align: left; vertical-align: top"
_KEY = _CELL + "; color: " + MUTED_TEXT_COLOR + "; font-weight: normal; white-space: nowrap"
_PRE = "margin: 0; padding: 4px 6px; background: #f6f6f6; border-radius: 4px; white-space: pre-wrap"
_MUTED = f"color: {MUTED_TEXT_COLOR}; font-size: 11px"


# ---------------------------------------------------------------------------------------------
# Small pieces


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _badge(state: str | None) -> str:
    text = state if state is not None else "not run"
    return (
        f'<span class="kadam-state" style="background: {state_color(state)}; '
        f"color: {TEXT_COLOR}; border: 1px solid #bbb; border-radius: 8px; padding: 0 7px; "
        f'font-size: 11px; font-weight: bold">{_e(text)}</span>'
    )


def _time(ts: float | None) -> str:
    if ts is None:
        return ""
    return datetime.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def _duration(start: float | None, stop: float | None) -> str:
    if start is None:
        return ""
    if stop is None:
        return "running"
    seconds = max(0.0, stop - start)
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A table; ``header`` is plain text, ``rows`` cells are already HTML."""
    head = "".join(f'<th style="{_KEY}">{_e(h)}</th>' for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td style="{_CELL}">{cell}</td>' for cell in row) + "</tr>"
        for row in rows
    )
    return f'<table style="{_TABLE}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _fields(rows: Iterable[tuple[str, str]]) -> str:
    """A two-column key/value table; keys are plain text, values already HTML."""
    body = "".join(
        f'<tr><th style="{_KEY}">{_e(k)}</th><td style="{_CELL}">{v}</td></tr>' for k, v in rows
    )
    return f'<table style="{_TABLE}"><tbody>{body}</tbody></table>'


def _mapping(values: Mapping[str, str]) -> str:
    return "<br>".join(f"<code>{_e(k)}={_e(v)}</code>" for k, v in values.items())


def _number(value: float) -> str:
    return f"{value:g}"


# ---------------------------------------------------------------------------------------------
# Jobs


def _attempt_row(a: AttemptView) -> list[str]:
    return [
        _e(a.number),
        _e("" if a.exit_code is None else a.exit_code),
        _e(a.status_reason or a.reason or ""),
        _e(_time(a.started_at)),
        _e(_duration(a.started_at, a.stopped_at)),
    ]


def job_html(view: JobView) -> str:
    """A job's card: name, state, status reason, its attempts, and its ids."""
    v = view
    parts = [
        f'<div class="kadam-job" style="{_CARD}">',
        f"<div><b>{_e(v.display_name)}</b> {_badge(v.status.value)}",
    ]
    if v.revision is not None:
        of = f"{v.definition_name} " if v.definition_name != v.name else ""
        parts.append(f' <span style="{_MUTED}">{_e(of)}rev {_e(v.revision)}</span>')
    parts.append("</div>")
    if v.status_reason:
        parts.append(f'<div style="margin-top: 4px">{_e(v.status_reason)}</div>')
    facts = []
    if v.is_parent:
        facts.append(f"array job of {v.array_size} children")
    else:
        facts.append(f"attempt {len(v.attempts)} of {v.max_attempts}")
        if v.status.done and v.exit_code is not None:
            facts.append(f"exit code {v.exit_code}")
    if v.started_at is not None and v.stopped_at is not None:
        facts.append(f"ran {_duration(v.started_at, v.stopped_at)}")
    elif v.started_at is not None:
        facts.append(f"started {_time(v.started_at)}")
    if v.cached_from:
        facts.append(f"cached from {v.cached_from}")
    parts.append(f'<div style="{_MUTED}; margin-top: 2px">{_e(" · ".join(facts))}</div>')
    if v.attempts:
        parts.append(
            _table(
                ["attempt", "exit code", "reason", "started", "duration"],
                (_attempt_row(a) for a in v.attempts),
            )
        )
    parts.append(
        f'<div style="{_MUTED}; margin-top: 6px">id <code>{_e(v.id)}</code> · run '
        f"<code>{_e(v.run_id)}</code> · queue {_e(v.queue)}</div>"
    )
    parts.append("</div>")
    return "".join(parts)


# ---------------------------------------------------------------------------------------------
# Definitions


def _command_html(d: JobDefinition) -> str:
    script = d.script
    if script is not None:
        return f'<pre style="{_PRE}">{_e(script)}</pre>'
    if d.command:
        return f'<pre style="{_PRE}">{_e(shlex.join(d.command))}</pre>'
    return f'<span style="{_MUTED}">(the image\'s own command)</span>'


def _array_text(d: JobDefinition) -> str:
    if d.array_size is None:
        return ""
    text = f"{d.array_size} children"
    return f"{text}, {d.array_dependency}" if d.array_dependency else text


def _retry_html(d: JobDefinition) -> str:
    strategy = d.retry_strategy
    text = f"{strategy.attempts} attempt{'s' if strategy.attempts != 1 else ''}"
    rules = []
    for rule in strategy.evaluate_on_exit:
        conditions = [
            f"{label} {value}"
            for label, value in (
                ("exit code", rule.on_exit_code),
                ("reason", rule.on_reason),
                ("status reason", rule.on_status_reason),
            )
            if value is not None
        ]
        rules.append(f"{rule.action} on {' and '.join(conditions) or 'anything'}")
    if not rules:
        return _e(text)
    return _e(text) + "<br>" + "<br>".join(_e(r) for r in rules)


def definition_html(d: JobDefinition, secret_patterns: Iterable[str] = ()) -> str:
    """A definition's sheet: name, revision, image, command, resources, dependencies, array,
    retries and timeout. Environment variables (and parameters) whose names look secret (the
    defaults of :mod:`kadam_nb.core.secrets`, or one of ``secret_patterns``) are masked."""
    patterns = tuple(secret_patterns)
    rows: list[tuple[str, str]] = [
        ("image", _e(d.image or "(the registry's default image)")),
        ("command", _command_html(d)),
        ("vCPUs", _e(_number(d.vcpus))),
        ("memory", _e(f"{d.memory} MiB")),
    ]
    if d.gpus:
        rows.append(("GPUs", _e(d.gpus)))
    if d.environment:
        rows.append(("environment", _mapping(mask_environment(d.environment, patterns))))
    if d.parameters:
        rows.append(("parameters", _mapping(mask_environment(d.parameters, patterns))))
    rows += [
        ("depends on", _e(", ".join(d.depends_on) or "nothing")),
        ("array", _e(_array_text(d) or "no")),
        ("retries", _retry_html(d)),
        ("timeout", _e(f"{d.timeout} s" if d.timeout is not None else "none")),
    ]
    revision = f" rev {d.revision}" if d.revision is not None else " (not registered)"
    return (
        f'<div class="kadam-definition" style="{_CARD}">'
        f'<div><b>{_e(d.name)}</b><span style="{_MUTED}">{_e(revision)}</span></div>'
        f"{_fields(rows)}</div>"
    )


# ---------------------------------------------------------------------------------------------
# The registry


def registry_html(
    state_dir: str, backend: str, definitions: Sequence[JobDefinition], live_jobs: int
) -> str:
    """A registry's summary: where it keeps its state, what runs its jobs, its definitions."""
    jobs = f"{live_jobs} live job{'s' if live_jobs != 1 else ''}"
    head = (
        f'<div class="kadam-registry" style="{_CARD}">'
        f"<div><b>kadam registry</b> "
        f'<span style="{_MUTED}">backend {_e(backend)} · {_e(jobs)}</span></div>'
        f'<div style="{_MUTED}">state <code>{_e(state_dir)}</code></div>'
    )
    if not definitions:
        body = (
            '<div style="margin-top: 6px">'
            "No job definitions yet: register one with <code>%%kadam job NAME --image IMAGE</code>"
            " or <code>registry.register(...)</code>.</div>"
        )
    else:
        body = _table(
            ["definition", "rev", "image", "depends on", "array", "command"],
            (
                [
                    f"<b>{_e(d.name)}</b>",
                    _e("" if d.revision is None else d.revision),
                    _e(d.image or ""),
                    _e(", ".join(d.depends_on)),
                    _e(_array_text(d)),
                    f"<code>{_e(_short(d))}</code>",
                ]
                for d in definitions
            ),
        )
    return head + body + "</div>"


def _short(d: JobDefinition, limit: int = 60) -> str:
    """The command on one line, cut at ``limit`` characters."""
    text = d.script if d.script is not None else shlex.join(d.command)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
