"""Rules on EventBridge Scheduler schedules: retries and an encrypted DLQ, a role that only starts its target, a stated time zone.

Each rule is a frozen dataclass: `id`, `title` and `rationale` are class constants, the
fields are its parameters (with the defaults `DEFAULT_RULES` uses), and `check(stack)`
returns one `Violation` per offending resource and reason (see `_policy_rules`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ._policy_core import Violation
from ._policy_iam import action_matches
from ._policy_view import KMS_KEY, QUEUE, ROLE, SCHEDULE, StackView, _arn_service, _number, get
from .harness import RecordedResource, RecordedStack

#: The action a schedule's role needs to start a templated target, by the target ARN's service.
START_ACTIONS: dict[str, str] = {
    "states": "states:StartExecution",
    "lambda": "lambda:InvokeFunction",
    "sqs": "sqs:SendMessage",
    "sns": "sns:Publish",
    "events": "events:PutEvents",
    "kinesis": "kinesis:PutRecord",
    "sagemaker": "sagemaker:StartPipelineExecution",
    "ecs": "ecs:RunTask",
}

#: What the role may do with the DLQ's KMS key (Scheduler sends to the DLQ as the role).
_KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")


class _ScheduleRule:
    resource_types: ClassVar[tuple[str, ...]] = (SCHEDULE,)

    def checked(self, stack: RecordedStack) -> int:
        """How many schedules the rule examined."""
        return len(StackView.of(stack).of_type(SCHEDULE))


def start_action(target_arn: Any) -> str | None:
    """The IAM action that starts `target_arn`: a templated target by its service, a universal
    target (`arn:aws:scheduler:::aws-sdk:sfn:startExecution`) by its API (`states:StartExecution`)."""
    if not isinstance(target_arn, str):
        return None
    if ":aws-sdk:" in target_arn:
        service, _, api = target_arn.split(":aws-sdk:", 1)[1].partition(":")
        service = {"sfn": "states"}.get(service, service)
        return f"{service}:{api[:1].upper()}{api[1:]}" if api else None
    return START_ACTIONS.get(_arn_service(target_arn))


def _shown(retry: dict[str, Any]) -> str:
    """A retry policy as written (the engine hands integers over as floats)."""
    shown = {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in retry.items()}
    return repr(shown or None)


@dataclass(frozen=True)
class SchedulesHandleFailures(_ScheduleRule):
    id: ClassVar[str] = "SCH001"
    title: ClassVar[str] = "Every schedule has an explicit retry policy and an encrypted SQS dead-letter queue"
    rationale: ClassVar[str] = (
        "Scheduler retries a failed start (by default 185 times over 24 hours) and then drops the "
        "invocation: a yearly rollover that never started is noticed in January. target.retry_policy "
        "with maximum_retry_attempts and maximum_event_age_in_seconds, and target.dead_letter_config "
        "naming an SQS queue of the stack encrypted at rest (it holds the invocation's input)."
    )

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView.of(stack)
        out = []
        for s in view.of_type(SCHEDULE):
            target = s.inputs.get("target") or {}
            problems = []
            retry = target.get("retryPolicy") or {}
            attempts, age = _number(retry.get("maximumRetryAttempts")), _number(retry.get("maximumEventAgeInSeconds"))
            if attempts is None or not 0 <= attempts <= 185 or age is None or not 60 <= age <= 86400:
                problems.append(
                    f"retry_policy is {_shown(retry)}; set maximum_retry_attempts (0..185) and maximum_event_age_in_seconds (60..86400)"
                )
            dlq_arn = get(target, "deadLetterConfig", "arn")
            queue = view.find(QUEUE, dlq_arn)
            if not dlq_arn:
                problems.append("no dead_letter_config")
            elif queue is None:
                problems.append(f"dead-letter queue {dlq_arn!r} is not an SQS queue of this stack")
            elif queue.inputs.get("sqsManagedSseEnabled") is not True and not queue.inputs.get("kmsMasterKeyId"):
                problems.append(f"dead-letter queue {queue.name!r} is not encrypted")
            if problems:
                out.append(Violation.of(self.id, s, "; ".join(problems)))
        return out


@dataclass(frozen=True)
class ScheduleRolesScoped(_ScheduleRule):
    id: ClassVar[str] = "SCH002"
    title: ClassVar[str] = "A schedule's role can only start its target (and reach its DLQ)"
    rationale: ClassVar[str] = (
        "Scheduler acts as the schedule's role (target.role_arn) to start the target and to send failed "
        "invocations to the DLQ. The role is declared in the stack, may start the target (e.g. "
        "states:StartExecution on the state machine's ARN) and allows nothing else but sqs:SendMessage on "
        "the DLQ and kms:GenerateDataKey/kms:Decrypt on the DLQ's (or the schedule's) key, with no wildcard."
    )

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView.of(stack)
        out = []
        for s in view.of_type(SCHEDULE):
            target = s.inputs.get("target") or {}
            role = view.find(ROLE, target.get("roleArn"))
            if role is None:
                out.append(Violation.of(self.id, s, f"role {target.get('roleArn')!r} is not a role declared in this stack"))
                continue
            problems = self._problems(view, s, role, target)
            if problems:
                out.append(Violation.of(self.id, s, "; ".join(problems)))
        return out

    @staticmethod
    def _problems(view: StackView, schedule: RecordedResource, role: RecordedResource, target: dict[str, Any]) -> list[str]:
        target_arn, action = target.get("arn"), start_action(target.get("arn"))
        universal = isinstance(target_arn, str) and ":aws-sdk:" in target_arn
        dlq = get(target, "deadLetterConfig", "arn")
        queue = view.find(QUEUE, dlq)
        keys = {
            k for k in (schedule.inputs.get("kmsKeyArn"), queue.inputs.get("kmsMasterKeyId") if queue else None) if isinstance(k, str) and k
        }
        keys |= {str(key.state["arn"]) for k in list(keys) if (key := view.find(KMS_KEY, k)) is not None and key.state.get("arn")}
        granted: list[tuple[str, set[str] | None]] = []  # (action, resources it may take; None: any one named without a wildcard)
        if action:
            granted.append((action, None if universal else {str(target_arn), f"{target_arn}:*"}))
        if dlq:
            granted.append(("sqs:SendMessage", {str(dlq)}))
        granted += [(a, keys) for a in _KEY_ACTIONS if keys]
        problems = []
        starts = False
        for doc, st in view.allow_statements(role):
            where = f"role {role.name!r} {doc.where}: {st.label}"
            if st.not_actions is not None or st.not_resources is not None:
                problems.append(f"{where} uses NotAction/NotResource")
                continue
            for a in st.actions:
                if "*" in a or "?" in a:
                    problems.append(f"{where} allows wildcard action {a!r}")
                    continue
                grant = next((g for g in granted if action_matches(g[0], a)), None)
                if grant is None:
                    problems.append(f"{where} allows {a!r}, which starting {target_arn!r} does not need")
                    continue
                may = grant[1]
                extra = [r for r in st.resources if ("*" in r or "?" in r) if may is None] + [
                    r for r in st.resources if may is not None and r not in may
                ]
                if extra:
                    problems.append(f"{where} allows {a!r} on {extra}, not only {sorted(may) if may is not None else 'named resources'}")
                if action and action_matches(action, a) and not extra:
                    starts = True
        if action and not starts:
            problems.append(f"role {role.name!r} does not allow {action} on {target_arn!r}: the schedule cannot start its target")
        elif not action:
            problems.append(f"target {target_arn!r} is not one whose start action the rule knows")
        return problems


@dataclass(frozen=True)
class CronSchedulesZoned(_ScheduleRule):
    id: ClassVar[str] = "SCH003"
    title: ClassVar[str] = "Every cron schedule states its time zone"
    rationale: ClassVar[str] = (
        "A cron expression without schedule_expression_timezone runs in UTC: the yearly rollover at "
        "`cron(0 0 1 1 ? *)` would run at 01:00 in Paris and on 31 December in New York. Stating the "
        "zone (even `UTC`) also makes daylight-saving time explicit; rate() and at() need none."
    )

    def check(self, stack: RecordedStack) -> list[Violation]:
        return [
            Violation.of(self.id, s, f"{s.inputs.get('scheduleExpression')} has no schedule_expression_timezone")
            for s in StackView.of(stack).of_type(SCHEDULE)
            if str(s.inputs.get("scheduleExpression", "")).startswith("cron(")
            and not str(s.inputs.get("scheduleExpressionTimezone") or "").strip()
        ]
