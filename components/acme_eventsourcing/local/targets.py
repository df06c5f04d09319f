"""Rule targets: moto matches, the local stack delivers, with both layers of retries.

On AWS a rule with a Lambda target works in two steps, and the local stack keeps both:
1. EventBridge delivers the matched event to Lambda (an asynchronous invoke). The
   target's retry policy and dead-letter queue cover THIS step: throttling, a missing
   function, missing permissions. Locally the rule's target is a local SQS queue moto
   delivers into (so moto does the pattern matching); a drainer hands each event to the
   function's asynchronous queue. A target whose function is not declared fails delivery
   with `ResourceNotFoundException`, which EventBridge does not retry: the event goes to
   the target's DLQ with the attributes EventBridge sets (RULE_ARN, TARGET_ARN,
   ERROR_CODE, ERROR_MESSAGE, EXHAUSTED_RETRY_CONDITION, RETRY_ATTEMPTS).
2. Lambda runs the function from its asynchronous queue. A function error is retried
   per the function's `FunctionEventInvokeConfig` (default 2 retries, maximum event age),
   then sent to its on-failure destination (a Lambda destination record with
   `requestPayload`) or to the function's DLQ (the bare event), or else dropped (logged).
Retries here wait `Delays.retry(n)` (AWS waits about a minute, then two).

A Step Functions target (the standard one, with a role) works the same way up to step 1:
the drainer starts an execution of the state machine with the event as its input
(`StartExecution`, moto's interpreter runs it); a state machine that does not exist fails
delivery like a missing function (ResourceNotFoundException or StateMachineDoesNotExist,
not retried, to the target's DLQ).
"""

from __future__ import annotations

import heapq
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from .functions import FunctionRuntime, Invocation
from .model import FunctionDecl, TargetDecl
from .streams import Delays


@dataclass(order=True)
class _Pending:
    due: float
    seq: int
    event: dict[str, Any] = field(compare=False)
    trigger: str = field(compare=False)
    received: float = field(compare=False)
    attempts: int = field(compare=False, default=0)


class AsyncInvoker:
    """Lambda's asynchronous invocation queue for one function, with worker threads."""

    def __init__(
        self,
        function: FunctionDecl,
        *,
        runtime: FunctionRuntime,
        send: Callable[[str, str, dict[str, Any]], None],  # (queue name, body, message attributes)
        workers: int,
        delays: Delays,
        stop: threading.Event,
        on_error: Callable[[str], None],
    ) -> None:
        self.function = function
        self.runtime = runtime
        self.send = send
        self.delays = delays
        self.stop_event = stop
        self.on_error = on_error
        self._heap: list[_Pending] = []
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._busy = 0
        self.threads = [threading.Thread(target=self._work, name=f"async:{function.logical}:{i}", daemon=True) for i in range(workers)]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def submit(self, event: dict[str, Any], trigger: str) -> None:
        now = time.time()
        self._push(_Pending(due=now, seq=next(self._seq), event=event, trigger=trigger, received=now))

    def idle(self) -> bool:
        """Nothing queued, nothing running (retries pending count as not idle)."""
        with self._cond:
            return not self._heap and not self._busy

    def _push(self, item: _Pending) -> None:
        with self._cond:
            heapq.heappush(self._heap, item)
            self._cond.notify()

    def _work(self) -> None:
        while not self.stop_event.is_set():
            with self._cond:
                while not self.stop_event.is_set() and (not self._heap or self._heap[0].due > time.time()):
                    self._cond.wait(timeout=(self._heap[0].due - time.time()) if self._heap else None)
                if self.stop_event.is_set():
                    return
                item = heapq.heappop(self._heap)
                self._busy += 1
            try:
                self._run(item)
            finally:
                with self._cond:
                    self._busy -= 1

    def _run(self, item: _Pending) -> None:
        trigger = item.trigger if not item.attempts else f"{item.trigger} (retry {item.attempts})"
        invocation = self.runtime.invoke(self.function.logical, item.event, trigger=trigger)
        if invocation.ok:
            return
        item.attempts += 1
        age = time.time() - item.received
        if item.attempts > self.function.retry_attempts or age > self.function.max_event_age_s:
            condition = "RetriesExhausted" if item.attempts > self.function.retry_attempts else "EventAgeExceeded"
            self._fail(item, invocation, condition)
            return
        item.due = time.time() + self.delays.retry(item.attempts)
        self._push(item)

    def _fail(self, item: _Pending, invocation: Invocation, condition: str) -> None:
        fn = self.function
        if fn.on_failure is None:
            self.on_error(
                f"{fn.logical}: event {item.event.get('id')} DROPPED after {item.attempts} attempt(s) ({condition}): "
                "no on-failure destination or DLQ declared"
            )
            return
        if fn.on_failure_kind == "destination":
            body = {
                "version": "1.0",
                "timestamp": _now_iso(),
                "requestContext": {
                    "requestId": invocation.request_id,
                    "functionArn": f"{fn.arn}:$LATEST",
                    "condition": condition,
                    "approximateInvokeCount": item.attempts,
                },
                "requestPayload": item.event,
                "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
                "responsePayload": {
                    "errorMessage": invocation.error_message,
                    "errorType": invocation.error_type,
                    "requestId": invocation.request_id,
                },
            }
            self.send(fn.on_failure, json.dumps(body), {})
        else:
            attrs = {
                "RequestID": invocation.request_id,
                "ErrorCode": "200",
                "ErrorMessage": f"{invocation.error_type}: {invocation.error_message}"[:256],
            }
            self.send(fn.on_failure, json.dumps(item.event), attrs)
        self.on_error(f"{fn.logical}: event {item.event.get('id')} failed {item.attempts} time(s) ({condition}); sent to {fn.on_failure}")


class TargetDrainer(threading.Thread):
    """Drains the local queue moto fills for one Lambda target into the function's async queue."""

    def __init__(
        self,
        target: TargetDecl,
        *,
        queue_url: str,
        sqs_client: Any,
        invoker: AsyncInvoker | None,
        send: Callable[[str, str, dict[str, Any]], None],
        stop: threading.Event,
        on_error: Callable[[str], None],
        start_execution: Callable[[str, str], str] | None = None,  # (state machine ARN, input) -> execution ARN
    ) -> None:
        super().__init__(name=f"target:{target.logical}", daemon=True)
        self.start_execution = start_execution
        self.target = target
        self.queue_url = queue_url
        self.sqs = sqs_client
        self.invoker = invoker
        self.send = send
        self.stop_event = stop
        self.on_error = on_error
        self._in_hand = 0
        self._lock = threading.Lock()

    def run(self) -> None:
        try:
            while not self.stop_event.is_set():
                messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
                with self._lock:
                    self._in_hand = len(messages)
                for message in messages:
                    self._deliver(json.loads(message["Body"]))
                    self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
                with self._lock:
                    self._in_hand = 0
        except Exception as exc:
            if not self.stop_event.is_set():
                self.on_error(f"target {self.target.logical} stopped: {type(exc).__name__}: {exc}")
                raise

    def in_hand(self) -> int:
        with self._lock:
            return self._in_hand

    def _deliver(self, event: dict[str, Any]) -> None:
        if self.invoker is not None:
            self.invoker.submit(event, trigger=f"rule {self.target.rule.logical}: {event.get('detail-type')}")
            return
        if self.start_execution is not None:
            try:
                self.start_execution(self.target.arn, json.dumps(event))
                return
            except ClientError as exc:  # a missing state machine: EventBridge does not retry that
                error = exc.response.get("Error", {})
                self._undeliverable(event, error.get("Code") or "Error", error.get("Message") or str(exc), "state machine")
                return
        # Delivery fails: the target's function does not exist. EventBridge does not retry that.
        self._undeliverable(event, "ResourceNotFoundException", f"Function not found: {self.target.arn}", "function")

    def _undeliverable(self, event: dict[str, Any], code: str, message: str, what: str) -> None:
        t = self.target
        attrs = {
            "RULE_ARN": t.rule.arn,
            "TARGET_ARN": t.arn,
            "ERROR_CODE": code,
            "ERROR_MESSAGE": message[:256],
            "EXHAUSTED_RETRY_CONDITION": "",
            "RETRY_ATTEMPTS": "0",
        }
        if t.dead_letter_queue:
            self.send(t.dead_letter_queue, json.dumps(event), attrs)
        self.on_error(
            f"target {t.logical}: {what} {t.arn}: {code}; event {event.get('id')} "
            + (f"sent to {t.dead_letter_queue}" if t.dead_letter_queue else "DROPPED (no DLQ)")
        )


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
