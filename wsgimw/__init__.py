"""wsgimw: WSGI (PEP 3333) middleware that is exact about the contract.

Every middleware is a callable ``app -> app``; `compose` folds them over an
application, the first listed outermost.
"""

from typing import TYPE_CHECKING

from .accesslog import AccessLog
from .auth import BasicAuth, BearerAuth
from .compose import Pipeline, compose
from .compress import Compress
from .conditional import ConditionalGet
from .cors import CORS
from .csrf import CrossOriginGuard
from .environlog import EnvironLog
from .errors import ErrorHandler
from .hosts import HTTPSRedirect, TrustedHost
from .mount import Mount
from .proxy import ProxyHeaders
from .query import QueryDict, QueryParser
from .requestid import RequestId, RequestIdFilter
from .rewrite import Rewrite
from .security import SecurityHeaders
from .types import Middleware, WSGIApp

__all__ = [
    "CORS",
    "AccessLog",
    "BasicAuth",
    "BearerAuth",
    "Compress",
    "ConditionalGet",
    "CrossOriginGuard",
    "EnvironLog",
    "ErrorHandler",
    "HTTPSRedirect",
    "Metrics",
    "Middleware",
    "Mount",
    "Pipeline",
    "ProxyHeaders",
    "QueryDict",
    "QueryParser",
    "RateLimit",
    "RequestId",
    "RequestIdFilter",
    "Rewrite",
    "SecurityHeaders",
    "StaticFiles",
    "TrustedHost",
    "WSGIApp",
    "compose",
]
__version__ = "0.1.0.dev0"

if TYPE_CHECKING:
    from .metrics import Metrics
    from .ratelimit import RateLimit
    from .static import StaticFiles


def __getattr__(name: str) -> object:
    """Metrics and RateLimit need extras (``wsgimw[metrics]``,
    ``wsgimw[ratelimit]``): they are imported on first use, so that
    ``import wsgimw`` works without prometheus-client or limits."""
    if name == "Metrics":
        from .metrics import Metrics

        return Metrics
    if name == "RateLimit":
        from .ratelimit import RateLimit

        return RateLimit
    if name == "StaticFiles":
        # Imported on first use too, so that `python -m wsgimw.static`
        # runs a module that `import wsgimw` has not imported already.
        from .static import StaticFiles

        return StaticFiles
    raise AttributeError(f"module 'wsgimw' has no attribute {name!r}")
