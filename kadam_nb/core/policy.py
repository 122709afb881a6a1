"""Pure decisions: capacity fit, retry-or-exit, parameter substitution, injected environment,
fingerprints. Every function here takes values and returns values."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence

from .jobs import AttemptRecord, ComputeEnvironment, JobQueue, JobRecord
from .spec import JobDefinition, RetryStrategy

__all__ = [
    "SHELLS",
    "attempt_environment",
    "describe_need",
    "fingerprint",
    "fits",
    "never_fits",
    "retry_decision",
    "shell_exit_reason",
    "substitute_parameters",
]

_REF = re.compile(r"Ref::([A-Za-z0-9_]+)")


def substitute_parameters(command: Sequence[str], parameters: Mapping[str, str]) -> tuple[str, ...]:
    """Replace ``Ref::name`` in each argument with the parameter's value, as AWS Batch does;
    a placeholder with no value is left as written."""

    def one(arg: str) -> str:
        return _REF.sub(lambda m: parameters.get(m.group(1), m.group(0)), arg)

    return tuple(one(arg) for arg in command)


def fits(env: ComputeEnvironment, vcpus: float, memory: int, gpus: int) -> bool:
    """Does a job of this size fit in what the environment has free right now?"""
    return vcpus <= env.free_vcpus + 1e-9 and memory <= env.free_memory and gpus <= env.free_gpus


def describe_need(vcpus: float, memory: int, gpus: int) -> str:
    parts = [f"{vcpus:g} vCPU{'s' if vcpus != 1 else ''}", f"{memory} MiB"]
    if gpus:
        parts.append(f"{gpus} GPU{'s' if gpus != 1 else ''}")
    return " and ".join(parts)


def never_fits(
    definition: JobDefinition, queue: JobQueue, environments: Mapping[str, ComputeEnvironment]
) -> str | None:
    """Why no compute environment of the queue can ever hold this job, or None if one can."""
    envs = [environments[name] for name in queue.compute_environments if name in environments]
    for env in envs:
        if (
            definition.vcpus <= env.max_vcpus
            and definition.memory <= env.max_memory
            and definition.gpus <= env.max_gpus
        ):
            return None
    sizes = "; ".join(
        f"{e.name} has at most {e.max_vcpus:g} vCPUs, {e.max_memory} MiB, {e.max_gpus} GPUs"
        for e in envs
    )
    need = describe_need(definition.vcpus, definition.memory, definition.gpus)
    return (
        f"{definition.name} needs {need}, more than queue {queue.name}'s compute environments "
        f"ever have ({sizes or 'none'}); lower the request or create a larger compute environment"
    )


def retry_decision(
    strategy: RetryStrategy,
    attempt: int,
    exit_code: int | None,
    reason: str | None,
    status_reason: str | None,
    stop_cause: str | None,
) -> tuple[bool, str]:
    """(retry?, why) after attempt number ``attempt`` failed, by AWS Batch's rules.

    Timed-out and terminated attempts are never retried; otherwise the first evaluateOnExit rule
    whose conditions all match decides, and when none matches the job is retried — while
    attempts remain.
    """
    if stop_cause == "timeout":
        return False, "timed-out attempts are not retried"
    if stop_cause == "terminate":
        return False, "terminated jobs are not retried"
    if attempt >= strategy.attempts:
        if strategy.attempts == 1:
            return False, "not retried: the definition allows 1 attempt"
        return False, f"not retried: all {strategy.attempts} attempts used"
    for i, rule in enumerate(strategy.evaluate_on_exit, start=1):
        if rule.matches(exit_code, reason, status_reason):
            said = ", ".join(
                f"{k} {v}"
                for k, v in (
                    ("onExitCode", rule.on_exit_code),
                    ("onReason", rule.on_reason),
                    ("onStatusReason", rule.on_status_reason),
                )
                if v is not None
            )
            return (
                rule.action == "RETRY",
                f"evaluateOnExit rule {i} ({said or 'any'}) → {rule.action}",
            )
    if strategy.evaluate_on_exit:
        return True, "no evaluateOnExit rule matched, so AWS Batch retries"
    return True, f"attempt {attempt} of {strategy.attempts} failed, retrying"


def attempt_environment(
    job: JobRecord, attempt: int, queue: str, compute_environment: str
) -> dict[str, str]:
    """The definition's environment plus the variables AWS Batch injects into every attempt."""
    env = dict(job.definition.environment)
    env["AWS_BATCH_JOB_ID"] = job.id
    env["AWS_BATCH_JOB_ATTEMPT"] = str(attempt)
    env["AWS_BATCH_JQ_NAME"] = queue
    env["AWS_BATCH_CE_NAME"] = compute_environment
    if job.array_index is not None:
        env["AWS_BATCH_JOB_ARRAY_INDEX"] = str(job.array_index)
        env["AWS_BATCH_JOB_ARRAY_SIZE"] = str(job.array_size)
    return env


def fingerprint(
    definition: JobDefinition,
    parameters: Mapping[str, str],
    array_size: int | None,
    upstream: Sequence[str],
) -> str:
    """What makes two jobs the same work: the definition's content (not its revision number),
    the resolved command and image, the array size and the upstream jobs' fingerprints."""
    merged = {**definition.parameters, **parameters}
    doc = {
        "definition": definition.content_key(),
        "command": list(substitute_parameters(definition.command, merged)),
        "image": definition.image,
        "array_size": array_size,
        "upstream": sorted(upstream),
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32]


SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh"})


def shell_exit_reason(command: Sequence[str], exit_code: int) -> str | None:
    """What a shell script's exit code 127 or 126 means, in words (None for other codes)."""
    is_script = len(command) >= 2 and command[0].rsplit("/", 1)[-1] in SHELLS and command[1] == "-c"
    if is_script and exit_code == 127:
        return "Command not found: the shell exited 127 (see the job's log for which command)"
    if is_script and exit_code == 126:
        return (
            "Command not executable: the shell exited 126 (a command was found but could not be "
            "run, e.g. it lacks execute permission; see the job's log for which command)"
        )
    return None


def exit_sentence(job: JobRecord, attempt: AttemptRecord) -> str:
    """How an attempt ended, in a sentence (an OOM kill says to raise the memory)."""
    code = attempt.exit_code
    if attempt.reason and attempt.reason.startswith("OutOfMemoryError"):
        return (
            f"{attempt.reason} (exit code {code}; limit {job.definition.memory} MiB): "
            "raise the definition's memory"
        )
    said = f"Exited with code {code}" if code is not None else "Ended without an exit code"
    return f"{said}: {attempt.reason}" if attempt.reason else said
