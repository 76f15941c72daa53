"""warren: drive warren sandboxes from Python.

>>> from warren import Warren
>>> with Warren() as w, w.create_sandbox("python:3.12") as sb:   # WARREN_URL / WARREN_API_KEY
...     print(sb.exec(["python3", "-c", "print(6*7)"]).stdout)
42

:class:`Warren` blocks; :class:`AsyncWarren` is the same API for asyncio. Errors are
:class:`WarrenError` subclasses carrying the API's ``code``.
"""

__version__ = "0.1.0"

from ._streams import OutputCallback  # noqa: E402
from .aio import AsyncBranches, AsyncFiles, AsyncSandbox, AsyncWarren  # noqa: E402
from .aio_process import AsyncCommandHandle  # noqa: E402
from .aio_terminal import AsyncTerminal  # noqa: E402
from .client import Warren  # noqa: E402
from .errors import (  # noqa: E402
    ERRORS_BY_CODE,
    AgentError,
    ConflictError,
    ForbiddenError,
    ImageNotFoundError,
    InternalError,
    InvalidRequestError,
    MethodNotAllowedError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    PortUnreachableError,
    ProcessNotFoundError,
    ProtocolError,
    RateLimitedError,
    RegistryError,
    SandboxFileNotFoundError,
    SandboxNotFoundError,
    SnapshotNotFoundError,
    UnauthorizedError,
    WarrenConnectionError,
    WarrenError,
)
from .models import (  # noqa: E402
    CommandFailed,
    Event,
    ExecResult,
    FileEntry,
    Image,
    LifecyclePolicy,
    MetricsSample,
    NetworkPolicy,
    Page,
    Port,
    ProcessExit,
    ProcessInfo,
    PullProgress,
    SandboxInfo,
    SandboxMetrics,
    SandboxNetwork,
    Snapshot,
)
from .process import CommandHandle  # noqa: E402
from .sandbox import Branches, Files, Sandbox  # noqa: E402
from .terminal import Terminal  # noqa: E402

__all__ = [
    "Warren", "AsyncWarren", "Sandbox", "AsyncSandbox", "Files", "AsyncFiles", "Branches", "AsyncBranches",
    "CommandHandle", "AsyncCommandHandle", "Terminal", "AsyncTerminal", "OutputCallback",
    "WarrenError", "InvalidRequestError", "UnauthorizedError", "ForbiddenError", "PermissionDeniedError",
    "NotFoundError", "SandboxNotFoundError", "ImageNotFoundError", "SandboxFileNotFoundError",
    "ProcessNotFoundError", "SnapshotNotFoundError", "MethodNotAllowedError", "ConflictError",
    "PayloadTooLargeError", "RateLimitedError", "InternalError", "RegistryError", "AgentError",
    "PortUnreachableError", "WarrenConnectionError", "ProtocolError", "ERRORS_BY_CODE",
    "CommandFailed", "Event", "ExecResult", "FileEntry", "Image", "LifecyclePolicy", "MetricsSample",
    "NetworkPolicy", "Page", "Port", "ProcessExit", "ProcessInfo", "PullProgress", "SandboxInfo",
    "SandboxMetrics", "SandboxNetwork", "Snapshot",
]
