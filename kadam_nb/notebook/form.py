"""The job definition form: AWS Batch's console "Create job definition" page, in the notebook.

``JobForm(registry)`` (or ``kadam_nb.form()``, or ``%kadam form [NAME]``) shows every field of a
:class:`~kadam_nb.core.spec.JobDefinition`, grouped as the console groups them, and buttons to
create it (a new revision when the name exists), submit a job of it (with its upstream
definitions when it depends on any; a live dashboard appears below the form), show it as a
``%%kadam job`` cell and as ``RegisterJobDefinition`` JSON, and load a registered definition
(any revision) into the form.

How it stays honest:

* **One set of rules.** On every change the form turns its widgets into the keywords of
  :meth:`JobDefinition.create <kadam_nb.core.spec.JobDefinition.create>` and calls it: the
  core's validation, not a copy. Each :class:`~kadam_nb.errors.FieldError` is shown under the
  input its ``field`` names (``environment.AWS_BATCH_X`` under that variable's row,
  ``mount_points[0].container_path`` under the volume row that made mount point 0, ...), errors
  that went away are cleared, and "Create job definition" / "Submit job" are disabled while any
  remains. The form adds only what its own shape needs: a command typed as argv must split into
  words, a retry rule names each condition once.
* **Every field round-trips.** :meth:`JobForm.load` fills every field (volumes and mount points
  in their order, rules with several conditions, ulimits, log options, the AWS fields kadam
  keeps for export), and :meth:`JobForm.definition` of a loaded, unchanged form is the loaded
  definition itself.
* **No threads.** Widgets are written only in callbacks, which ipykernel runs on its own thread
  (comm messages); nothing prints: results go to the status line. The dashboard of a submitted
  job is a :class:`~kadam_nb.notebook.dashboard.Dashboard` with its own pump thread.

DOM hooks (CSS classes, for browser tests):

* the root ``kadam-form``; the status line ``kadam-form-status``; the dashboard area
  ``kadam-form-output``; the code area ``kadam-form-code`` (``kadam-code-cell``,
  ``kadam-code-json``); the load bar ``kadam-load-name``, ``kadam-load-revision``;
* each input ``kadam-field-KEY`` and its error label ``kadam-error-KEY`` (empty when there is
  no error), KEY in :data:`FIELD_KEYS`;
* rows: environment ``kadam-env-name`` / ``kadam-env-value``, volumes ``kadam-vol-name`` /
  ``kadam-vol-host`` / ``kadam-vol-container`` / ``kadam-vol-ro``, parameters
  ``kadam-param-name`` / ``kadam-param-value``, tags ``kadam-tag-key`` / ``kadam-tag-value``,
  ulimits ``kadam-ulimit-name`` / ``kadam-ulimit-soft`` / ``kadam-ulimit-hard``, retry rules
  ``kadam-rule-kind`` / ``kadam-rule-pattern`` / ``kadam-rule-action``; each row's error label
  ``kadam-error-env`` / ``-vol`` / ``-param`` / ``-tag`` / ``-ulimit`` / ``-rule`` (empty when
  the row has no error), and its note label ``kadam-note-KIND`` (hints that block nothing: a
  variable given twice, a rule without a condition); a row's remove button ``kadam-remove``;
  section-wide error labels ``kadam-error-environment``, ``-storage``, ``-parameters``,
  ``-tags``, ``-ulimits``, ``-rules``, and ``kadam-error-form`` for anything else;
* buttons by description: "Create job definition", "Submit job", "Show as code", "Load",
  "Add variable", "Add volume", "Add rule", "Add parameter", "Add tag", "Add ulimit",
  "Add condition".
"""

from __future__ import annotations

import contextlib
import html
import json
import logging
import re
import shlex
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ..core.aws import AWS_LOG_DRIVERS, masked_export
from ..core.isolation import PRIVILEGED_RISK, isolation_risks
from ..core.secrets import MASK, is_secret_name, mask_definition
from ..core.spec import ULIMIT_NAMES, JobDefinition
from ..errors import FieldError, KadamError, NotFound, SpecError
from .grammar import cell_gaps, to_job_cell

if TYPE_CHECKING:
    from ..facade import Registry
    from ..jobs import Job, Run
    from .config import Kadam
    from .dashboard import Dashboard

__all__ = ["FIELD_KEYS", "JobForm"]

log = logging.getLogger("kadam_nb")

FIELD_KEYS = (
    "name",
    "image",
    "command-mode",
    "command",
    "user",
    "readonly",
    "privileged",
    "vcpus",
    "memory",
    "gpus",
    "shm",
    "attempts",
    "timeout",
    "array-size",
    "array-dependency",
    "depends-on",
    "job-role",
    "execution-role",
    "log-driver",
    "log-options",
    "log-secrets",
    "aws-extra",
)
"""The keys of the form's single inputs: CSS classes ``kadam-field-KEY`` / ``kadam-error-KEY``,
and the keys of :attr:`JobForm.fields` and :attr:`JobForm.errors`."""

SCRIPT = "shell script"
ARGV = "argv (no shell)"

# definition field (the head of a FieldError's field) -> the key of the input that sets it
_FIELD_KEY = {
    "name": "name",
    "image": "image",
    "command": "command",
    "user": "user",
    "readonly_root_filesystem": "readonly",
    "privileged": "privileged",
    "vcpus": "vcpus",
    "memory": "memory",
    "gpus": "gpus",
    "shared_memory_size": "shm",
    "attempts": "attempts",
    "retries": "attempts",
    "timeout": "timeout",
    "array_size": "array-size",
    "array_dependency": "array-dependency",
    "depends_on": "depends-on",
    "job_role_arn": "job-role",
    "execution_role_arn": "execution-role",
    "aws_extra": "aws-extra",
    "vcpus/memory/gpus": "vcpus",
}

_RULE_KINDS = (
    ("exit code", "on_exit_code"),
    ("reason", "on_reason"),
    ("status reason", "on_status_reason"),
)
_RULE_KIND_LABEL = {attr: label for label, attr in _RULE_KINDS}

# the last part of a row's field (volumes[0].host_path) -> how its error label names it
_PART_LABELS = {
    "name": "name",
    "host_path": "host path",
    "source_volume": "volume",
    "container_path": "container path",
    "read_only": "read-only",
    "soft": "soft limit",
    "hard": "hard limit",
    "action": "action",
    **_RULE_KIND_LABEL,
}

_INDEXED = re.compile(r"(?P<head>[a-z_.]+)\[(?P<index>[0-9]+)\](?:\.(?P<rest>.*))?")

_STYLE = """<style>
.kadam-form { font-family: var(--jp-ui-font-family, Helvetica, Arial, sans-serif);
  max-width: 60em; }
.kadam-form .kadam-form-section { border-top: 1px solid var(--jp-border-color2, #ddd);
  margin-top: 6px; padding-top: 2px; }
.kadam-form h4 { margin: 4px 0 2px 0; }
.kadam-form .kadam-help, .kadam-form .kadam-muted { color: var(--jp-ui-font-color2, #666);
  font-size: 11px; }
.kadam-form .kadam-error { color: #c62828; font-size: 12px; }
.kadam-form .kadam-warn { color: #8a6d00; font-size: 12px; }
.kadam-form .kadam-ok { color: #2e7d32; }
</style>"""

_DESC = {"description_width": "11em"}
_WIDE = "38em"


def _error_html(messages: Sequence[str]) -> str:
    """The value of an error label: "" when there is no error."""
    return "<br>".join(f"<span class='kadam-error'>⚠ {html.escape(m)}</span>" for m in messages)


def _note_html(notes: Sequence[str]) -> str:
    """The value of a note label (a hint that blocks nothing): "" when there is none."""
    return "<br>".join(f"<span class='kadam-warn'>{html.escape(n)}</span>" for n in notes)


def _number_text(value: float) -> str:
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def _label(text: str, help_text: str = "") -> Any:
    helper = f" <span class='kadam-help'>{help_text}</span>" if help_text else ""
    return widgets.HTML(f"<h4>{html.escape(text)}{helper}</h4>")


def _error_label(css: str, indent: bool = False) -> Any:
    label = widgets.HTML("")
    if indent:  # under the input, past its description
        label.layout.margin = "0 0 0 11.5em"
    label.add_class(css)
    return label


# ---------------------------------------------------------------------------------------------
# Rows (environment, parameters, tags, volumes, ulimits, retry rules)


class _Row:
    """One row of inputs, its remove button and its error label (``box`` is what is shown)."""

    kind = ""

    def __init__(self, rows: _Rows, inputs: list[Any]) -> None:
        self.rows = rows
        self.inputs = inputs
        self.error = _error_label(f"kadam-error-{self.kind}")
        self.error.add_class("kadam-error")
        self.note = _error_label(f"kadam-note-{self.kind}")
        self.remove_button = widgets.Button(
            description="",
            icon="trash",
            tooltip="Remove this row",
            layout=widgets.Layout(width="2.8em"),
        )
        self.remove_button.add_class("kadam-remove")
        self.remove_button.on_click(rows.form._handler(lambda: rows.remove(self)))
        self.line = widgets.HBox([*inputs, self.remove_button])
        self.box = widgets.VBox([self.line, self.error, self.note])
        self.box.add_class(f"kadam-{self.kind}-row")
        for w in inputs:
            w.observe(rows.form._changed, names="value")

    def blank(self) -> bool:
        return False

    def close(self) -> None:
        for w in (*self.inputs, self.remove_button, self.error, self.note, self.line, self.box):
            w.close()


def _row_text(css: str, placeholder: str, width: str, value: str = "", hidden: bool = False) -> Any:
    w = (widgets.Password if hidden else widgets.Text)(
        value=value,
        placeholder=placeholder,
        continuous_update=True,
        layout=widgets.Layout(width=width),
    )
    w.add_class(css)
    return w


class _PairRow(_Row):
    """NAME = value (environment variables, parameters, tags)."""

    def __init__(self, rows: _Rows, key: str = "", value: str = "") -> None:
        self.kind = rows.kind
        self.rows = rows
        prefix = {"env": "env-name", "param": "param-name", "tag": "tag-key"}[rows.kind]
        suffix = {"env": "env-value", "param": "param-value", "tag": "tag-value"}[rows.kind]
        self.key = _row_text(f"kadam-{prefix}", rows.placeholders[0], "16em", key)
        self.value = _row_text(
            f"kadam-{suffix}", rows.placeholders[1], "21em", value, self._hides(key)
        )
        super().__init__(rows, [self.key, self.value])
        if rows.kind == "env":
            self.key.observe(lambda _change: self._hide_if_secret(), names="value")

    def _hides(self, name: str) -> bool:
        """A variable whose name looks secret (``*_KEY``, ``*TOKEN*``...) is typed as a password:
        not shown on a screen someone else may see (the code cell masks it too)."""
        if self.kind != "env":
            return False
        settings = self.rows.form.settings
        return is_secret_name(name.strip(), settings.secret_patterns if settings else ())

    def _hide_if_secret(self) -> None:
        hidden = self._hides(self.key.value)
        if hidden == isinstance(self.value, widgets.Password):
            return
        old = self.value
        self.value = _row_text(
            f"kadam-{self.kind}-value", old.placeholder, old.layout.width, old.value, hidden
        )
        self.value.observe(self.rows.form._changed, names="value")
        self.inputs[1] = self.value
        self.line.children = (self.key, self.value, self.remove_button)
        old.close()

    def blank(self) -> bool:
        return self.key.value == "" and self.value.value == ""


class _VolumeRow(_Row):
    """A volume and where it is mounted: name (optional), host path, container path, read-only."""

    kind = "vol"

    def __init__(
        self,
        rows: _Rows,
        name: str = "",
        host: str = "",
        container: str = "",
        read_only: bool = False,
    ) -> None:
        self.name = _row_text("kadam-vol-name", "name (auto)", "8em", name)
        self.host = _row_text("kadam-vol-host", "host path (blank: engine volume)", "15em", host)
        self.container = _row_text("kadam-vol-container", "container path", "12em", container)
        self.read_only = widgets.Checkbox(
            value=read_only,
            description="read-only",
            indent=False,
            layout=widgets.Layout(width="7em"),
        )
        self.read_only.add_class("kadam-vol-ro")
        super().__init__(rows, [self.name, self.host, self.container, self.read_only])

    def blank(self) -> bool:
        return not (
            self.name.value.strip() or self.host.value.strip() or self.container.value.strip()
        )


class _UlimitRow(_Row):
    kind = "ulimit"

    def __init__(self, rows: _Rows, name: str = "nofile", soft: str = "", hard: str = "") -> None:
        self.name = widgets.Dropdown(
            options=sorted(ULIMIT_NAMES), value=name, layout=widgets.Layout(width="9em")
        )
        self.name.add_class("kadam-ulimit-name")
        self.soft = _row_text("kadam-ulimit-soft", "soft limit", "9em", soft)
        self.hard = _row_text("kadam-ulimit-hard", "hard (blank: = soft)", "11em", hard)
        super().__init__(rows, [self.name, self.soft, self.hard])

    def blank(self) -> bool:
        return not (self.soft.value.strip() or self.hard.value.strip())


class _RuleRow(_Row):
    """An evaluateOnExit rule: one or more conditions (all must match) and an action."""

    kind = "rule"

    def __init__(
        self, rows: _Rows, conditions: Sequence[tuple[str, str]] = (), action: str = "RETRY"
    ) -> None:
        self.action = widgets.Dropdown(
            options=("RETRY", "EXIT"), value=action, layout=widgets.Layout(width="7em")
        )
        self.action.add_class("kadam-rule-action")
        self.conditions: list[tuple[Any, Any]] = []
        self._separators: list[Any] = []
        self.add_condition_button = widgets.Button(
            description="Add condition",
            tooltip="Another condition: the rule then matches when all of them match",
            layout=widgets.Layout(width="9em"),
        )
        self.add_condition_button.on_click(rows.form._handler(self.add_condition))
        super().__init__(rows, [self.action])
        for kind, pattern in conditions or (("on_exit_code", ""),):
            self.add_condition(kind, pattern)

    def add_condition(self, kind: str | None = None, pattern: str = "") -> None:
        used = {k.value for k, _ in self.conditions}
        if kind is None:
            kind = next((a for _, a in _RULE_KINDS if a not in used), "on_exit_code")
        which = widgets.Dropdown(
            options=_RULE_KINDS, value=kind, layout=widgets.Layout(width="9em")
        )
        which.add_class("kadam-rule-kind")
        text = _row_text(
            "kadam-rule-pattern", "pattern, e.g. 137 or OutOfMemory* (blank: any)", "18em", pattern
        )
        for w in (which, text):
            w.observe(self.rows.form._changed, names="value")
        self.conditions.append((which, text))
        self.add_condition_button.disabled = len(self.conditions) >= len(_RULE_KINDS)
        if not self._separators:
            self._separators.append(widgets.HTML("<span class='kadam-muted'>&nbsp;→&nbsp;</span>"))
        if len(self.conditions) > 1:
            self._separators.append(
                widgets.HTML("<span class='kadam-muted'>&nbsp;and&nbsp;</span>")
            )
        parts: list[Any] = []
        for i, (k, t) in enumerate(self.conditions):
            if i:
                parts.append(self._separators[i])
            parts += [k, t]
        self.line.children = (
            *parts,
            self._separators[0],
            self.action,
            self.add_condition_button,
            self.remove_button,
        )
        self.rows.form._changed()

    def close(self) -> None:
        for k, t in self.conditions:
            k.close()
            t.close()
        for w in (*self._separators, self.add_condition_button):
            w.close()
        super().close()


class _Rows:
    """A growing list of rows of one kind, with its "Add ..." button and a section-wide error
    label (for problems about the whole list, like "at most 5 rules")."""

    def __init__(
        self,
        form: JobForm,
        kind: str,
        make: Callable[..., _Row],
        add_label: str,
        section: str,
        placeholders: tuple[str, str] = ("", ""),
    ) -> None:
        self.form = form
        self.kind = kind
        self.make = make
        self.placeholders = placeholders
        self.rows: list[Any] = []
        self.list_box = widgets.VBox([])
        self.add_button = widgets.Button(description=add_label, icon="plus")
        self.add_button.on_click(form._handler(lambda: self.add()))
        self.error = _error_label(f"kadam-error-{section}")
        self.error.add_class("kadam-error")
        self.box = widgets.VBox([self.list_box, self.add_button, self.error])

    def add(self, *args: Any, **kwargs: Any) -> Any:
        row = self.make(self, *args, **kwargs)
        self.rows.append(row)
        self.list_box.children = tuple(r.box for r in self.rows)
        self.form._changed()
        return row

    def remove(self, row: _Row) -> None:
        self.rows.remove(row)
        self.list_box.children = tuple(r.box for r in self.rows)
        row.close()
        self.form._changed()

    def clear(self) -> None:
        for row in self.rows:
            row.close()
        self.rows = []
        self.list_box.children = ()


# ---------------------------------------------------------------------------------------------
# From widgets to keywords


@dataclass
class _Where:
    """Which row made each part of the keywords, to put an error next to it."""

    env: dict[str, list[_PairRow]] = field(default_factory=dict)
    parameters: dict[str, list[_PairRow]] = field(default_factory=dict)
    tags: dict[str, list[_PairRow]] = field(default_factory=dict)
    volumes: list[_VolumeRow] = field(default_factory=list)
    mounts: list[_VolumeRow] = field(default_factory=list)
    ulimits: list[_UlimitRow] = field(default_factory=list)
    rules: list[_RuleRow] = field(default_factory=list)
    problems: list[FieldError] = field(default_factory=list)
    """What the form itself refuses (its shape, not the rules): reported like the core's."""
    notes: list[tuple[_Row, str]] = field(default_factory=list)
    """(row, text): hints shown under a row (in its note label), blocking nothing."""


def _pairs(
    rows: Sequence[_PairRow],
    where: dict[str, list[_PairRow]],
    what: str,
    notes: list[tuple[_Row, str]],
) -> dict[str, str] | None:
    out: dict[str, str] = {}
    for row in rows:
        if row.blank():
            continue
        key = row.key.value
        if key in where:
            notes.append((row, f"{what} {key!r} is given more than once: the last row wins"))
        where.setdefault(key, []).append(row)
        out[key] = row.value.value
    return out or None


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


# ---------------------------------------------------------------------------------------------
# The form


def _textarea(description: str, placeholder: str, rows: int = 2) -> Any:
    """A multi-line field of the AWS-only section, validated as you type."""
    return widgets.Textarea(
        value="",
        description=description,
        placeholder=placeholder,
        rows=rows,
        continuous_update=True,
        style=_DESC,
        layout=widgets.Layout(width=_WIDE),
    )


class JobForm:
    """An AWS-console-like form for one job definition; ``widget`` is its root.

    ``JobForm(registry, settings=None, name=None)``: with ``name`` of a registered definition
    the form starts filled with its latest revision, with another name it starts with that
    name, else empty. ``settings`` (a :class:`~kadam_nb.notebook.config.Kadam`) is for the
    dashboard of submitted jobs.

    Public: :meth:`definition`, :meth:`load`, :meth:`create`, :meth:`submit`,
    :meth:`show_code`, :meth:`refresh`, :meth:`close`; the widgets ``fields`` and ``errors``
    (by key, see :data:`FIELD_KEYS`), the row lists ``env_rows``, ``volume_rows``,
    ``rule_rows``, ``parameter_rows``, ``tag_rows``, ``ulimit_rows`` (each with ``.rows`` and
    ``.add()``), the buttons, ``status``, ``output``, ``code_cell``, ``code_json``; ``problems``
    (the FieldErrors shown now), ``valid``, ``dashboard`` (of the last submitted job).
    """

    def __init__(
        self, registry: Registry, settings: Kadam | None = None, name: str | None = None
    ) -> None:
        self.registry = registry
        self.settings = settings
        self.fields: dict[str, Any] = {}
        self.errors: dict[str, Any] = {}
        self.problems: list[FieldError] = []
        self.valid = False
        self.dashboard: Dashboard | None = None
        self.last_run: Run | None = None
        self._loaded: JobDefinition | None = None
        self._current: JobDefinition | None = None
        self._deps: list[str] = []  # depends_on in the order chosen
        self._quiet = 0  # >0 while the form itself sets many values (load, refresh)
        self._code_shown = False
        self._revisions_of: str | None = None
        self._build()
        loaded = False
        if name is not None:
            try:
                self.load(registry.definition(name))
                loaded = True
            except NotFound:
                self.fields["name"].value = name
        if not loaded:
            self._changed()

    # ------------------------------------------------------------------ building

    def _input(self, key: str, w: Any, help_text: str = "", observe: bool = True) -> Any:
        """Register an input under ``key`` and return it with its error label under it."""
        w.add_class(f"kadam-field-{key}")
        if observe:
            w.observe(self._changed, names="value")
        self.fields[key] = w
        error = _error_label(f"kadam-error-{key}", indent=True)
        error.add_class("kadam-error")
        self.errors[key] = error
        parts = [w]
        if help_text:
            parts = [
                widgets.HBox(
                    [w, widgets.HTML(f"<span class='kadam-help'>&nbsp;{help_text}</span>")]
                )
            ]
        return widgets.VBox([*parts, error])

    def _text(
        self,
        key: str,
        description: str,
        placeholder: str = "",
        value: str = "",
        help_text: str = "",
        width: str = _WIDE,
    ) -> Any:
        w = widgets.Text(
            value=value,
            description=description,
            placeholder=placeholder,
            continuous_update=True,
            style=_DESC,
            layout=widgets.Layout(width=width),
        )
        return self._input(key, w, help_text)

    def _check(self, key: str, description: str, help_text: str = "") -> Any:
        w = widgets.Checkbox(
            value=False,
            description=description,
            indent=True,
            style=_DESC,
            layout=widgets.Layout(width=_WIDE),
        )
        return self._input(key, w, help_text)

    def _section(self, key: str, title: str, help_text: str, *children: Any) -> Any:
        box = widgets.VBox([_label(title, help_text), *children])
        box.add_class("kadam-form-section")
        box.add_class(f"kadam-section-{key}")
        return box

    def _build(self) -> None:
        reg = self.registry
        # ---- load bar
        self.load_name = widgets.Dropdown(
            options=(), description="Registered", style=_DESC, layout=widgets.Layout(width="26em")
        )
        self.load_name.add_class("kadam-load-name")
        self.load_revision = widgets.Dropdown(
            options=(), description="revision", layout=widgets.Layout(width="14em")
        )
        self.load_revision.add_class("kadam-load-revision")
        self.load_button = widgets.Button(
            description="Load", icon="upload", tooltip="Fill the form from this revision"
        )
        self.load_name.observe(self._on_load_name, names="value")
        self.load_button.on_click(self._handler(self.load_selected))

        # ---- general
        general = self._section(
            "general",
            "General",
            "",
            self._text("name", "Name", "e.g. clean-data_2", help_text="letters, digits, - and _"),
        )
        self.tag_rows = _Rows(self, "tag", _PairRow, "Add tag", "tags", ("key", "value"))
        general.children = (*general.children, widgets.HTML("<b>Tags</b>"), self.tag_rows.box)

        # ---- container
        # what breaks isolation (privileged here, host paths under their volume row): a
        # warning that blocks nothing
        self.privileged_warning = _error_label("kadam-warn-privileged", indent=True)
        mode = widgets.ToggleButtons(
            options=(SCRIPT, ARGV),
            value=SCRIPT,
            description="Command is",
            style=_DESC | {"button_width": "9em"},
            layout=widgets.Layout(width=_WIDE),
            tooltips=(
                "The text is a script run by /bin/sh -c (blank: the image's own command)",
                "The text is one command line of shell-quoted words, run without a shell",
            ),
        )
        command = widgets.Textarea(
            value="",
            description="Command",
            placeholder=(
                "echo hello from $AWS_BATCH_JOB_ID\n"
                "(a script for /bin/sh -c; blank: the image's own command)"
            ),
            continuous_update=True,
            rows=5,
            style=_DESC,
            layout=widgets.Layout(width=_WIDE),
        )
        container = self._section(
            "container",
            "Container",
            "",
            self._text("image", "Image", f"{reg.default_image} (the default)"),
            self._input("command-mode", mode),
            self._input("command", command),
            self._text("user", "User", "name or uid (blank: the image's user)"),
            self._check("readonly", "Read-only root filesystem"),
            self._check("privileged", "Privileged"),
            self.privileged_warning,
        )

        # ---- resources
        self.ulimit_rows = _Rows(self, "ulimit", _UlimitRow, "Add ulimit", "ulimits")
        resources = self._section(
            "resources",
            "Resources",
            "a job waits RUNNABLE until they fit the compute environment",
            self._text("vcpus", "vCPUs", "1", "1", "1, 2, 0.5", width="20em"),
            self._text(
                "memory",
                "Memory",
                "2048",
                "2048",
                "MiB: 512, 512m, 2g (the hard limit)",
                width="20em",
            ),
            self._text("gpus", "GPUs", "0", "0", width="20em"),
            self._text(
                "shm", "Shared memory", "engine default", "", "/dev/shm: 64, 64m, 1g", width="20em"
            ),
            widgets.HTML("<b>Ulimits</b>"),
            self.ulimit_rows.box,
        )

        # ---- environment
        self.env_rows = _Rows(
            self, "env", _PairRow, "Add variable", "environment", ("NAME", "value")
        )
        environment = self._section(
            "environment",
            "Environment variables",
            "AWS_BATCH_JOB_ID, AWS_BATCH_JOB_ATTEMPT, ... are set for you "
            "(AWS_BATCH_* is reserved)",
            self.env_rows.box,
        )

        # ---- storage
        self.volume_rows = _Rows(self, "vol", _VolumeRow, "Add volume", "storage")
        storage = self._section(
            "storage",
            "Volumes and mount points",
            "a host directory (or an engine volume) mounted in the container; rows with the same "
            "name mount one volume at several paths",
            self.volume_rows.box,
        )

        # ---- retries and timeout
        self.rule_rows = _Rows(self, "rule", _RuleRow, "Add rule", "rules")
        retries = self._section(
            "retries",
            "Retries and timeout",
            "",
            self._text(
                "attempts", "Attempts", "1", "1", "total attempts, 1-10 (1 runs once)", width="20em"
            ),
            widgets.HTML(
                "<b>Evaluate on exit</b> <span class='kadam-help'>after a failed attempt the "
                "first matching rule decides; no match retries (AWS); a trailing * matches any "
                "rest</span>"
            ),
            self.rule_rows.box,
            self._text(
                "timeout", "Timeout", "none", "", "per attempt: 90, 90s, 10m, 1h30m", width="20em"
            ),
        )

        # ---- array
        array_dependency = widgets.Dropdown(
            options=(("none", ""), ("N_TO_N", "N_TO_N"), ("SEQUENTIAL", "SEQUENTIAL")),
            value="",
            description="Array dependency",
            style=_DESC,
            layout=widgets.Layout(width="24em"),
        )
        array = self._section(
            "array",
            "Array job",
            "children get $AWS_BATCH_JOB_ARRAY_INDEX",
            self._text(
                "array-size", "Array size", "none (a single job)", "", "2-10000", width="20em"
            ),
            self._input(
                "array-dependency",
                array_dependency,
                "N_TO_N: child i waits for child i upstream; SEQUENTIAL: for child i-1",
            ),
        )

        # ---- dependencies and parameters
        depends = widgets.SelectMultiple(
            options=(),
            value=(),
            description="Depends on",
            rows=4,
            style=_DESC,
            layout=widgets.Layout(width="26em"),
        )
        self.parameter_rows = _Rows(
            self, "param", _PairRow, "Add parameter", "parameters", ("name", "default value")
        )
        dependencies = self._section(
            "dependencies",
            "Dependencies and parameters",
            "",
            self._input(
                "depends-on",
                depends,
                "registered definitions; ctrl/cmd-click for several",
                observe=False,
            ),
            widgets.HTML(
                "<b>Parameters</b> <span class='kadam-help'>defaults for Ref::name in the "
                "command</span>"
            ),
            self.parameter_rows.box,
        )

        # ---- AWS only
        driver = widgets.Combobox(
            value="",
            options=sorted(AWS_LOG_DRIVERS),
            description="Log driver",
            placeholder="none (e.g. awslogs)",
            ensure_option=False,
            continuous_update=True,
            style=_DESC,
            layout=widgets.Layout(width="26em"),
        )
        options = _textarea("Log options", "awslogs-group=/batch/jobs\n(one NAME=value a line)")
        secrets = _textarea(
            "Log secrets", "NAME=arn:aws:secretsmanager:...\n(one NAME=valueFrom a line)"
        )
        extra = _textarea(
            "Other AWS fields",
            '{"schedulingPriority": 10}\n(JSON, as in RegisterJobDefinition)',
            rows=3,
        )
        aws = self._section(
            "aws",
            "AWS only",
            "kept and exported to AWS Batch; no effect when kadam runs the job here",
            self._text("job-role", "Job role ARN", "arn:aws:iam::123456789012:role/..."),
            self._text(
                "execution-role", "Execution role ARN", "arn:aws:iam::123456789012:role/..."
            ),
            self._input("log-driver", driver),
            self._input("log-options", options),
            self._input("log-secrets", secrets),
            self._input("aws-extra", extra),
        )

        # ---- actions, status, code, output
        self.create_button = widgets.Button(
            description="Create job definition",
            button_style="primary",
            icon="check",
            tooltip="Register it (a new revision when the name exists)",
            layout=widgets.Layout(width="auto"),
        )
        self.submit_button = widgets.Button(
            description="Submit job",
            button_style="success",
            icon="play",
            tooltip="Register it if needed and submit one job of it; a dashboard follows it",
            layout=widgets.Layout(width="auto"),
        )
        self.code_button = widgets.Button(
            description="Show as code",
            icon="code",
            tooltip="The same definition as a %%kadam job cell and as RegisterJobDefinition JSON",
            layout=widgets.Layout(width="auto"),
        )
        self.create_button.on_click(self._handler(self._create_clicked))
        self.submit_button.on_click(self._handler(self._submit_clicked))
        self.code_button.on_click(self._handler(self._code_clicked))
        self.summary = widgets.HTML("")
        self.summary.add_class("kadam-form-summary")
        self.form_error = _error_label("kadam-error-form")
        self.form_error.add_class("kadam-error")
        self.status = widgets.HTML("")
        self.status.add_class("kadam-form-status")
        self.code_cell = widgets.Textarea(
            value="", rows=6, layout=widgets.Layout(width="100%"), description=""
        )
        self.code_cell.add_class("kadam-code-cell")
        self.code_json = widgets.Textarea(
            value="", rows=12, layout=widgets.Layout(width="100%"), description=""
        )
        self.code_json.add_class("kadam-code-json")
        self.code_note = widgets.HTML("")
        self.code = widgets.VBox(
            [
                widgets.HTML("<b>As a cell</b> <span class='kadam-help'>paste it in a cell</span>"),
                self.code_cell,
                self.code_note,
                widgets.HTML(
                    "<b>RegisterJobDefinition JSON</b> <span class='kadam-help'>the \"kadam\" "
                    "block is kadam's own (depends on, array); AWS refuses it</span>"
                ),
                self.code_json,
            ],
            layout=widgets.Layout(display="none"),
        )
        self.code.add_class("kadam-form-code")
        self.output = widgets.VBox([])
        self.output.add_class("kadam-form-output")
        if reg.read_only:
            self.status.value = (
                "<span class='kadam-warn'>This registry is read-only (another kernel runs its "
                "jobs): you can load and show definitions, not create or submit.</span>"
            )

        self.widget = widgets.VBox(
            [
                widgets.HTML(_STYLE),
                widgets.HTML("<h3 style='margin:2px 0'>Job definition</h3>"),
                widgets.HBox([self.load_name, self.load_revision, self.load_button]),
                general,
                container,
                resources,
                environment,
                storage,
                retries,
                array,
                dependencies,
                aws,
                self.form_error,
                widgets.HBox(
                    [self.create_button, self.submit_button, self.code_button, self.summary]
                ),
                self.status,
                self.code,
                self.output,
            ]
        )
        self.widget.add_class("kadam-form")
        self.buttons: dict[str, Any] = {
            b.description: b
            for b in (
                self.create_button,
                self.submit_button,
                self.code_button,
                self.load_button,
                self.env_rows.add_button,
                self.volume_rows.add_button,
                self.rule_rows.add_button,
                self.parameter_rows.add_button,
                self.tag_rows.add_button,
                self.ulimit_rows.add_button,
            )
        }
        self.fields["depends-on"].observe(self._on_depends, names="value")

    # ------------------------------------------------------------------ public

    def definition(self) -> JobDefinition:
        """The definition the form describes now (the loaded one itself while unchanged), or
        :class:`~kadam_nb.errors.SpecError` with every problem."""
        d, errors, _ = self._evaluate()
        if d is None:
            name = self.fields["name"].value
            raise SpecError(errors, f"job definition {name!r}" if name else "job definition")
        return d

    def load(self, definition: JobDefinition) -> None:
        """Fill every field from ``definition`` (rows replaced)."""
        d = definition
        f = self.fields
        with self._quietly():
            f["name"].value = d.name
            f["image"].value = d.image or ""
            script = d.script
            if not d.command or (script is not None and script.strip()):
                f["command-mode"].value = SCRIPT
                f["command"].value = script or ""
            else:
                f["command-mode"].value = ARGV
                f["command"].value = shlex.join(d.command)
            f["user"].value = d.user or ""
            f["readonly"].value = d.readonly_root_filesystem
            f["privileged"].value = d.privileged
            f["vcpus"].value = _number_text(d.vcpus)
            f["memory"].value = str(d.memory)
            f["gpus"].value = str(d.gpus)
            f["shm"].value = "" if d.shared_memory_size is None else str(d.shared_memory_size)
            f["attempts"].value = str(d.retry_strategy.attempts)
            f["timeout"].value = "" if d.timeout is None else str(d.timeout)
            f["array-size"].value = "" if d.array_size is None else str(d.array_size)
            f["array-dependency"].value = d.array_dependency or ""
            f["job-role"].value = d.job_role_arn or ""
            f["execution-role"].value = d.execution_role_arn or ""
            log_config = d.log_configuration
            f["log-driver"].value = log_config.log_driver if log_config else ""
            f["log-options"].value = (
                "\n".join(f"{k}={v}" for k, v in log_config.options.items()) if log_config else ""
            )
            f["log-secrets"].value = (
                "\n".join(f"{k}={v}" for k, v in log_config.secret_options) if log_config else ""
            )
            extra = json.loads(d.aws_extra)
            f["aws-extra"].value = json.dumps(extra, indent=2) if extra else ""
            for rows, mapping in (
                (self.env_rows, d.environment),
                (self.parameter_rows, d.parameters),
                (self.tag_rows, d.tags),
            ):
                rows.clear()
                for key, value in mapping.items():
                    rows.add(key, value)
            self.ulimit_rows.clear()
            for u in d.ulimits:
                self.ulimit_rows.add(u.name, str(u.soft), str(u.hard))
            self.rule_rows.clear()
            for rule in d.retry_strategy.evaluate_on_exit:
                conditions = [
                    (attr, getattr(rule, attr))
                    for _, attr in _RULE_KINDS
                    if getattr(rule, attr) is not None
                ]
                self.rule_rows.add(conditions, rule.action)
            self.volume_rows.clear()
            for args in _volume_rows(d):
                self.volume_rows.add(*args)
            self._deps = list(d.depends_on)
            self._refresh_depends()
        self._loaded = d
        self._changed()
        revision = f" revision {d.revision}" if d.revision is not None else ""
        self._say(f"Loaded {html.escape(d.name)}{revision}.")

    def load_selected(self) -> JobDefinition:
        """Load the definition and revision chosen in the load bar."""
        name = self.load_name.value
        if not name:
            raise NotFound("no job definition registered yet: nothing to load")
        d = self.registry.definition(name, self.load_revision.value)
        self.load(d)
        return d

    def create(self) -> JobDefinition:
        """Register the definition (a new revision when the name exists and it changed)."""
        d = self.definition()
        reg = self.registry
        try:
            before: JobDefinition | None = reg.definition(d.name)
        except NotFound:
            before = None
        registered = reg.register(d)
        if before is None:
            change = "a new definition"
        elif before.revision == registered.revision:
            change = "unchanged: the same as the latest revision"
        else:
            change = "a new revision"
        self._loaded = registered
        self.refresh()
        self._changed()
        self._say(
            f"Registered <b>{html.escape(registered.name)}</b> revision "
            f"<b>{registered.revision}</b> ({change}).",
            ok=True,
        )
        return registered

    def submit(self) -> Job:
        """Register if needed, submit a job of the definition, and show a live dashboard of
        its run below the form; returns the job.

        A definition that depends on others cannot start before they succeed (AWS's
        dependsOn), so then its upstream definitions are submitted with it, as one run sharing
        a work directory (``Registry.run(name)``, what ``%kadam run NAME`` does); otherwise it
        is one job (``Registry.submit``).
        """
        from ..jobs import Run
        from .dashboard import Dashboard

        d = self.create()
        reg = self.registry
        if d.depends_on:
            run = reg.run([d.name])
            job = run.job(d.name)
            upstream = [j.name for j in run.jobs if j.name != d.name]
            with_them = f" with {len(upstream)} upstream job(s): {', '.join(upstream)}"
        else:
            job = reg.submit(d)
            run = Run(reg, job.run_id, [job], reg.store.run_work_dir(job.run_id))
            with_them = ""
        if self.dashboard is not None:
            self.dashboard.close()
        self.dashboard = Dashboard(reg, run, self.settings)
        self.last_run = run
        self.output.children = (self.dashboard.widget,)
        self._say(
            f"Submitted <b>{html.escape(d.name)}</b> revision {d.revision} as job "
            f"<code>{html.escape(job.id)}</code>{html.escape(with_them)}.",
            ok=True,
        )
        return job

    def show_code(self) -> tuple[str, str]:
        """Show (and return) the ``%%kadam job`` cell and the RegisterJobDefinition JSON."""
        d = self.definition()
        self._code_shown = True
        self.code.layout.display = ""
        self._fill_code(d)
        return self.code_cell.value, self.code_json.value

    def refresh(self) -> None:
        """Read the registry again: the load bar's names and revisions, the depends-on
        choices. Done before every action; call it after registering elsewhere."""
        names = [d.name for d in self.registry.definitions()]
        with self._quietly():
            if tuple(self.load_name.options) != tuple(names):
                keep = self.load_name.value
                self.load_name.options = names
                self.load_name.value = keep if keep in names else (names[0] if names else None)
            self._refresh_revisions()
            self._refresh_depends(names)
        self.load_button.disabled = not names

    def close(self) -> None:
        """Stop the dashboard of the last submitted job (the form stays usable)."""
        if self.dashboard is not None:
            self.dashboard.close()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        name = self.fields["name"].value or "(no name)"
        state = "valid" if self.valid else f"{len(self.problems)} problem(s)"
        return f"<JobForm {name}: {state}>"

    # ------------------------------------------------------------------ callbacks

    def _handler(self, action: Callable[[], Any]) -> Callable[[Any], None]:
        """A button callback: refresh, act, and show any error in the status line."""

        def handle(_button: Any = None) -> None:
            try:
                self.refresh()
                action()
            except SpecError as exc:
                self._show(exc.errors)
                self._say(f"Not done: {html.escape(str(exc))}", error=True)
            except KadamError as exc:
                self._say(html.escape(str(exc)), error=True)
            except Exception as exc:  # a bug: say so where the user looks, and log it
                log.exception("kadam form action failed")
                self._say(
                    f"Unexpected error ({html.escape(type(exc).__name__)}): "
                    f"{html.escape(str(exc))}",
                    error=True,
                )

        return handle

    def _create_clicked(self) -> None:
        self.create()

    def _submit_clicked(self) -> None:
        self.submit()

    def _code_clicked(self) -> None:
        self.show_code()

    def _changed(self, change: Any = None) -> None:
        """Any value changed: refresh the choices, validate, show the errors."""
        if self._quiet:
            return
        self.refresh()
        d, errors, where = self._evaluate()
        self._current = d
        self.problems = errors
        self.valid = d is not None
        self._show(errors, where)
        warning = _note_html([f"⚠ {PRIVILEGED_RISK}"] if self.fields["privileged"].value else [])
        if self.privileged_warning.value != warning:
            self.privileged_warning.value = warning
        blocked = not self.valid or self.registry.read_only
        self.create_button.disabled = blocked
        self.submit_button.disabled = blocked
        if self.valid:
            self.summary.value = "<span class='kadam-ok'>✓ valid</span>"
        else:
            n = len(errors)
            self.summary.value = (
                f"<span class='kadam-error'>{n} problem{'s' if n != 1 else ''}: see the "
                "fields marked ⚠</span>"
            )
        if self._code_shown and d is not None:
            self._fill_code(d)

    def _on_depends(self, change: Any) -> None:
        if self._quiet:
            return
        chosen = list(change["new"])
        self._deps = [n for n in self._deps if n in chosen] + [
            n for n in chosen if n not in self._deps
        ]
        self._changed()

    def _on_load_name(self, change: Any) -> None:
        with self._quietly():
            self._refresh_revisions()

    @contextlib.contextmanager
    def _quietly(self) -> Iterator[None]:
        self._quiet += 1
        try:
            yield
        finally:
            self._quiet -= 1

    def _refresh_revisions(self) -> None:
        name = self.load_name.value
        shown = [tuple(o) for o in self.load_revision.options]
        latest = None
        if name:
            with contextlib.suppress(NotFound):
                latest = self.registry.definition(name).revision
        if shown and shown[0][1] == latest and self._revisions_of == name:
            return  # the store is read only when the latest revision changed
        self._revisions_of = name
        revisions = [d.revision for d in self.registry.revisions(name)] if name else []
        revisions.reverse()
        options = [
            (f"{r} (latest)" if i == 0 else str(r), r)
            for i, r in enumerate(revisions)
            if r is not None
        ]
        if shown != options:
            keep = self.load_revision.value
            self.load_revision.options = options
            values = [o[1] for o in options]
            self.load_revision.value = keep if keep in values else (values[0] if values else None)

    def _refresh_depends(self, names: Sequence[str] | None = None) -> None:
        if names is None:
            names = [d.name for d in self.registry.definitions()]
        own = self.fields["name"].value
        chosen = self._deps
        options = [n for n in names if n != own or n in chosen]
        options += [n for n in chosen if n not in options]
        w = self.fields["depends-on"]
        value = tuple(n for n in options if n in chosen)
        with self._quietly():
            if tuple(w.options) != tuple(options):
                w.options = options
            if tuple(w.value) != value:
                w.value = value

    def _say(self, text: str, error: bool = False, ok: bool = False) -> None:
        css = "kadam-error" if error else ("kadam-ok" if ok else "kadam-muted")
        self.status.value = f"<span class='{css}'>{text}</span>"

    def _fill_code(self, d: JobDefinition) -> None:
        extra = self.settings.secret_patterns if self.settings is not None else ()
        masked, hidden = mask_definition(d, extra)
        cell = to_job_cell(masked)
        self.code_cell.value = cell
        self.code_cell.rows = min(20, max(3, cell.count("\n") + 2))
        gaps = cell_gaps(d)
        notes = []
        if gaps:
            notes.append(
                f"A cell cannot carry {', '.join(gaps)}: register the JSON below to keep them."
            )
        if hidden:
            notes.append(
                f"Secret-looking values are shown as {MASK} ({', '.join(hidden)}); on AWS Batch "
                "give secrets as containerProperties.secrets with valueFrom."
            )
        self.code_note.value = "<br>".join(
            f"<span class='kadam-warn'>{html.escape(n)}</span>" for n in notes
        )
        doc, _ = masked_export(d, extensions=True, extra=extra)
        self.code_json.value = json.dumps(doc, indent=2)
        self.code_json.rows = min(30, self.code_json.value.count("\n") + 2)

    # ------------------------------------------------------------------ validation

    def _keywords(self) -> tuple[dict[str, Any], _Where]:
        """The keywords of JobDefinition.create that the widgets say, and where each came from."""
        f = self.fields
        where = _Where()
        kw: dict[str, Any] = {"name": f["name"].value}
        kw["image"] = f["image"].value
        text = f["command"].value
        if f["command-mode"].value == ARGV:
            try:
                kw["command"] = shlex.split(text)
            except ValueError as exc:
                where.problems.append(
                    FieldError("command", f"not shell-quoted words ({exc}); check the quotes")
                )
        else:
            kw["command"] = text
        kw["user"] = f["user"].value
        kw["readonly_root_filesystem"] = f["readonly"].value
        kw["privileged"] = f["privileged"].value
        kw["vcpus"] = f["vcpus"].value
        kw["memory"] = f["memory"].value
        kw["gpus"] = f["gpus"].value
        if f["shm"].value.strip():
            kw["shared_memory_size"] = f["shm"].value
        if f["attempts"].value.strip():
            kw["attempts"] = f["attempts"].value
        if f["timeout"].value.strip():
            kw["timeout"] = f["timeout"].value
        if f["array-size"].value.strip():
            kw["array_size"] = f["array-size"].value
        kw["array_dependency"] = f["array-dependency"].value or None
        kw["depends_on"] = list(self._deps)
        kw["job_role_arn"] = f["job-role"].value
        kw["execution_role_arn"] = f["execution-role"].value

        kw["environment"] = _pairs(self.env_rows.rows, where.env, "variable", where.notes)
        kw["parameters"] = _pairs(
            self.parameter_rows.rows, where.parameters, "parameter", where.notes
        )
        kw["tags"] = _pairs(self.tag_rows.rows, where.tags, "tag", where.notes)

        ulimits = []
        for row in self.ulimit_rows.rows:
            if row.blank():
                continue
            soft = row.soft.value
            hard = row.hard.value if row.hard.value.strip() else soft
            ulimits.append({"name": row.name.value, "soft": soft, "hard": hard})
            where.ulimits.append(row)
        kw["ulimits"] = ulimits

        volumes, mounts = self._storage(where)
        kw["volumes"], kw["mount_points"] = volumes, mounts

        rules = []
        for i, row in enumerate(self.rule_rows.rows):
            rule: dict[str, Any] = {"action": row.action.value}
            for kind, pattern in row.conditions:
                if pattern.value == "":
                    continue
                if kind.value in rule:
                    where.problems.append(
                        FieldError(
                            f"retry_strategy.evaluate_on_exit[{i}]",
                            f"the {_RULE_KIND_LABEL[kind.value]} is given twice; a rule has at "
                            "most one of each condition",
                        )
                    )
                rule[kind.value] = pattern.value
            if len(rule) == 1:
                where.notes.append(
                    (
                        row,
                        "no condition yet: as it is, this rule matches every failed attempt "
                        f"({row.action.value} always)",
                    )
                )
            rules.append(rule)
            where.rules.append(row)
        if rules:
            kw["retry_strategy"] = {"evaluate_on_exit": rules}

        driver = f["log-driver"].value.strip()
        options = _lines(f["log-options"].value)
        secrets = []
        for line in _lines(f["log-secrets"].value):
            name, _, value_from = line.partition("=")
            secrets.append((name.strip(), value_from.strip()))
        if driver or options or secrets:
            kw["log_configuration"] = {
                "logDriver": driver or None,
                "options": options,
                "secretOptions": secrets,
            }
        return kw, where

    def _storage(self, where: _Where) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Volumes and mount points from the rows. A row declares its volume (named, or
        ``vol0``, ``vol1``, ... as ``--volume`` names them) and mounts it at its container path;
        a later row with the same name and no host path mounts the same volume again.
        A row without a name shows the one it gets as its placeholder."""
        rows = [r for r in self.volume_rows.rows if not r.blank()]
        taken = {r.name.value.strip() for r in rows if r.name.value.strip()}
        counter = 0

        def fresh() -> str:
            nonlocal counter
            while f"vol{counter}" in taken:
                counter += 1
            taken.add(f"vol{counter}")
            return f"vol{counter}"

        volumes: list[dict[str, Any]] = []
        mounts: list[dict[str, Any]] = []
        declared: set[str] = set()
        for row in rows:
            name = row.name.value.strip()
            if not name:
                name = fresh()
                if row.name.placeholder != name:
                    row.name.placeholder = name  # show the name the row gets
            host = row.host.value.strip()
            container = row.container.value.strip()
            if name not in declared or host:
                declared.add(name)
                volumes.append({"name": name, "host_path": host or None})
                where.volumes.append(row)
            if container:
                mounts.append(
                    {
                        "source_volume": name,
                        "container_path": container,
                        "read_only": bool(row.read_only.value),
                    }
                )
                where.mounts.append(row)
        return volumes, mounts

    def _evaluate(self) -> tuple[JobDefinition | None, list[FieldError], _Where]:
        kw, where = self._keywords()
        errors = list(where.problems)
        d: JobDefinition | None = None
        try:
            d = JobDefinition.create(**kw)
        except SpecError as exc:
            errors += exc.errors
        extra = self.fields["aws-extra"].value
        if extra.strip():
            try:
                probe = d if d is not None else JobDefinition("form")
                checked = probe.replace(aws_extra=extra)
                d = checked if d is not None else None
            except SpecError as exc:
                errors += exc.errors
                d = None
        if errors:
            return None, errors, where
        assert d is not None
        for risk in isolation_risks(d):
            m = _INDEXED.fullmatch(risk.field)
            if m and m.group("head") == "volumes" and int(m.group("index")) < len(where.volumes):
                where.notes.append((where.volumes[int(m.group("index"))], f"⚠ {risk.message}"))
        if self._loaded is not None:
            # a blank image is the registry's default: what register() fills in
            same = d if d.image is not None else d.replace(image=self.registry.default_image)
            if same.content_key() == self._loaded.content_key():
                d = self._loaded
        return d, errors, where

    def _target(self, problem: FieldError, where: _Where) -> tuple[Any, str]:
        """The error label a problem belongs under, and the text to show there."""
        name, message = problem.field, problem.message
        m = _INDEXED.fullmatch(name)
        if m:
            head, index, rest = m.group("head"), int(m.group("index")), m.group("rest")
            part = f"{_PART_LABELS.get(rest, rest)}: " if rest else ""
            rows: dict[str, list[Any]] = {
                "retry_strategy.evaluate_on_exit": where.rules,
                "volumes": where.volumes,
                "mount_points": where.mounts,
                "ulimits": where.ulimits,
            }
            if head in rows and index < len(rows[head]):
                return rows[head][index].error, part + message
            if head in _FIELD_KEY:
                return self.errors[_FIELD_KEY[head]], message
        for prefix, by_key, rows_list in (
            ("environment", where.env, self.env_rows),
            ("parameters", where.parameters, self.parameter_rows),
            ("tags", where.tags, self.tag_rows),
        ):
            if name == prefix:
                return rows_list.error, message
            if name.startswith(prefix + "."):
                found = by_key.get(name[len(prefix) + 1 :])
                if found:
                    return found, message
                return rows_list.error, f"{name}: {message}"
        if name.startswith("retry_strategy.evaluate_on_exit"):
            return self.rule_rows.error, message
        if name.startswith("retry_strategy"):
            return self.errors["attempts"], message
        if name.startswith("log_configuration"):
            if name.startswith("log_configuration.options"):
                return self.errors["log-options"], message
            if name.startswith("log_configuration.secret_options"):
                return self.errors["log-secrets"], message
            return self.errors["log-driver"], message
        if name in ("volumes", "mount_points") or name.startswith(("volumes", "mount_points")):
            return self.volume_rows.error, f"{name}: {message}"
        if name.startswith("ulimits"):
            return self.ulimit_rows.error, f"{name}: {message}"
        head = re.split(r"[.\[]", name, maxsplit=1)[0]
        if head in _FIELD_KEY:
            return self.errors[_FIELD_KEY[head]], message
        return self.form_error, f"{name}: {message}"

    def _row_lists(self) -> tuple[_Rows, ...]:
        return (
            self.env_rows,
            self.parameter_rows,
            self.tag_rows,
            self.volume_rows,
            self.ulimit_rows,
            self.rule_rows,
        )

    def _labels(self) -> list[Any]:
        """Every error label (each is "" when its input has no error)."""
        labels = [*self.errors.values(), self.form_error]
        for rows in self._row_lists():
            labels.append(rows.error)
            labels += [r.error for r in rows.rows]
        return labels

    def _show(self, errors: Sequence[FieldError], where: _Where | None = None) -> None:
        """Put each problem under its input, each note under its row; empty the rest."""
        if where is None:
            _, _, where = self._evaluate()
        texts: dict[int, list[str]] = {}
        for problem in errors:
            target, text = self._target(problem, where)
            for t in target if isinstance(target, list) else [target]:
                label = t.error if isinstance(t, _Row) else t
                texts.setdefault(id(label), []).append(text)
        for row, text in where.notes:
            texts.setdefault(id(row.note), []).append(text)
        updates: list[tuple[Any, Callable[[Sequence[str]], str]]]
        updates = [(label, _error_html) for label in self._labels()]
        updates += [(r.note, _note_html) for rows in self._row_lists() for r in rows.rows]
        for label, render in updates:
            value = render(list(dict.fromkeys(texts.get(id(label), []))))
            if label.value != value:
                label.value = value


def _volume_rows(d: JobDefinition) -> list[tuple[str, str, str, bool]]:
    """Rows (name, host, container, read-only) that give back ``d``'s volumes and mount points,
    both in their order: a volume is declared by the first row naming it (with its host path);
    rows without a container path only declare, later rows without a host path only mount."""
    hosts = {v.name: v.host_path or "" for v in d.volumes}
    rows: list[tuple[str, str, str, bool]] = []
    declared: set[str] = set()
    pending = list(d.volumes)
    for mp in d.mount_points:
        while mp.source_volume not in declared and pending and pending[0].name != mp.source_volume:
            v = pending.pop(0)
            rows.append((v.name, hosts[v.name], "", False))
            declared.add(v.name)
        if mp.source_volume in declared:
            rows.append((mp.source_volume, "", mp.container_path, mp.read_only))
        else:
            if pending:
                pending.pop(0)
            rows.append(
                (mp.source_volume, hosts.get(mp.source_volume, ""), mp.container_path, mp.read_only)
            )
            declared.add(mp.source_volume)
    for v in pending:
        rows.append((v.name, hosts[v.name], "", False))
    return rows
