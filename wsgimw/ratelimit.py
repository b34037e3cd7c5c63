"""RateLimit: a request budget per client, user or key, on the `limits` library.

The counting is `limits`' own: its fixed-window, moving-window and
sliding-window-counter strategies, on any of its storages chosen by URI.
``memory://`` counts in this process only; ``redis://`` (and Redis Sentinel,
Redis Cluster, Valkey, ``memcached://``) shares one budget between every
process and machine that points at the same server.

A request over the budget gets **429 Too Many Requests** with an integer
``Retry-After`` and the ``RateLimit-Limit`` / ``RateLimit-Remaining`` /
``RateLimit-Reset`` / ``RateLimit-Policy`` headers; the app is not called.

When the storage is down or slow, no request waits longer than ``timeout``
and none gets a 500: ``fail_open=True`` (the default) lets it through,
``fail_open=False`` answers 503. Either way one warning is logged per
``log_interval``, never the storage URI (it may hold a password).

Needs the extra: ``pip install 'wsgimw[ratelimit]'``.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, Literal
from urllib.parse import urlsplit

import limits
import limits.errors
import limits.storage
import limits.strategies

from ._options import flag, logger_option
from ._response import plain_response, rewrite_start_response
from .types import Environ, Headers, StartResponse, WSGIApp

__all__ = ["STRATEGIES", "RateLimit"]

logger = logging.getLogger("wsgimw.ratelimit")

#: The strategies by the name ``strategy=`` takes.
STRATEGIES: Final[Mapping[str, type[limits.strategies.RateLimiter]]] = {
    "fixed-window": limits.strategies.FixedWindowRateLimiter,
    "moving-window": limits.strategies.MovingWindowRateLimiter,
    "sliding-window-counter": limits.strategies.SlidingWindowCounterRateLimiter,
}

Strategy = Literal["fixed-window", "moving-window", "sliding-window-counter"]
KeyFunction = Callable[[Environ], "str | None"]
CostFunction = Callable[[Environ], int]

_KEYS: Final = ("client", "user", "global")
_HEADER_KEY: Final = re.compile(r"header:([!#$%&'*+\-.^_`|~0-9A-Za-z]+)\Z")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: A key longer than this is stored as its hash (a user name or a
#: function's key can be anything the app allows).
_MAX_KEY: Final = 128

_REDIS_LIKE: Final = frozenset(
    {
        "redis",
        "rediss",
        "redis+unix",
        "redis+sentinel",
        "redis+cluster",
        "valkey",
        "valkeys",
        "valkey+unix",
        "valkey+sentinel",
        "valkey+cluster",
    }
)


def _storage_timeouts(scheme: str, timeout: float) -> dict[str, Any]:
    """The options that bound every call of a storage to ``timeout`` seconds.

    redis-py retries a failed command three times by default, sleeping up to
    10 s between tries: a worker would hang on a dead server, so RateLimit
    asks for no retry (the next request tries again anyway). Sentinel
    storages get the same for their connections to the sentinels."""
    if scheme in _REDIS_LIKE:
        options: dict[str, Any] = {
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
        }
        if scheme.startswith("redis"):
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            options["retry"] = Retry(NoBackoff(), 0)
            if scheme == "redis+sentinel":
                options["sentinel_kwargs"] = dict(options)
        return options
    if scheme == "memcached":
        return {"connect_timeout": timeout, "timeout": timeout}
    if scheme in ("mongodb", "mongodb+srv"):
        ms = max(1, round(timeout * 1000))
        return {
            "serverSelectionTimeoutMS": ms,
            "connectTimeoutMS": ms,
            "socketTimeoutMS": ms,
        }
    return {}


def _hashed(value: str) -> str:
    return hashlib.blake2b(
        value.encode("utf-8", "surrogatepass"), digest_size=16
    ).hexdigest()


def _seconds_left(
    item: limits.RateLimitItem, stats: limits.WindowStats, now: float, *, least: int
) -> int:
    """Whole seconds until ``stats`` resets: rounded up, and never more than
    the window (a storage's clock and ours may differ by a fraction)."""
    return min(item.get_expiry(), max(least, math.ceil(stats.reset_time - now)))


def _keyed(kind: str, value: str) -> str:
    """A key as stored: as it is, or hashed when it is long or holds a
    character that could run into the storage key's other parts."""
    if len(value) > _MAX_KEY or "/" in value or _CONTROL.search(value):
        return f"{kind}#{_hashed(value)}"
    return f"{kind}:{value}"


def _safe(text: str, limit: int = 200) -> str:
    """``text`` fit for a log line: control characters escaped, bounded."""
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return text if len(text) <= limit else text[:limit] + "..."


def _paths(exempt: object) -> tuple[frozenset[str], tuple[str, ...]]:
    """``exempt=`` as the paths it matches exactly and the prefixes of the
    paths under them."""
    if isinstance(exempt, str) or not isinstance(exempt, Iterable):
        raise TypeError(
            f"exempt takes a list of paths, e.g. exempt=['/health'], got {exempt!r}"
        )
    exact: set[str] = set()
    for path in exempt:
        if not isinstance(path, str):
            raise TypeError(f"exempt paths must be str, got {path!r}")
        if not path.startswith("/") or path == "/":
            raise ValueError(
                f"exempt path {path!r} must start with '/' and name a path, "
                "e.g. '/health' (to limit nothing, leave RateLimit out)"
            )
        if re.search(r"[?#%*\\]|[\x00-\x1f\x7f]|//|/\.\.?(?:/|\Z)", path):
            raise ValueError(
                f"exempt path {path!r} must be a plain decoded path: no query, "
                "escapes, '*', '//', '.' or '..' segments; it covers "
                "everything under it"
            )
        exact.add(path.rstrip("/").encode("utf-8").decode("latin-1"))
    return frozenset(exact), tuple(path + "/" for path in sorted(exact))


class RateLimit:
    """Limit requests per client, user, header or any key you compute.

    Args:
        limit: one or more limits in `limits`' syntax: ``"100/minute"``,
            ``"10 per second; 1000 per hour"`` (each must hold).
        key: whose budget a request spends: ``"client"`` (REMOTE_ADDR, so
            put ProxyHeaders outside RateLimit behind a proxy; a raw
            X-Forwarded-For is never read), ``"user"`` (REMOTE_USER, the
            client address for anonymous requests), ``"global"`` (one budget
            for all), ``"header:X-Api-Key"`` (that header's value, stored
            hashed; the client address when it is absent), or a function
            ``key(environ) -> str | None`` (None: the request is not limited).
        storage: a `limits` storage URI (``memory://``, ``redis://host:6379``,
            ``redis+sentinel://...``, ``redis+cluster://...``,
            ``memcached://host:11211``) or a `limits.storage.Storage`.
        strategy: ``"fixed-window"``, ``"moving-window"`` or
            ``"sliding-window-counter"``.
        fail_open: when the storage fails, True lets the request through,
            False answers 503.
        timeout: seconds any storage call may take (the socket timeouts of
            Redis, memcached and MongoDB storages; no retries).
        storage_options: more keyword arguments for the storage's client;
            they win over the ones ``timeout`` sets.
        exempt: paths (each with everything under it) never limited.
        cost: what a request spends: a whole number >= 1, or a function
            ``cost(environ) -> int`` (0: free).
        headers: also send the RateLimit headers on allowed responses (one
            more storage read per request).
        scope: a name that separates this budget from others with the same
            limit and key in the same storage.
        log_interval: seconds between two warnings about a failing storage.
        logger: where those warnings go (default ``wsgimw.ratelimit``).
    """

    __slots__ = (
        "_cost",
        "_deferred",
        "_exempt_exact",
        "_exempt_prefixes",
        "_fail_open",
        "_headers",
        "_key",
        "_key_kind",
        "_last_warning",
        "_limiter",
        "_limits",
        "_lock",
        "_log_interval",
        "_logger",
        "_policy",
        "_scope",
        "_shown",
        "_storage_name",
        "_strategy",
        "_timeout",
    )

    def __init__(
        self,
        limit: str,
        *,
        key: str | KeyFunction = "client",
        storage: str | limits.storage.Storage = "memory://",
        strategy: Strategy = "fixed-window",
        fail_open: bool = True,
        timeout: float = 0.5,
        storage_options: Mapping[str, Any] | None = None,
        exempt: Iterable[str] = (),
        cost: int | CostFunction = 1,
        headers: bool = False,
        scope: str = "",
        log_interval: float = 60.0,
        logger: logging.Logger | logging.LoggerAdapter[logging.Logger] | None = None,
    ) -> None:
        self._limits = self._parse_limits(limit)
        self._key_kind, self._key = self._parse_key(key)
        self._timeout = self._seconds("timeout", timeout)
        if strategy not in STRATEGIES:
            raise ValueError(
                f"strategy must be one of {', '.join(map(repr, STRATEGIES))}, got {strategy!r}"
            )
        self._strategy = STRATEGIES[strategy]
        self._fail_open = flag("fail_open", fail_open)
        self._log_interval = self._seconds("log_interval", log_interval, zero=True)
        self._logger = logger_option("logger", logger, "wsgimw.ratelimit")
        self._lock = threading.Lock()
        # When the last storage warning was logged (shared by all requests:
        # one warning per interval, not one per request).
        self._last_warning = -math.inf
        self._headers = flag("headers", headers)
        self._exempt_exact, self._exempt_prefixes = _paths(exempt)
        if callable(cost):
            self._cost: int | CostFunction = cost
        elif type(cost) is int and cost >= 1:
            self._cost = cost
        else:
            raise TypeError(
                "cost must be a whole number >= 1 or a function "
                f"cost(environ) -> int, got {cost!r}"
            )
        if not isinstance(scope, str) or _CONTROL.search(scope) or "/" in scope:
            raise ValueError(
                f"scope must be a str without '/' or control characters, got {scope!r}"
            )
        # The strategy is part of every key: a fixed window's counter and a
        # moving window's list under one key would break both (WRONGTYPE in
        # Redis), e.g. while a deploy changes the strategy.
        self._scope = f"{scope or 'wsgimw'}:{strategy}"
        self._policy = {
            id(item): f"{item.amount};w={item.get_expiry()}" for item in self._limits
        }
        self._shown = limit
        # Last: every other option is checked before a storage is built.
        self._deferred: tuple[str, dict[str, Any]] | None = None
        self._limiter: limits.strategies.RateLimiter | None = None
        built = self._make_storage(storage, storage_options)
        if built is not None:
            self._storage_name = type(built).__name__
            try:
                self._limiter = self._strategy(built)
            except NotImplementedError:
                raise ValueError(
                    f"the storage {self._storage_name} does not support "
                    f"strategy={strategy!r}; use 'fixed-window', or a Redis or "
                    "memory storage"
                ) from None

    # -- construction -------------------------------------------------------------

    @staticmethod
    def _parse_limits(limit: object) -> tuple[limits.RateLimitItem, ...]:
        if not isinstance(limit, str):
            raise TypeError(
                f"limit must be a str such as '100/minute' or '10/second; 1000/hour', got {limit!r}"
            )
        try:
            items = limits.parse_many(limit)
        except ValueError:
            raise ValueError(
                f"limit {limit!r} is not in the limits syntax: write "
                "'100/minute', '100 per minute', '5 per 10 seconds' or "
                "several separated by ';'"
            ) from None
        for item in items:
            if item.amount < 1:
                raise ValueError(
                    f"limit {limit!r}: each limit must allow at least 1 request"
                )
        return tuple(items)

    @staticmethod
    def _parse_key(key: object) -> tuple[str, KeyFunction | str]:
        if callable(key):
            return "function", key
        if not isinstance(key, str):
            raise TypeError(
                f"key must be a str or a function key(environ), got {key!r}"
            )
        if key in _KEYS:
            return key, key
        match = _HEADER_KEY.match(key)
        if match:
            name = match.group(1).upper().replace("-", "_")
            if name not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                name = "HTTP_" + name
            return "header", name
        raise ValueError(
            f"key must be 'client', 'user', 'global', 'header:NAME' (e.g. "
            f"'header:X-Api-Key') or a function key(environ), got {key!r}"
        )

    @staticmethod
    def _seconds(option: str, value: object, *, zero: bool = False) -> float:
        if type(value) not in (int, float) or not math.isfinite(value):  # type: ignore[arg-type]
            raise TypeError(f"{option} must be a number of seconds, got {value!r}")
        seconds = float(value)  # type: ignore[arg-type]
        if seconds < 0 or (seconds == 0 and not zero):
            raise ValueError(f"{option} must be more than 0 seconds, got {value!r}")
        return seconds

    def _make_storage(
        self, storage: object, options: Mapping[str, Any] | None
    ) -> limits.storage.Storage | None:
        """The storage; None when it could not be reached to be built (Redis
        Cluster connects at once): it is built at a later request then."""
        if isinstance(storage, limits.storage.Storage):
            if options:
                raise ValueError(
                    "storage_options are for a storage given by URI; this "
                    "storage is already built"
                )
            return storage
        if not isinstance(storage, str):
            raise TypeError(
                "storage must be a limits storage URI such as 'memory://' or "
                f"'redis://localhost:6379', or a limits.storage.Storage; got {storage!r}"
            )
        scheme = urlsplit(storage).scheme
        if scheme.startswith("async+"):
            raise ValueError(
                f"storage {scheme}:// is for asyncio; WSGI is synchronous: drop 'async+'"
            )
        if options is not None and not isinstance(options, Mapping):
            raise TypeError(f"storage_options must be a dict, got {options!r}")
        merged = {**_storage_timeouts(scheme, self._timeout), **(options or {})}
        try:
            built = limits.storage.storage_from_string(storage, **merged)
        except (TypeError, ValueError):
            raise  # a wrong storage option: loud, now
        except limits.errors.ConfigurationError as error:
            known = "memory://, redis://, rediss://, redis+sentinel://, redis+cluster://, memcached://"
            raise ValueError(
                f"storage scheme {scheme + '://'!r} cannot be used ({_safe(str(error).split(':')[0])}); "
                f"known schemes include {known}, and the storage's client "
                "library must be installed"
            ) from None
        except Exception as error:  # unreachable now: try again per request
            self._storage_name = f"{scheme}:// storage"
            self._deferred = (storage, merged)
            self._storage_failed(error, "it is built at the next request")
            return None
        assert isinstance(built, limits.storage.Storage)  # async+ refused above
        return built

    def _connect(self) -> limits.strategies.RateLimiter:
        """Build the storage that could not be reached at construction."""
        with self._lock:
            if self._limiter is None:
                assert self._deferred is not None
                uri, options = self._deferred
                storage = limits.storage.storage_from_string(uri, **options)
                self._limiter = self._strategy(storage)
            return self._limiter

    def __repr__(self) -> str:
        key = (
            self._key
            if isinstance(self._key, str)
            else getattr(self._key, "__name__", "function")
        )
        return f"RateLimit({self._shown!r}, key={key!r}, storage={self._storage_name})"

    # -- per request ----------------------------------------------------------------

    def _identity(self, environ: Environ) -> str | None:
        kind = self._key_kind
        if kind == "client":
            return "client:" + str(environ.get("REMOTE_ADDR", ""))
        if kind == "global":
            return "global"
        if kind == "user":
            user: str | None = environ.get("REMOTE_USER")
            if user:
                return _keyed("user", user)
            return "client:" + str(environ.get("REMOTE_ADDR", ""))
        if kind == "header":
            assert isinstance(self._key, str)
            header: str | None = environ.get(self._key)
            if header:
                return "header#" + _hashed(header)  # an API key is a secret
            return "client:" + str(environ.get("REMOTE_ADDR", ""))
        assert callable(self._key)
        found = self._key(environ)
        if found is None:
            return None
        if not isinstance(found, str):
            raise TypeError(
                f"the key function returned {found!r}; it must return a str or None"
            )
        return _keyed("key", found)

    def _exempt(self, environ: Environ) -> bool:
        path = environ.get("PATH_INFO", "")
        if path in self._exempt_exact:
            return True
        return path.startswith(self._exempt_prefixes) and not (
            "/." in path or "//" in path or "\\" in path
        )

    def _storage_failed(self, error: Exception, consequence: str = "") -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last_warning < self._log_interval:
                return
            self._last_warning = now
        self._logger.warning(
            "rate limit storage %s failed (%s: %s); %s until it answers",
            self._storage_name,
            type(error).__name__,
            _safe(str(error)),
            consequence
            or ("requests pass unlimited" if self._fail_open else "requests get 503"),
        )

    def _headers_for(
        self, item: limits.RateLimitItem, stats: limits.WindowStats, now: float
    ) -> Headers:
        reset = _seconds_left(item, stats, now, least=0)
        return [
            ("RateLimit-Limit", str(item.amount)),
            ("RateLimit-Remaining", str(max(0, stats.remaining))),
            ("RateLimit-Reset", str(reset)),
            ("RateLimit-Policy", self._policy[id(item)]),
        ]

    def _tightest(
        self, limiter: limits.strategies.RateLimiter, identity: str
    ) -> Headers | None:
        """The headers of the limit with the fewest requests left (None when
        the storage cannot say: the request was allowed all the same)."""
        now = time.time()
        best: tuple[limits.RateLimitItem, limits.WindowStats] | None = None
        try:
            for item in self._limits:
                stats = limiter.get_window_stats(item, self._scope, identity)
                if best is None or stats.remaining < best[1].remaining:
                    best = item, stats
        except Exception as error:
            self._storage_failed(
                error, "allowed responses go without RateLimit headers"
            )
            return None
        assert best is not None  # parse_many returns at least one
        return self._headers_for(*best, now)

    def __call__(self, app: WSGIApp) -> WSGIApp:
        items = self._limits
        scope = self._scope
        fixed_cost = self._cost if isinstance(self._cost, int) else None
        cost_of = None if fixed_cost is not None else self._cost
        exempt = self._exempt_exact or self._exempt_prefixes
        identity_of = self._identity
        with_headers = self._headers

        def rate_limited(
            environ: Environ, start_response: StartResponse
        ) -> Iterable[bytes]:
            if exempt and self._exempt(environ):
                return app(environ, start_response)
            identity = identity_of(environ)
            if identity is None:
                return app(environ, start_response)
            if fixed_cost is None:
                assert callable(cost_of)
                cost = cost_of(environ)
                if type(cost) is not int or cost < 0:
                    raise TypeError(
                        f"the cost function returned {cost!r}; it must return a whole number >= 0"
                    )
                if cost == 0:
                    return app(environ, start_response)
            else:
                cost = fixed_cost
            limiter = self._limiter
            try:
                if limiter is None:
                    limiter = self._connect()
                refused = None
                for item in items:
                    if not limiter.hit(item, scope, identity, cost=cost):
                        refused = item
                        break
            except Exception as error:  # the storage failed: never a 500
                self._storage_failed(error)
                if self._fail_open:
                    return app(environ, start_response)
                return plain_response(
                    environ,
                    start_response,
                    "503 Service Unavailable",
                    "The rate limit cannot be checked right now; try again shortly.\n",
                    [("Retry-After", "1")],
                )
            if refused is not None:
                return self._refuse(environ, start_response, limiter, refused, identity)
            added = self._tightest(limiter, identity) if with_headers else None
            if added is None:
                return app(environ, start_response)
            extra = added

            def add_headers(status: str, headers: Headers) -> tuple[str, Headers]:
                present = {name.lower() for name, _ in headers}
                if "ratelimit-limit" in present:
                    return status, headers  # the app's own say wins
                return status, headers + extra

            return app(environ, rewrite_start_response(start_response, add_headers))

        return rate_limited

    def _refuse(
        self,
        environ: Environ,
        start_response: StartResponse,
        limiter: limits.strategies.RateLimiter,
        item: limits.RateLimitItem,
        identity: str,
    ) -> list[bytes]:
        now = time.time()
        try:
            stats = limiter.get_window_stats(item, self._scope, identity)
        except Exception as error:  # refused all the same: assume a whole window
            self._storage_failed(
                error, "refused requests are told to wait a whole window"
            )
            stats = limits.WindowStats(now + item.get_expiry(), 0)
        headers = self._headers_for(item, stats, now)
        retry = _seconds_left(item, stats, now, least=1)
        return plain_response(
            environ,
            start_response,
            "429 Too Many Requests",
            f"Too many requests; retry in {retry} s.\n",
            [("Retry-After", str(retry)), *headers],
        )
