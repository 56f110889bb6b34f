"""Every Prometheus object of the server, in one place.

Names follow the user's guide (`events_total`, `errors_total`,
`request_duration_seconds`, `db_query_duration_seconds`, `active_connections`).
Label values come from small fixed sets: never a student, notebook or event id.
With several workers, set PROMETHEUS_MULTIPROC_DIR so /metrics adds them up.
"""

from __future__ import annotations

from enum import Enum

from prometheus_client import Counter, Gauge, Histogram

from cell_monitor.contract.events import KNOWN_EVENT_TYPES


class LabelValue(str, Enum):
    """A label value of a fixed set; str() is the bare value, as prometheus_client writes it."""

    def __str__(self) -> str:
        return str(self.value)


class ErrorType(LabelValue):
    """The `error_type` label values of ERRORS."""

    malformed_json = "malformed_json"
    invalid_events = "invalid_events"
    payload_too_large = "payload_too_large"
    storage_unavailable = "storage_unavailable"
    overloaded = "overloaded"
    hub_unavailable = "hub_unavailable"
    internal = "internal"


EVENTS = Counter("events", "Events stored, by event type", ["event_type"])
# Server-side failures by kind (see ErrorType); student cell errors are counted
# in CELL_EXECUTIONS, not here.
ERRORS = Counter("errors", "Errors while serving requests, by kind", ["error_type"])
DUPLICATES = Counter("events_duplicate", "Events received again and not stored twice")
REJECTED = Counter("events_rejected", "Events rejected by validation")
TRUNCATED = Counter("events_truncated", "Stored events whose long text was shortened")
CLOCK_ADJUSTED = Counter(
    "events_clock_adjusted",
    "Stored events dated later than their receipt (plus CELL_MONITOR_CLOCK_SKEW_SECONDS), "
    "stored at the receipt time",
)
CELL_EXECUTIONS = Counter("cell_executions", "Stored cell executions, by outcome", ["outcome"])

REQUEST_DURATION = Histogram(
    "request_duration_seconds",
    "HTTP request duration",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DB_QUERY_DURATION = Histogram(
    "db_query_duration_seconds",
    "Database statement duration",
    ["operation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
SLOW_QUERIES = Counter("db_slow_queries", "Statements slower than the slow-query threshold")
ACTIVE_CONNECTIONS = Gauge(
    "active_connections",
    "Open client connections (HTTP requests in flight, WebSockets)",
    ["kind"],
    multiprocess_mode="livesum",
)

COMMIT_GROUP_EVENTS = Histogram(
    "commit_group_events",
    "Events written per group-commit transaction",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000),
)
COMMIT_DURATION = Histogram(
    "commit_duration_seconds",
    "Duration of one group-commit transaction",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
COMMIT_QUEUE_EVENTS = Gauge(
    "commit_queue_events",
    "Events waiting for their group commit",
    multiprocess_mode="livesum",
)

BROKER_PUBLISHED = Counter("broker_published_messages", "Live messages published to the broker")
BROKER_DROPPED = Counter(
    "broker_dropped_messages", "Live messages not published (broker away or backlog full)"
)
BROKER_CONNECTED = Gauge(
    "broker_connected", "1 while the Redis subscription is up", multiprocess_mode="livemin"
)
DASHBOARD_MESSAGES = Counter("dashboard_messages", "Messages sent to dashboard WebSockets")
DASHBOARD_RESYNCS = Counter(
    "dashboard_resyncs", "Snapshots re-sent because a dashboard fell behind or missed messages"
)
DASHBOARD_CLOSED = Counter(
    "dashboard_closed", "Dashboard connections closed by the server, by reason", ["reason"]
)


def event_type_label(event_type: str) -> str:
    """Known types as themselves, anything else as `other` (bounded label set)."""
    return event_type if event_type in KNOWN_EVENT_TYPES else "other"


def sql_operation(statement: str) -> str:
    """The statement's verb, as a low-cardinality label."""
    verb = statement.lstrip().split(None, 1)[0].lower() if statement.strip() else "other"
    return verb if verb in {"select", "insert", "update", "delete", "with"} else "other"


# The InfluxDB sink. Lag gauges take the largest value over live workers: only
# the leading worker writes, the others report 0.
INFLUX_POINTS_WRITTEN = Counter("influx_points_written", "Points written to InfluxDB")
INFLUX_POINTS_DROPPED = Counter(
    "influx_points_dropped", "Points InfluxDB refused as malformed or conflicting (skipped)"
)
# kind: unavailable, unauthorized, forbidden, not_found, too_large, rejected,
# error (the `kind` of the exceptions in cell_monitor/sinks/influx_api.py).
INFLUX_WRITE_ERRORS = Counter(
    "influx_write_errors", "Failed InfluxDB requests of the sink, by kind", ["kind"]
)
INFLUX_WRITE_DURATION = Histogram(
    "influx_write_duration_seconds",
    "Duration of one InfluxDB write request",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
INFLUX_LAG_EVENTS = Gauge(
    "influx_sink_lag_events",
    "Committed events not yet written to InfluxDB",
    multiprocess_mode="livemax",
)
INFLUX_LAG_SECONDS = Gauge(
    "influx_sink_lag_seconds",
    "Age of the oldest committed event not yet written to InfluxDB",
    multiprocess_mode="livemax",
)
INFLUX_SINK_LEADER = Gauge(
    "influx_sink_leader",
    "1 in the worker that drives the InfluxDB sink",
    multiprocess_mode="livesum",
)

# Security: refused ingest requests (reason: missing, malformed, invalid,
# revoked), requests refused by a rate limit (limit: ingest, login,
# ws_connections) and logins (outcome: success, failure, rate_limited).
INGEST_AUTH_FAILURES = Counter(
    "ingest_auth_failures",
    "POST /api/v1/events refused for its ingest token, by reason",
    ["reason"],
)
RATE_LIMITED = Counter("rate_limited", "Requests refused by a rate limit, by limit", ["limit"])
LOGINS = Counter("logins", "Instructor login attempts, by outcome", ["outcome"])
MESSAGES_SENT = Counter(
    "messages_sent", "Messages instructors sent to students, by audience kind", ["kind"]
)
MESSAGE_RECIPIENTS = Counter("message_recipients", "Students messages were addressed to")


# Identity bound by the credential (hub token or per-student credential):
# events whose body claimed another student, and what was done with them
# (action: overwritten — stored under the credential's student).
INGEST_IDENTITY_MISMATCH = Counter(
    "ingest_identity_mismatch",
    "Events whose body claimed another student than their credential names, by action",
    ["action"],
)
# Hub sign-ins (outcome: success, forbidden, failure) and hub token lookups
# (outcome: cached, valid, invalid, unavailable).
HUB_LOGINS = Counter("hub_logins", "Sign-ins through JupyterHub, by outcome", ["outcome"])
HUB_TOKEN_LOOKUPS = Counter(
    "hub_token_lookups", "Hub tokens presented at ingest, by outcome", ["outcome"]
)

# The return path: help requests and the students' inbox long-polls.
HELP_OPEN = Gauge(
    "help_requests_open",
    "Open help requests (all workers read the same database), by state",
    ["state"],
    multiprocess_mode="livemax",
)
HELP_WAIT_MEDIAN = Gauge(
    "help_wait_median_seconds",
    "Median wait for an answer of the help requests asked today (UTC)",
    multiprocess_mode="livemax",
)
HELP_WAIT_LONGEST = Gauge(
    "help_wait_longest_seconds",
    "Longest wait of today's help requests (UTC), those still waiting included",
    multiprocess_mode="livemax",
)
HELP_ANSWER_WAIT = Histogram(
    "help_answer_wait_seconds",
    "Wait from a help request to its first answer (claim or dismissal)",
    buckets=(15, 30, 60, 120, 300, 600, 900, 1800, 3600),
)
HELP_ACTIONS = Counter("help_actions", "Instructors' actions on help requests", ["action"])
INBOX_WAITING = Gauge(
    "inbox_waiting_polls",
    "Students' inbox long-polls held open",
    multiprocess_mode="livesum",
)
INBOX_WAKEUPS = Counter("inbox_wakeups", "Inbox long-polls woken by a change")
INBOX_ANSWERS = Counter("inbox_answers", "Inbox long-poll answers, by outcome", ["outcome"])

# Every label value declared up front: /metrics shows each series from the start
# (at 0), so a rate() or an alert sees the first error instead of a new series.
LABEL_VALUES: dict[Counter, tuple[str, ...]] = {
    EVENTS: (*sorted(KNOWN_EVENT_TYPES), "other"),
    ERRORS: tuple(ErrorType),
    CELL_EXECUTIONS: ("ok", "error"),
    DASHBOARD_CLOSED: ("send_timeout", "heartbeat_timeout"),
    INFLUX_WRITE_ERRORS: (
        "unavailable",
        "unauthorized",
        "forbidden",
        "not_found",
        "too_large",
        "rejected",
        "error",
    ),
    INGEST_AUTH_FAILURES: ("missing", "malformed", "invalid", "revoked"),
    RATE_LIMITED: ("ingest", "login", "ws_connections", "inbox", "help_actions", "messages"),
    MESSAGES_SENT: ("students", "team", "class", "hotspot", "stuck", "cluster"),
    LOGINS: ("success", "failure", "rate_limited"),
    INGEST_IDENTITY_MISMATCH: ("overwritten",),
    HUB_LOGINS: ("success", "forbidden", "failure"),
    HUB_TOKEN_LOOKUPS: ("valid", "invalid", "unavailable"),
    HELP_ACTIONS: ("claim", "release", "dismiss"),
    INBOX_ANSWERS: ("changed", "unchanged", "refused"),
}


def _declare_label_values() -> None:
    for counter, values in LABEL_VALUES.items():
        for value in values:
            counter.labels(str(value))


_declare_label_values()
