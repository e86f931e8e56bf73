"""What the loadtester runs: shell commands, blocking tools, and the runner of asynchronous tasks.

Flagger's loadtester (``pkg/loadtester``) has two kinds of task:

- **Blocking** (``bash``, ``kubectl``, ``helm``/``helmv3``): the webhook call waits for the
  command and gets 200, or 500 with Flagger's error text
  ``command <cmd> failed: <output>: <error>`` (``<error>`` as Go prints it: ``exit status 1``,
  ``signal: killed``). :func:`run` runs one; :func:`tool_command` builds the argument vector of a
  tool task the way Flagger does (``strings.Fields``: split on whitespace, no shell quoting).
- **Asynchronous** (``cmd``, the default): the call answers 202 at once and
  :class:`CommandRunner` runs ``sh -c <cmd>`` in the background (in strict mode, the checked
  argv, without a shell). A command already running for
  the same canary is skipped, not queued (Flagger keys its runner on canary + command), so a
  ``hey`` load test posted on every analysis iteration runs once at a time.

Every command has the loadtester's ``-timeout``. A command runs in a process group of its own,
and the whole group is killed on timeout or shutdown, so ``sh -c "hey ... | tee"`` leaves no
orphan behind (Go's ``exec.CommandContext`` kills only ``sh``). Tasks inherit the loadtester's
environment (``HTTP_PROXY``, ``KUBECONFIG``, ``PATH``, ...).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shutil
import signal
from collections.abc import Sequence

from flagger.observability import logs

__all__ = [
    "CommandRunner",
    "Outcome",
    "ToolMissing",
    "failure_text",
    "parse_go_bool",
    "run",
    "tool_command",
]

log = logs.get_logger(__name__)

#: How long to wait for the output pipe to close after the process group was killed.
_DRAIN_SECONDS = 5.0

#: The binaries each tool task type tries, in order (the loadtester image links helmv3 to helm).
TOOL_BINARIES: dict[str, tuple[str, ...]] = {
    "kubectl": ("kubectl",),
    "helm": ("helm",),
    "helmv3": ("helmv3", "helm"),
}


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How a command ended: ``ok``, its combined stdout and stderr, and Go's error text."""

    ok: bool
    output: str
    error: str = ""


class ToolMissing(Exception):
    """The binary a tool task needs is not on ``PATH``."""


def parse_go_bool(value: str | None) -> bool:
    """Go's ``strconv.ParseBool``; anything it rejects counts as false, as in Flagger."""
    return (value or "").strip() in ("1", "t", "T", "true", "TRUE", "True")


def failure_text(command: str, outcome: Outcome) -> str:
    """Flagger's error text for a failed blocking task: ``command X failed: OUT: ERR``."""
    return f"command {command} failed: {outcome.output}: {outcome.error}"


def tool_command(task_type: str, command: str, argv: Sequence[str] | None = None) -> list[str]:
    """The argument vector of a ``kubectl``/``helm``/``helmv3`` task.

    ``argv`` is strict mode's checked argv (``[task_type, *arguments]``); without it the
    command is split on whitespace as Flagger does. Raises :class:`ToolMissing` with a message
    naming the binary when none is installed.
    """
    candidates = TOOL_BINARIES[task_type]
    for binary in candidates:
        found = shutil.which(binary)
        if found:
            return [found, *(argv[1:] if argv is not None else command.split())]
    names = " or ".join(f'"{b}"' for b in candidates)
    raise ToolMissing(
        f"{task_type} task: {names} is not installed on this loadtester "
        f'(exec: "{candidates[0]}": executable file not found in $PATH); install it or put it '
        f"on the loadtester's PATH"
    )


def _go_error(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            return f"signal: {-returncode}"
        return "signal: " + {
            "SIGKILL": "killed",
            "SIGTERM": "terminated",
            "SIGINT": "interrupt",
        }.get(name, name.lower())
    return f"exit status {returncode}"


def _kill_group(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


async def run(argv: Sequence[str], timeout: float) -> Outcome:
    """Run ``argv`` with stdout and stderr combined, killing its process group after
    ``timeout`` seconds (or when the caller is cancelled)."""
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:  # the program is missing or not executable
        return Outcome(False, "", f'exec: "{argv[0]}": {exc.strerror or exc}')
    assert process.stdout is not None
    reading = asyncio.ensure_future(process.stdout.read())
    try:
        await asyncio.wait_for(asyncio.shield(reading), timeout)
        await process.wait()
    except TimeoutError:
        _kill_group(process)
        await process.wait()
    except asyncio.CancelledError:
        _kill_group(process)
        await process.wait()
        reading.cancel()
        raise
    try:
        output = await asyncio.wait_for(reading, _DRAIN_SECONDS)
    except TimeoutError:  # something escaped the process group and holds the pipe
        output = b""
    text = output.decode(errors="replace")
    returncode = process.returncode if process.returncode is not None else -signal.SIGKILL
    if returncode == 0:
        return Outcome(True, text)
    return Outcome(False, text, _go_error(returncode))


class CommandRunner:
    """Runs ``cmd`` tasks in the background, one at a time per canary and command."""

    def __init__(self, timeout: float, *, log_output: bool = False) -> None:
        self.timeout = timeout
        self.log_output = log_output
        #: How many commands were started (Flagger's ``totalExecs``).
        self.executions = 0
        self._running: dict[tuple[str, str], asyncio.Task[None]] = {}

    def running(self) -> list[tuple[str, str]]:
        """(canary, command) of the tasks running now."""
        return list(self._running)

    def submit(
        self,
        canary: str,
        command: str,
        *,
        argv: Sequence[str] | None = None,
        log_output: bool = False,
    ) -> bool:
        """Start ``sh -c command`` (or ``argv`` without a shell, when given) unless it is
        already running for ``canary``.

        Returns False when the command was skipped as a duplicate.
        """
        key = (canary, command)
        if key in self._running:
            log.info(f"command skipped {command} is already running", canary=canary)
            return False
        self.executions += 1
        program = list(argv) if argv is not None else ["sh", "-c", command]
        task = asyncio.create_task(
            self._run(canary, command, program, log_output or self.log_output)
        )
        self._running[key] = task
        task.add_done_callback(lambda _: self._running.pop(key, None))
        return True

    async def _run(self, canary: str, command: str, argv: Sequence[str], log_output: bool) -> None:
        log.info(f"command starting {command}", canary=canary)
        outcome = await run(argv, self.timeout)
        if not outcome.ok:
            log.error(f"command failed {command} {outcome.error} {outcome.output}", canary=canary)
            return
        if log_output:
            log.info(outcome.output, canary=canary)
        log.info(f"command finished {command}", canary=canary)

    async def close(self) -> None:
        """Stop every running command (their process groups are killed)."""
        tasks = list(self._running.values())
        if tasks:
            log.info("shutting down the task runner")
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
